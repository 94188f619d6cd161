"""The paper's transfer rules (section 4), one test each, plus the random init and the report."""
import json

import torch

import checkpoint_fixtures as F
from vitdet_bench.checkpoint import LoadReport, init_random, load_pretrained
from vitdet_bench.layers import resize_abs_pos_embed, resize_rel_pos_table


def _detector_like_vit(**kw):
    # Benchmarking layout: windowed blocks + global blocks, shared rel-pos tables, 448 input
    # (28x28 grid, 14x14 windows; block 0 windowed, block 1 global): both tables exist and the global one needs a resize.
    args = dict(img_size=448, attention_strategy=None, window_block_indexes=(0,), rel_pos="shared",
                window_size=14)
    args.update(kw)
    return F.our_vit(**args)


def test_beit_rel_bias_transfer_and_resize(tmp_path):
    ref = F.make_beit(tmp_path / "beit.pth")
    src = ref.rel_pos_bias.relative_position_bias_table.detach()[:-3]  # drop the 3 cls rows
    net = _detector_like_vit(layer_scale_init_value=0.1, use_abs_pos=True)
    net.window_rel_pos_bias.relative_position_bias_table.data.fill_(7.0)
    rep = load_pretrained(net, tmp_path / "beit.pth", strict_architecture=False)
    # window table: 14x14 -> 14x14, copied as is.
    assert torch.equal(net.window_rel_pos_bias.relative_position_bias_table.detach(), src)
    # global table: 14x14 -> 28x28 by bicubic interpolation of the (2h-1)x(2w-1) table.
    want = resize_rel_pos_table(src, (14, 14), (28, 28))
    assert torch.allclose(net.global_rel_pos_bias.relative_position_bias_table.detach(), want)
    assert ("global_rel_pos_bias.relative_position_bias_table", (729, 2), (55 * 55, 2)) in rep.resized
    assert any(k.endswith("[-3:]") and "class-token rows" in r for k, r in rep.ignored)
    # random absolute embedding, layer scale transferred, zero k bias.
    assert any(k == "pos_embed" and "trunc_normal" in how for k, how in rep.initialized)
    assert torch.equal(net.blocks[0].gamma_1.detach(), ref.blocks[0].gamma_1.detach())
    qkv_b = net.blocks[1].attn.qkv.bias.detach()
    assert torch.equal(qkv_b[:F.DIM], ref.blocks[1].attn.q_bias.detach())
    assert torch.equal(qkv_b[F.DIM:2 * F.DIM], torch.zeros(F.DIM))
    assert torch.equal(qkv_b[2 * F.DIM:], ref.blocks[1].attn.v_bias.detach())
    # the interpolation keeps offset 0 and the extreme offsets in place (align_corners=True)
    s = src.T.reshape(2, 27, 27)
    w = want.T.reshape(2, 55, 55)
    assert torch.allclose(w[:, 27, 27], s[:, 13, 13]) and torch.allclose(w[:, 0, 0], s[:, 0, 0])


def test_beit_per_block_tables_are_averaged(tmp_path):
    ref = F.make_beit(tmp_path / "beit_blocks.pth", shared=False)
    tables = [b.attn.relative_position_bias_table.detach()[:-3] for b in ref.blocks]
    net = F.our_vit(use_abs_pos=False, rel_pos="shared", layer_scale_init_value=0.1)
    rep = load_pretrained(net, tmp_path / "beit_blocks.pth")
    assert torch.allclose(net.global_rel_pos_bias.relative_position_bias_table.detach(),
                          torch.stack(tables).mean(0))
    assert sum("averaged over 2 blocks" in r for _, r in rep.ignored) == F.DEPTH


def test_others_zero_rel_bias_no_layer_scale(tmp_path):
    F.make_mae(tmp_path / "mae.pth")
    net = _detector_like_vit(rel_pos_init="random")
    rep = load_pretrained(net, tmp_path / "mae.pth")
    for table in (net.window_rel_pos_bias, net.global_rel_pos_bias):
        assert torch.count_nonzero(table.relative_position_bias_table) == 0
    how = dict(rep.initialized)
    assert "zeros" in how["window_rel_pos_bias.relative_position_bias_table"]
    assert "zeros" in how["global_rel_pos_bias.relative_position_bias_table"]
    assert net.blocks[0].gamma_1 is None  # the config has no layer scale; none in the file either
    # a model built with layer scale gets identity (1) so the pre-trained function is kept
    net2 = _detector_like_vit(layer_scale_init_value=0.1)
    load_pretrained(net2, tmp_path / "mae.pth")
    assert torch.equal(net2.blocks[1].gamma_2.detach(), torch.ones(F.DIM))


def test_abs_pos_interpolated_to_detection_grid(tmp_path):
    ref = F.make_mae(tmp_path / "mae.pth")
    net = _detector_like_vit()
    rep = load_pretrained(net, tmp_path / "mae.pth")
    src = ref.pos_embed.detach().reshape(1, 14, 14, F.DIM)
    want = resize_abs_pos_embed(src, (28, 28))  # bicubic 2-D interpolation
    assert torch.allclose(net.pos_embed.detach(), want)
    assert ("pos_embed", (1, 14, 14, F.DIM), (1, 28, 28, F.DIM)) in rep.resized
    assert ("pos_embed[:, :1]", "class-token position of the absolute embedding") in [
        (k, r.replace("position(s)", "position")) for k, r in rep.ignored]
    # a constant embedding stays constant; corners are interpolated, not extrapolated wildly
    const = resize_abs_pos_embed(torch.full((1, 14, 14, 4), 3.0), (28, 28))
    assert torch.allclose(const, torch.full_like(const, 3.0))


def test_ignored_keys_by_name(tmp_path):
    F.make_mae(tmp_path / "mae_vis.pth", visualize=True)
    rep = load_pretrained(F.our_vit(), tmp_path / "mae_vis.pth")
    ign = dict(rep.ignored)
    assert "MAE decoder" in ign["decoder_embed.weight"] and "MAE decoder" in ign["decoder_pos_embed"]
    assert "mask token" in ign["mask_token"] and "class token" in ign["cls_token"]
    # timm's avg-pool ViT stores the final norm as fc_norm (MAE's global_pool files too)
    assert "final norm" in ign.get("norm.weight", ign.get("fc_norm.weight", ""))
    F.make_beit(tmp_path / "beit.pth")
    rep = load_pretrained(F.our_vit(use_abs_pos=False, rel_pos="shared", layer_scale_init_value=0.1),
                          tmp_path / "beit.pth")
    ign = dict(rep.ignored)
    assert "BEiT masked-image-modeling head" in ign["lm_head.weight"]
    assert "index buffer" in ign["rel_pos_bias.relative_position_index"]
    assert not rep.unexpected


def test_loads_into_detector_backbone(tmp_path):
    F.make_deit(tmp_path / "deit.pth")
    net = F.our_vit()
    model = torch.nn.Module()
    model.backbone = torch.nn.Module()
    model.backbone.bottom_up = torch.nn.Module()
    model.backbone.bottom_up.net = net
    rep = load_pretrained(model, tmp_path / "deit.pth", format="supervised")
    assert rep.format == "supervised" and "blocks.0.attn.qkv.weight" in rep.loaded


def test_random_init_selected_explicitly():
    net = _detector_like_vit(rel_pos_init="random")
    rep = load_pretrained(net, "", format="random")
    assert rep.format == "random" and rep.path == "" and not rep.loaded
    w = net.blocks[0].mlp.fc1.weight
    bound = (6 / (w.shape[0] + w.shape[1])) ** 0.5  # xavier_uniform
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    assert torch.count_nonzero(net.blocks[0].mlp.fc1.bias) == 0
    assert torch.count_nonzero(net.global_rel_pos_bias.relative_position_bias_table) == 0
    assert 0.015 < net.pos_embed.std() < 0.025
    how = dict(rep.initialized)
    assert how["patch_embed.proj.weight"].startswith("xavier_uniform")
    assert isinstance(init_random(net), LoadReport)


def test_report_str_and_dict(tmp_path, capsys, caplog):
    F.make_mocov3(tmp_path / "moco.pth.tar")
    with caplog.at_level("INFO", logger="vitdet_bench"):
        rep = load_pretrained(F.our_vit(), tmp_path / "moco.pth.tar")
    printed = capsys.readouterr().out + caplog.text  # printed, or logged when logging is set up
    assert printed.count("format: mocov3") == 1
    assert "format: mocov3" in printed and "blocks.{0-1}.attn.qkv.weight" in printed
    d = json.loads(json.dumps(rep.to_dict()))
    assert set(d) == {"path", "format", "loaded", "resized", "initialized", "ignored", "unexpected",
                      "notes", "trusted_pickle"}
    assert d["trusted_pickle"] is False  # read by the safe reader, no opt-in

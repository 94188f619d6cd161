"""ConvMAE backbone, configs and checkpoint format (projects/ConvMAE)."""
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import vitdet_bench  # noqa: E402,F401
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from detectron2.config import LazyConfig, instantiate  # noqa: E402
from detectron2.modeling import BACKBONE_REGISTRY  # noqa: E402

import convmae  # noqa: E402
from convmae import ConvBlock, ConvMAE, design_kwargs  # noqa: E402
from convmae.checkpoint import (  # noqa: E402
    CheckpointError, LoadReport, convert_convmae, detect_convmae, load_convmae_checkpoint)

CFG = os.path.join(REPO, "projects", "ConvMAE", "configs")


def tiny(**kw):
    args = dict(img_size=64, embed_dims=(16, 24, 48), depths=(1, 1, 4), num_heads=4,
                mlp_ratios=(2, 2, 2), drop_path_rate=0.0, window_size=2,
                global_block_indexes=(0, 3))
    args.update(kw)
    torch.manual_seed(0)
    return ConvMAE(**args).eval()


@pytest.mark.parametrize("design", ["multiscale", "simple"])
def test_stage_shapes_1024(design):
    kw = design_kwargs(design)
    with torch.device("meta"):
        net = ConvMAE(img_size=1024, **{**kw, "out_features": ("s0", "s1", "s2", "s3")})
        out = net(torch.empty(1, 3, 1024, 1024))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "s0": (1, 256, 256, 256), "s1": (1, 384, 128, 128),
        "s2": (1, 768, 64, 64), "s3": (1, 768, 32, 32)}
    shapes = net.output_shape()
    assert {k: (s.channels, s.stride) for k, s in shapes.items()} == {
        "s0": (256, 4), "s1": (384, 8), "s2": (768, 16), "s3": (768, 32)}


def test_global_blocks_of_each_design():
    with torch.device("meta"):
        d1 = ConvMAE(**design_kwargs("multiscale"))
        d2 = ConvMAE(**design_kwargs("simple"))
    assert [i for i in range(11) if d1.is_global_block(i)] == [0, 3, 6, 10]
    assert [b.window_size for b in d1.blocks3] == [0, 16, 16, 0, 16, 16, 0, 16, 16, 16, 0]
    assert all(b.shift_size == 0 for b in d1.blocks3)
    assert [i for i in range(11) if d2.is_global_block(i)] == [1, 4, 7, 10]
    assert [b.window_size for b in d2.blocks3] == [14, 0, 14, 14, 0, 14, 14, 0, 14, 14, 0]
    # design 1: one shared table per kind; design 2: per-block decomposed
    assert d1.global_rel_pos_bias.size == (64, 64) and d1.window_rel_pos_bias.size == (16, 16)
    assert d2.global_rel_pos_bias is None and d2.blocks3[1].attn.rel_pos_h.shape == (127, 64)


def test_e4_is_maxpooled_e3_stride_32():
    net = tiny()
    out = net(torch.randn(2, 3, 64, 64))
    assert net.output_shape()["s3"].stride == 32
    assert out["s3"].shape[-2:] == (2, 2)
    torch.testing.assert_close(out["s3"], F.max_pool2d(out["s2"], 2))


def test_window_equal_to_grid_is_global_attention():
    a = tiny(window_size=4, global_block_indexes=())          # every block windowed, 4x4 grid
    b = tiny(window_size=4, global_block_indexes=(0, 1, 2, 3))  # every block global
    sd = a.state_dict()
    for name in list(sd):
        if name.startswith("window_rel_pos_bias.relative_position_bias_table"):
            sd[name.replace("window_", "global_")] = torch.randn_like(sd.pop(name))
    b.load_state_dict(sd, strict=False)
    a.window_rel_pos_bias.relative_position_bias_table.data.copy_(
        b.global_rel_pos_bias.relative_position_bias_table.data)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(a(x)["s2"], b(x)["s2"], rtol=1e-5, atol=1e-5)


def test_window_shift_option():
    a = tiny(window_size=2, global_block_indexes=(0,))
    b = tiny(window_size=2, global_block_indexes=(0,), window_shift=True)
    assert [blk.shift_size for blk in b.blocks3] == [0, 0, 1, 0]
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 64, 64)
    assert not torch.allclose(a(x)["s2"], b(x)["s2"])


def test_attention_strategies_set_global_and_checkpointed_blocks():
    layouts = {}
    for strategy in ("window", "window_global", "global_checkpoint", "global", None):
        net = tiny(attention_strategy=strategy)
        layouts[strategy] = ([i for i in range(4) if net.is_global_block(i)],
                             [i for i, b in enumerate(net.blocks3) if b.use_checkpoint])
    assert layouts == {"window": ([], []), "window_global": ([0, 3], []),
                       "global_checkpoint": ([0, 1, 2, 3], [0, 1, 2, 3]),
                       "global": ([0, 1, 2, 3], []), None: ([0, 3], [])}
    with pytest.raises(ValueError, match="global_ckpt.*window_global"):
        tiny(attention_strategy="global_ckpt")


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_checkpointed_stage3_same_outputs_and_gradients(use_sdpa, monkeypatch):
    """Checkpointing recomputes; nothing changes, the shared tables' gradients included.

    With a 16x16 grid (and the threshold lowered to 256 tokens) the CPU SDPA path is the query-blocked kernel whose global bias is
    a lazy (non-tensor) view of the table: the case a reentrant checkpoint would break.
    """
    import vitdet_bench.layers.attention as attention

    monkeypatch.setattr(attention, "CPU_CHUNKED_MIN_TOKENS", 256)
    kw = dict(img_size=256, window_size=8, use_sdpa=use_sdpa)
    ref = tiny(**kw).train()
    ckpt = tiny(**kw, checkpoint_block_indexes=(0, 1, 2, 3)).train()
    ckpt.load_state_dict(ref.state_dict())
    with torch.no_grad():  # non-zero tables so their gradients are tested for real
        for net in (ref, ckpt):
            torch.manual_seed(1)
            for t in (net.global_rel_pos_bias, net.window_rel_pos_bias):
                t.relative_position_bias_table.normal_(0, 0.5)
    x = torch.randn(1, 3, 256, 256)
    outs = [net(x) for net in (ref, ckpt)]
    for o in outs:
        sum((v * torch.linspace(-1, 1, v.numel()).view_as(v)).sum() for v in o.values()).backward()
    for k in outs[0]:
        torch.testing.assert_close(outs[0][k], outs[1][k], rtol=1e-5, atol=1e-5)
    grads = {n: p.grad for n, p in ref.named_parameters()}
    for n, p in ckpt.named_parameters():
        assert p.grad is not None, n
        torch.testing.assert_close(p.grad, grads[n], rtol=1e-4, atol=1e-5, msg=n)
    assert grads["global_rel_pos_bias.relative_position_bias_table"].abs().sum() > 0


def test_global_bias_stays_lazy_on_the_cpu_query_blocked_path(monkeypatch):
    """Where global attention runs query-blocked (CPU), the shared global table reaches the
    blocks as a lazy table, never as the (heads, N, N) tensor; outputs and the table's
    gradient equal those of the dense path."""
    import vitdet_bench.layers.attention as attention

    net = tiny(img_size=128, window_size=4).train()  # 8x8 stage-3 grid, blocks 0 and 3 global
    with torch.no_grad():
        net.global_rel_pos_bias.relative_position_bias_table.normal_(0, 0.5)
    x = torch.randn(1, 3, 128, 128)
    results = {}
    for threshold in (16, 0):  # 16: 64 tokens go query-blocked; 0: the blocked path is off
        monkeypatch.setattr(attention, "CPU_CHUNKED_MIN_TOKENS", threshold)
        seen = {}
        hooks = [blk.register_forward_pre_hook(lambda m, a, i=i: seen.__setitem__(i, a[1]))
                 for i, blk in enumerate(net.blocks3)]
        net.zero_grad()
        out = net(x)
        sum(v.sum() for v in out.values()).backward()
        for h in hooks:
            h.remove()
        results[threshold] = (out, net.global_rel_pos_bias.relative_position_bias_table.grad.clone())
        lazy = {i for i, b in seen.items() if isinstance(b, attention.LazyRelPosBias)}
        assert lazy == ({0, 3} if threshold else set())
        assert all(torch.is_tensor(seen[i]) for i in (1, 2))  # windowed blocks: the small dense table
    (lazy_out, lazy_grad), (dense_out, dense_grad) = results[16], results[0]
    for k in lazy_out:
        torch.testing.assert_close(lazy_out[k], dense_out[k], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lazy_grad, dense_grad, rtol=1e-4, atol=1e-5)


def test_benchmark_options_are_declared():
    from itpn import ITPN

    from vitdet_bench.modeling.backbone import ATTENTION_STRATEGIES, ViT

    assert ConvMAE.supported_benchmark_options == ViT.supported_benchmark_options == frozenset(
        {"attention_strategy", "img_size", "use_sdpa"})
    assert ConvMAE.supported_attention_strategies == ATTENTION_STRATEGIES
    # iTPN adapts to any input and has no windowed blocks: no img_size, two strategies.
    assert ITPN.supported_benchmark_options == frozenset({"attention_strategy", "use_sdpa"})
    assert ITPN.supported_attention_strategies == ("global", "global_checkpoint")
    with pytest.raises(TypeError, match="img_size"):
        ITPN(embed_dim=64, mlp_depths=(1, 1), depth=1, num_heads=2, img_size=224)


def test_masked_depthwise_conv_matches_reference():
    torch.manual_seed(0)
    blk = ConvBlock(8, mlp_ratio=2.0).eval()
    for p in blk.parameters():
        p.data.normal_(0, 0.3)
    x = torch.randn(2, 8, 6, 7)
    mask = (torch.rand(2, 1, 6, 7) > 0.5).float()

    def ln(norm, t):
        m = t.mean(1, keepdim=True)
        v = t.var(1, keepdim=True, unbiased=False)
        return (t - m) / torch.sqrt(v + norm.eps) * norm.weight[:, None, None] + norm.bias[:, None, None]

    def conv1x1(conv, t):
        return torch.einsum("oc,bchw->bohw", conv.weight[:, :, 0, 0], t) + conv.bias[:, None, None]

    y = conv1x1(blk.conv1, ln(blk.norm1, x)) * mask
    yp = F.pad(y, (2, 2, 2, 2))
    dw = torch.zeros_like(y) + blk.attn.bias[:, None, None]
    for i in range(5):
        for j in range(5):
            dw = dw + blk.attn.weight[:, 0, i, j][:, None, None] * yp[:, :, i:i + 6, j:j + 7]
    ref = x + conv1x1(blk.conv2, dw)
    h = F.gelu(conv1x1(blk.mlp.fc1, ln(blk.norm2, ref)))
    ref = ref + conv1x1(blk.mlp.fc2, h)
    torch.testing.assert_close(blk(x, mask), ref, rtol=1e-4, atol=1e-4)
    # masked positions do not leak: changing them leaves the dw-conv input unchanged
    x2 = x + (1 - mask) * 10.0
    y2 = blk.conv1(blk._ln(blk.norm1, x2)) * mask
    assert torch.equal((y2 == 0) | (mask == 1), torch.ones_like(y2, dtype=torch.bool))


def _count(cfg_name):
    cfg = LazyConfig.load(os.path.join(CFG, cfg_name))
    with torch.device("meta"):
        model = instantiate(cfg.model)
    return model


def test_parameter_counts_match_released():
    model = _count("convmae_b_mrcnn_25ep.py")
    total = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for p in model.backbone.bottom_up.parameters())
    assert abs(total / 110.2e6 - 1) < 0.01, total
    assert abs(backbone / 87.8e6 - 1) < 0.01, backbone


@pytest.mark.parametrize("name", ["convmae_b_mrcnn_25ep.py", "convmae_b_mrcnn_50ep.py",
                                  "convmae_b_mrcnn_100ep.py", "convmae_b_vitdet_mrcnn_25ep.py",
                                  "convmae_tiny_cpu.py"])
def test_configs_load(name):
    cfg = LazyConfig.load(os.path.join(CFG, name))
    assert {"model", "dataloader", "optimizer", "lr_multiplier", "train"} <= set(cfg.keys())


def test_registry_and_sizes():
    assert "build_convmae_backbone" in BACKBONE_REGISTRY._obj_map
    assert convmae.CONVMAE_SIZES["B"] == ((256, 384, 768), (2, 2, 11), 12, (4, 4, 4))


# Stage channels C1/C2/C3, depths L1/L2/L3, stage-3 heads, MLP ratios (sources: README "Sizes").
SIZES = {
    "S": ((128, 256, 384), (2, 2, 11), 6, (4, 4, 4)),
    "L": ((384, 768, 1024), (2, 2, 23), 16, (8, 8, 4)),
}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_small_and_large_presets(size):
    assert convmae.CONVMAE_SIZES[size] == SIZES[size]
    dims, depths, heads, ratios = SIZES[size]
    with torch.device("meta"):
        net = ConvMAE(img_size=1024, embed_dims=dims, depths=depths, num_heads=heads, mlp_ratios=ratios,
                      **design_kwargs("multiscale"))
        out = net(torch.empty(1, 3, 1024, 1024))
    assert (len(net.blocks1), len(net.blocks2), len(net.blocks3)) == depths
    assert {k: tuple(v.shape[1:]) for k, v in out.items()} == {
        "s0": (dims[0], 256, 256), "s1": (dims[1], 128, 128), "s2": (dims[2], 64, 64), "s3": (dims[2], 32, 32)}
    assert {k: s.channels for k, s in net.output_shape().items()} == {
        "s0": dims[0], "s1": dims[1], "s2": dims[2], "s3": dims[2]}
    assert net.blocks1[0].mlp.fc1.out_channels == dims[0] * ratios[0]
    assert net.blocks2[0].mlp.fc1.out_channels == dims[1] * ratios[1]
    assert net.blocks3[0].mlp.fc1.out_features == dims[2] * ratios[2]
    assert net.blocks3[0].attn.num_heads == heads


def test_large_preset_parameter_count():
    # 224x224 classification encoder, as the early Alpha-VL/ConvMAE README's
    # "ConvMAE-L | 322" M parameters (MLP 4/4/4 in stages 1-2 would give ~310 M).
    dims, depths, heads, ratios = convmae.CONVMAE_SIZES["L"]
    with torch.device("meta"):
        net = ConvMAE(img_size=224, embed_dims=dims, depths=depths, num_heads=heads, mlp_ratios=ratios,
                      window_size=0, rel_pos=None)
    n = sum(p.numel() for p in net.parameters()) + 2 * dims[2] + dims[2] * 1000 + 1000  # + norm, head
    assert abs(n / 322e6 - 1) < 0.005, n


def test_layer_decay_groups():
    from convmae import convmae_layer_id

    assert convmae_layer_id("backbone.bottom_up.blocks1.0.conv1.weight", 11) == 0
    assert convmae_layer_id("backbone.net.patch_embed4.weight", 11) == 0
    assert convmae_layer_id("backbone.net.blocks3.4.attn.qkv.weight", 11) == 5
    assert convmae_layer_id("backbone.fpn_output2.weight", 11) == 12
    assert convmae_layer_id("roi_heads.box_predictor.cls_score.weight", 11) == 12


# ------------------------------------------------------------------ checkpoint
def fake_pretrain_checkpoint(net, grid=4):
    """A ConvMAE pre-training checkpoint for ``net``'s sizes (flat pos_embed at ``grid``)."""
    sd = {k: torch.randn_like(v) for k, v in net.state_dict().items()
          if "rel_pos" not in k and k != "pos_embed"}
    c3 = net.embed_dims[2]
    sd["pos_embed"] = torch.randn(1, grid * grid, c3)
    sd["norm.weight"], sd["norm.bias"] = torch.ones(c3), torch.zeros(c3)
    sd["stage1_output_decode.weight"] = torch.randn(c3, net.embed_dims[0], 4, 4)
    sd["stage2_output_decode.weight"] = torch.randn(c3, net.embed_dims[1], 2, 2)
    sd["mask_token"] = torch.zeros(1, 1, 32)
    sd["decoder_embed.weight"] = torch.randn(32, c3)
    sd["decoder_blocks.0.attn.qkv.weight"] = torch.randn(96, 32)
    return {"model": sd, "epoch": 1599}


def test_checkpoint_loads_through_shared_loader(tmp_path):
    from vitdet_bench.checkpoint import load_pretrained

    net = tiny(img_size=128)  # 8x8 stage-3 grid
    raw = fake_pretrain_checkpoint(net, grid=4)
    assert detect_convmae(raw)
    p = tmp_path / "convmae.pth"
    torch.save(raw, p)
    report = load_pretrained(net, str(p))  # auto-detected
    assert report.format == "convmae"
    torch.testing.assert_close(net.blocks3[2].attn.qkv.weight, raw["model"]["blocks3.2.attn.qkv.weight"])
    torch.testing.assert_close(net.patch_embed1.norm.weight, raw["model"]["patch_embed1.norm.weight"])
    assert ("pos_embed", (1, 4, 4, 48), (1, 8, 8, 48)) in report.resized
    init = {k for k, _ in report.initialized}
    assert {"window_rel_pos_bias.relative_position_bias_table",
            "global_rel_pos_bias.relative_position_bias_table"} <= init
    ignored = dict(report.ignored)
    assert {"decoder_embed.weight", "mask_token", "norm.weight", "stage1_output_decode.weight"} <= set(ignored)
    assert report.unexpected == []
    # a whole detector: the ConvMAE inside it is found
    cfg = LazyConfig.load(os.path.join(CFG, "convmae_tiny_cpu.py"))
    model = instantiate(cfg.model)
    raw2 = fake_pretrain_checkpoint(model.backbone.bottom_up, grid=4)
    torch.save(raw2, p)
    rep = load_convmae_checkpoint(model, str(p))
    assert ("pos_embed", (1, 4, 4, 96), (1, 8, 8, 96)) in rep.resized
    torch.testing.assert_close(model.backbone.bottom_up.blocks3[0].attn.proj.weight,
                               raw2["model"]["blocks3.0.attn.proj.weight"])


def test_checkpoint_errors(tmp_path):
    net = tiny(img_size=128)
    raw = fake_pretrain_checkpoint(net)
    assert not detect_convmae({"model": {"patch_embed.proj.weight": torch.zeros(1)}})  # plain ViT
    foreign = tmp_path / "foreign.pth"
    torch.save({"model": {"backbone.bottom_up.stem.conv1.weight": torch.zeros(1)}}, foreign)
    with pytest.raises(CheckpointError):
        load_convmae_checkpoint(net, str(foreign), format="auto")
    with pytest.raises(CheckpointError):
        load_convmae_checkpoint(net, str(foreign))
    good = tmp_path / "good.pth"
    torch.save(raw, good)
    trunc = tmp_path / "trunc.pth"
    trunc.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        load_convmae_checkpoint(net, str(trunc))
    with pytest.raises(CheckpointError):
        load_convmae_checkpoint(net, str(tmp_path / "missing.pth"))
    other = tiny(img_size=128, embed_dims=(16, 24, 64))
    with pytest.raises(CheckpointError, match="another architecture"):
        load_convmae_checkpoint(other, str(good))

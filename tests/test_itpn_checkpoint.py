"""iTPN checkpoints in the official pre-training layout load key for key, by the format's rules."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import vitdet_bench  # noqa: E402,F401
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from itpn import ITPN, ITPN_SIZES  # noqa: E402
from vitdet_bench.checkpoint import CheckpointError, load_pretrained  # noqa: E402
from vitdet_bench.checkpoint.loader import detect_format, read_checkpoint  # noqa: E402


def official_layout(embed_dim=512, mlp_depths=(3, 3), depth=24, num_heads=8, clip=False,
                    fpn_dim=256, fpn_depth=2, grid=14, extras=True, seed=0):
    """Random tensors under every key of the official pre-training models.

    Written from the official module structure (``models_itpn_mim.py`` for pixel,
    ``CLIP_as_supervision/modeling_pretrain.py`` for CLIP), not from our model: ``blocks.{i}``
    holds the MLP blocks, the two ``PatchMerge`` modules and the attention blocks in order.
    """
    g = torch.Generator().manual_seed(seed)
    sd = {}

    def t(*shape):
        return 0.02 * torch.randn(shape, generator=g)

    def ln(name, d):
        sd[name + ".weight"], sd[name + ".bias"] = 1 + t(d), t(d)

    def lin(name, i, o, bias=True):
        sd[name + ".weight"] = t(o, i)
        if bias:
            sd[name + ".bias"] = t(o)

    def mlp_block(p, d, ratio, gamma):
        ln(p + "norm2", d)
        lin(p + "mlp.fc1", d, int(d * ratio))
        lin(p + "mlp.fc2", int(d * ratio), d)
        if gamma:
            sd[p + "gamma_2"] = 0.1 + t(d)

    def attn_block(p, d):
        ln(p + "norm1", d)
        lin(p + "attn.qkv", d, 3 * d)
        lin(p + "attn.proj", d, d)
        if clip:  # CLIP pre-training: rpe=True, a BEiT table per block
            sd[p + "attn.relative_position_bias_table"] = t((2 * grid - 1) ** 2, num_heads)
            sd[p + "gamma_1"] = 0.1 + t(d)
        mlp_block(p, d, 4, clip)

    c = embed_dim
    sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"] = t(c // 4, 3, 4, 4), t(c // 4)
    ln("patch_embed.norm", c // 4)
    sd["absolute_pos_embed"] = t(1, grid * grid, c)
    i = 0
    for d, n in ((c // 4, mlp_depths[0]), (c // 2, mlp_depths[1])):
        for _ in range(n):
            mlp_block(f"blocks.{i}.", d, 3, clip)
            i += 1
        ln(f"blocks.{i}.norm", 4 * d)
        lin(f"blocks.{i}.reduction", 4 * d, 2 * d, bias=False)
        i += 1
    for _ in range(depth):
        attn_block(f"blocks.{i}.", c)
        i += 1
    if c != fpn_dim:  # the official module is None when the widths agree
        lin("align_dim_16tofpn", c, fpn_dim)
    lin("align_dim_16to8", c // 2, fpn_dim, bias=False)
    lin("align_dim_8to4", c // 4, fpn_dim, bias=False)
    ln("split_16to8.norm", c)
    lin("split_16to8.reduction", c, 4 * fpn_dim, bias=False)
    ln("split_8to4.norm", fpn_dim)
    lin("split_8to4.reduction", fpn_dim, 4 * fpn_dim, bias=False)
    for k in range(fpn_depth):
        mlp_block(f"block_16to8.{k}.", fpn_dim, 4, False)
        mlp_block(f"block_8to4.{k}.", fpn_dim, 4, False)
    for k in range(3):
        mlp_block(f"fpn_modules.{k}.", fpn_dim, 4, False)
    if extras:  # pre-training-only keys
        dec = c if clip else 512
        for k, d in enumerate((dec, dec // 4, dec // 16)):
            ln(f"decoder_embed.{k}.0", fpn_dim)
            lin(f"decoder_embed.{k}.1", fpn_dim, d)
        sd["mask_token"] = t(1, 1, dec)
        if clip:
            lin("lm_head", c, c)
            lin("lm_cls_head", c, c)
            ln("norm", c)
            ln("norm_cls", c)
            for k in range(2):
                attn_block(f"cls_pt_layers.{k}.", c)
            sd["relative_position_index"] = torch.zeros(grid * grid, grid * grid, dtype=torch.long)
        else:
            sd["decoder_pos_embed"] = t(1, grid * grid, dec)
            ln("decoder_blocks.0.norm1", dec)
            lin("decoder_blocks.0.attn.qkv", dec, 3 * dec)
            ln("decoder_norm", dec)
            lin("decoder_pred", dec, 16 * 16 * 3)
    return sd


def _save(path, sd):
    torch.save({"model": sd, "epoch": 399}, path)
    return str(path)


class Detector(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.backbone = net
        self.roi_heads = nn.Linear(4, 4)


def _rules(report):
    return {k: r for k, r in report.ignored}


@pytest.mark.parametrize("size,clip", [("pixel_b", False), ("clip_b", True)])
def test_b_checkpoints_load_every_tensor(tmp_path, size, clip):
    sd = official_layout(clip=clip)
    path = _save(tmp_path / f"{size}.pth", sd)
    assert detect_format(read_checkpoint(path), path) == "itpn"
    with torch.device("meta"):  # skip the random init: every tensor is overwritten
        net = ITPN(**ITPN_SIZES[size])
    model = Detector(net.to_empty(device="cpu"))
    report = load_pretrained(model, path)  # format auto-detected
    net_keys = set(model.backbone.state_dict())
    assert report.format == "itpn"
    assert set(report.loaded) == net_keys and not report.initialized and not report.unexpected
    assert len(net_keys) == len(report.loaded)
    for key in ("blocks.31.attn.qkv.weight", "blocks.3.reduction.weight", "fpn_modules.2.mlp.fc2.weight",
                "absolute_pos_embed", "split_8to4.reduction.weight"):
        torch.testing.assert_close(model.backbone.state_dict()[key], sd[key], rtol=0, atol=0)
    rules = _rules(report)
    assert "block_16to8.1" in " ".join(rules) and "block_8to4.1.mlp.fc1.weight" in rules
    assert "fpn_depth=1" in rules["block_16to8.1.norm2.weight"]
    assert "mask_token" in rules and "decoder_embed.0.0.weight" in rules
    if clip:
        assert {"lm_head.weight", "lm_cls_head.bias", "norm.weight", "norm_cls.bias",
                "cls_pt_layers.0.attn.qkv.weight", "blocks.8.attn.relative_position_bias_table",
                "relative_position_index"} <= set(rules)
        assert model.backbone.blocks[9].gamma_1 is not None
    else:
        assert "decoder_pred.weight" in rules and "decoder_pos_embed" in rules
    # every checkpoint tensor is either loaded or ignored by a named rule
    assert set(sd) == set(report.loaded) | set(rules)
    text = str(report)
    assert "ignored by rule" in text and "block_16to8.1" in text


def tiny_net(**kw):
    args = dict(embed_dim=64, mlp_depths=(1, 1), depth=2, num_heads=2, fpn_dim=256)
    args.update(kw)
    return ITPN(**args)


def tiny_file(tmp_path, name="tiny.pth", **kw):
    args = dict(embed_dim=64, mlp_depths=(1, 1), depth=2, num_heads=2)
    args.update(kw)
    return _save(tmp_path / name, official_layout(**args))


def test_a_512d_pyramid_into_the_256d_detector_is_an_error(tmp_path):
    path = tiny_file(tmp_path, "pixel_512.pth", fpn_dim=512)
    with pytest.raises(CheckpointError) as e:
        load_pretrained(Detector(tiny_net()), path)
    msg = str(e.value)
    assert path in msg and "512-d" in msg and "256-d" in msg
    assert "align_dim_16tofpn.weight: checkpoint (512, 64) vs model (256, 64)" in msg
    assert "fpn_modules" in msg and "split_8to4" in msg and "pyramid_init='random'" in msg


def test_random_pyramid_on_request_is_reported(tmp_path):
    path = tiny_file(tmp_path, "pixel_512.pth", fpn_dim=512)
    torch.manual_seed(0)
    model = Detector(tiny_net(pyramid_init="random"))
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    report = load_pretrained(model, path)
    fresh = dict(report.initialized)
    assert "fpn_modules.0.mlp.fc1.weight" in fresh and "pyramid_init='random'" in fresh["split_16to8.norm.weight"]
    assert "integral pyramid: pyramid_init='random'" in _rules(report)["align_dim_16tofpn.weight"]
    now = model.backbone.state_dict()
    torch.testing.assert_close(now["fpn_modules.0.mlp.fc1.weight"], before["fpn_modules.0.mlp.fc1.weight"],
                               rtol=0, atol=0)
    assert not torch.equal(now["blocks.0.mlp.fc1.weight"], before["blocks.0.mlp.fc1.weight"])  # trunk loaded


def test_design2_ignores_the_pyramid_by_rule(tmp_path):
    path = tiny_file(tmp_path)
    model = Detector(tiny_net(integral_pyramid=False))
    report = load_pretrained(model, path, format="itpn")
    assert set(report.loaded) == set(model.backbone.state_dict()) and not report.initialized
    assert "not used by design 2" in _rules(report)["fpn_modules.1.norm2.bias"]


def test_clip_l_style_decomposed_tables_keep_the_official_init(tmp_path):
    path = tiny_file(tmp_path, "clip.pth", clip=True)
    torch.manual_seed(0)
    model = Detector(tiny_net(layer_scale_init_value=0.1, rel_pos=True))
    init = model.backbone.blocks[4].attn.rel_pos_h.detach().clone()
    report = load_pretrained(model, path)
    fresh = dict(report.initialized)
    assert "trunc_normal" in fresh["blocks.4.attn.rel_pos_h"]
    assert init.std() > 0.01  # trunc-normal, not zeros
    torch.testing.assert_close(model.backbone.blocks[4].attn.rel_pos_h, init, rtol=0, atol=0)
    assert "blocks.4.attn.relative_position_bias_table" in _rules(report)


def test_wrong_pretraining_grid_names_the_setting(tmp_path):
    path = tiny_file(tmp_path, "g16.pth", grid=16)
    with pytest.raises(CheckpointError, match="pretrain_img_size"):
        load_pretrained(Detector(tiny_net()), path)


def test_inspect_checkpoint_tool_reads_an_itpn_file(tmp_path):
    path = tiny_file(tmp_path, fpn_dim=64)
    cfg = os.path.join(REPO, "projects", "iTPN", "configs", "itpn_tiny_cpu.py")
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "inspect_checkpoint.py"), path,
                        "--config-file", cfg, "--format", "auto", "model.backbone.pyramid_init=pretrained"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "format: itpn" in p.stdout and "ignored by rule" in p.stdout and "unexpected: 0" in p.stdout

"""iTPN / HiViT backbone: sizes, layouts, the integral pyramid, the layer-decay ids."""
import math
import os

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import vitdet_bench  # noqa: E402,F401
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from detectron2.config import LazyConfig, instantiate  # noqa: E402

from itpn import ITPN, ITPN_SIZES, PatchMerge, PatchSplit, get_itpn_param_groups, resize_ape  # noqa: E402
from itpn.solver import itpn_layer_id  # noqa: E402

CONFIGS = os.path.join(REPO, "projects", "iTPN", "configs")


def tiny(**kw):
    args = dict(embed_dim=64, mlp_depths=(1, 2), depth=2, num_heads=2, fpn_dim=32, drop_path_rate=0.0)
    args.update(kw)
    return ITPN(**args)


# ------------------------------------------------------------------ sizes
@pytest.mark.parametrize("size,expected", [("pixel_b", 81_552_000), ("clip_b", 81_577_728),
                                           ("clip_l", 291_599_296)])
def test_parameter_counts_equal_the_official_classes(size, expected):
    # iTPN_pixel / iTPN_CLIP built with the released detection configs' arguments
    # (img_size=224, fpn_dim=256, fpn_depth=1, num_outs=5): trunk + pyramid, no heads.
    with torch.device("meta"):
        net = ITPN(**ITPN_SIZES[size])
    assert sum(p.numel() for p in net.parameters()) == expected


def test_configs_build_the_published_backbones():
    for name, expected in [("itpn_pixel_b_mrcnn_1x.py", 81_552_000), ("itpn_clip_b_mrcnn_3x.py", 81_577_728),
                           ("itpn_clip_l_mrcnn_1x.py", 291_599_296)]:
        cfg = LazyConfig.load(os.path.join(CONFIGS, name))
        with torch.device("meta"):
            model = instantiate(cfg.model)
        assert sum(p.numel() for p in model.backbone.parameters()) == expected, name
        box = model.roi_heads.box_predictor
        assert box.box_reg_loss_type == "giou" and box.loss_weight["loss_box_reg"] == 10.0
        assert box.bbox_pred.out_features == 4 * 80  # class-specific regression


@pytest.mark.parametrize("hw,sizes", [
    ((1024, 1024), [(256, 256), (128, 128), (64, 64), (32, 32), (16, 16)]),
    ((800, 1344), [(200, 336), (100, 168), (50, 84), (25, 42), (12, 21)]),
])
def test_output_strides_and_sizes_of_itpn_b(hw, sizes):
    with torch.device("meta"):
        net = ITPN(**ITPN_SIZES["pixel_b"])
        out = net(torch.empty(1, 3, *hw))
    shapes = net.output_shape()
    assert [shapes[k].stride for k in ("p2", "p3", "p4", "p5", "p6")] == [4, 8, 16, 32, 64]
    for (k, v), s in zip(out.items(), sizes):
        assert tuple(v.shape) == (1, 256) + s, k
        assert shapes[k].channels == 256


def test_p5_p6_are_average_pools_with_floor_sizes():
    net = tiny().eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 160, 224))  # P4 10x14 -> P5 5x7 -> P6 2x3 (floor)
    assert tuple(out["p5"].shape[-2:]) == (5, 7) and tuple(out["p6"].shape[-2:]) == (2, 3)
    torch.testing.assert_close(out["p5"], F.avg_pool2d(out["p4"], 2), rtol=0, atol=0)
    torch.testing.assert_close(out["p6"], out["p5"][..., :4, :6].reshape(1, 32, 2, 2, 3, 2).mean((3, 5)))


def test_input_not_a_multiple_of_32_is_padded():
    net = tiny().eval()
    x = torch.randn(1, 3, 100, 70)
    with torch.no_grad():
        out = net(x)
        ref = net(F.pad(x, (0, 26, 0, 28)))  # zero padding to 128 x 96, as the detector pads
    assert tuple(out["p2"].shape[-2:]) == (32, 24) and tuple(out["p4"].shape[-2:]) == (8, 6)
    for k in out:
        torch.testing.assert_close(out[k], ref[k], rtol=0, atol=0)


# --------------------------------------------------------- layout pieces
def test_patch_merge_order_matches_an_explicit_loop():
    torch.manual_seed(0)
    m = PatchMerge(3)
    x = torch.randn(2, 4, 6, 3)
    y = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
    ref = torch.zeros(2, 2, 3, 12)
    for h in range(2):
        for w in range(3):
            cells = [x[:, 2 * h + r, 2 * w + c] for r, c in ((0, 0), (1, 0), (0, 1), (1, 1))]
            ref[:, h, w] = torch.cat(cells, -1)
    torch.testing.assert_close(y, ref, rtol=0, atol=0)
    torch.testing.assert_close(m(x), m.reduction(m.norm(ref)))
    assert m.reduction.bias is None and m.reduction.weight.shape == (6, 12)


def test_patch_split_order_matches_an_explicit_loop():
    torch.manual_seed(0)
    s = PatchSplit(8, 5)
    x = torch.randn(2, 3, 4, 8)
    out = s(x)
    y = s.reduction(s.norm(x))
    ref = torch.zeros(2, 6, 8, 5)
    for h in range(3):
        for w in range(4):
            for a in range(2):
                for b in range(2):
                    ref[:, 2 * h + a, 2 * w + b] = y[:, h, w, (2 * a + b) * 5:(2 * a + b + 1) * 5]
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    assert s.reduction.bias is None


def _cubic(t, a=-0.75):
    t = abs(t)
    if t <= 1:
        return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
    if t < 2:
        return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
    return 0.0


def _bicubic_axis(n_in, n_out, scale):
    """(n_out, n_in) interpolation matrix: half-pixel source coordinates ``(i + 0.5) / scale - 0.5``."""
    W = np.zeros((n_out, n_in))
    for i in range(n_out):
        src = (i + 0.5) / scale - 0.5
        base = math.floor(src)
        for k in range(base - 1, base + 3):
            W[i, min(max(k, 0), n_in - 1)] += _cubic(src - k)
    return W


def _official_ape(pe: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """The official APE resize, ``scale_factor=((H + 0.1) / n, (W + 0.1) / n)``, as
    separable bicubic matrices in float64: ``(1, H, W, C)`` in ``pe``'s dtype."""
    n = math.isqrt(pe.shape[1])
    grid = pe.detach().reshape(n, n, -1).double().numpy()
    Wh = _bicubic_axis(n, H, (H + 0.1) / n)
    Ww = _bicubic_axis(n, W, (W + 0.1) / n)
    return torch.from_numpy(np.einsum("ih,jw,hwc->ijc", Wh, Ww, grid))[None].to(pe.dtype)


def test_ape_resize_follows_the_official_scale_factor_formula():
    torch.manual_seed(0)
    pe = torch.randn(1, 196, 6)
    H, W = 50, 84
    out = resize_ape(pe, (H, W))
    ref = _official_ape(pe.double(), H, W)
    np.testing.assert_allclose(out.double().numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    # in float64 the resize stays float64: round-off only
    out64 = resize_ape(pe.double(), (H, W))
    assert out64.dtype == torch.float64
    np.testing.assert_allclose(out64.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    # not the same as resizing to size=(H, W): a ~3% stretch of the source coordinates
    by_size = F.interpolate(pe.reshape(1, 14, 14, 6).permute(0, 3, 1, 2), size=(H, W),
                            mode="bicubic").permute(0, 2, 3, 1)
    assert (out - by_size).abs().max() > 0.05
    assert resize_ape(pe, (14, 14)).data_ptr() == pe.data_ptr()  # the pre-training grid: as is


# --------------------------------------------- the official per-patch layout
def _official_forward(net: ITPN, x):
    """The official code's data layout, written out: 16x16 patches as (B, N, 4, 4, C) tokens."""
    B, _, H, W = x.shape
    Hp, Wp = H // 16, W // 16
    t = net.patch_embed.proj(x).view(B, -1, Hp, 4, Wp, 4).permute(0, 2, 4, 3, 5, 1).reshape(B, Hp * Wp, 4, 4, -1)
    t = net.patch_embed.norm(t)
    feats = []
    for i, blk in enumerate(net.blocks[:net.num_stem_blocks]):
        if i in net.merge_indexes:
            feats.append(t)
        if isinstance(blk, PatchMerge):
            t = torch.cat([t[..., 0::2, 0::2, :], t[..., 1::2, 0::2, :], t[..., 0::2, 1::2, :],
                           t[..., 1::2, 1::2, :]], -1)
            t = blk.reduction(blk.norm(t))
        else:
            t = blk(t)
    t = t[..., 0, 0, :] + _official_ape(net.absolute_pos_embed, Hp, Wp).reshape(1, Hp * Wp, -1)
    t = t.reshape(B, Hp, Wp, -1)
    for blk in net.blocks[net.num_stem_blocks:]:
        t = blk(t)
    c4 = t.reshape(B, Hp * Wp, 1, 1, -1)

    def split(s, z):
        b, n, h, w, _ = z.shape
        z = s.reduction(s.norm(z)).reshape(b, n, h, w, 2, 2, s.fpn_dim)
        return z.permute(0, 1, 2, 4, 3, 5, 6).reshape(b, n, 2 * h, 2 * w, s.fpn_dim)

    outs = [net.align_dim_16tofpn(c4)]
    z = net.block_16to8(split(net.split_16to8, c4) + net.align_dim_16to8(feats[1]))
    outs.append(z)
    z = net.block_8to4(split(net.split_8to4, z) + net.align_dim_8to4(feats[0]))
    outs.append(z)
    outs = [m(o) for m, o in zip(net.fpn_modules, outs)]
    maps = [o.reshape(B, Hp, Wp, *o.shape[-3:]).permute(0, 5, 1, 3, 2, 4).reshape(
        B, -1, Hp * o.shape[-3], Wp * o.shape[-2]) for o in outs]
    return {"p4": maps[0], "p3": maps[1], "p2": maps[2]}


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize("layer_scale,rel_pos", [(0.0, False), (0.1, True)])
def test_image_layout_equals_the_official_per_patch_layout(layer_scale, rel_pos, dtype, tol):
    # In float64 the two agree to round-off: no step (APE resize included) drops to float32.
    torch.manual_seed(0)
    net = tiny(layer_scale_init_value=layer_scale, rel_pos=rel_pos).eval().to(dtype)
    x = torch.randn(2, 3, 64, 96, dtype=dtype)
    with torch.no_grad():
        ours = net(x)
        ref = _official_forward(net, x)
    for k in ("p2", "p3", "p4"):
        assert ours[k].dtype == dtype
        scale = ref[k].abs().max().item()
        torch.testing.assert_close(ours[k], ref[k], rtol=tol, atol=tol * scale)


def test_layer_scale_and_block_keys_follow_the_official_layout():
    net = tiny(layer_scale_init_value=0.1, rel_pos=True)
    keys = set(net.state_dict())
    assert {"blocks.0.gamma_2", "blocks.0.norm2.weight", "blocks.0.mlp.fc1.weight"} <= keys
    assert "blocks.0.gamma_1" not in keys and "blocks.0.norm1.weight" not in keys  # MLP-only block
    assert {"blocks.1.norm.weight", "blocks.1.reduction.weight", "blocks.4.reduction.weight"} <= keys  # merges
    assert {"blocks.5.gamma_1", "blocks.5.attn.qkv.bias", "blocks.5.attn.rel_pos_h"} <= keys
    assert net.blocks[5].attn.rel_pos_h.shape == (27, 32)  # 2 * 14 - 1 entries per axis
    assert "fpn_modules.0.gamma_2" not in keys  # pyramid blocks have no layer scale (official)


def test_design2_trunk_outputs_feed_the_bn_fpn():
    cfg = LazyConfig.load(os.path.join(CONFIGS, "itpn_tiny_fpn_cpu.py"))
    fpn = instantiate(cfg.model.backbone).eval()
    trunk = fpn.bottom_up
    assert isinstance(trunk, ITPN) and not trunk.integral_pyramid
    assert not any(k.startswith(("fpn_modules", "split_", "align_dim")) for k in trunk.state_dict())
    shapes = trunk.output_shape()
    assert {k: (v.channels, v.stride) for k, v in shapes.items()} == {
        "c2": (16, 4), "c3": (32, 8), "c4": (64, 16), "c5": (64, 32)}
    x = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        feats = trunk(x)
        out = fpn(x)
    torch.testing.assert_close(feats["c5"], F.max_pool2d(feats["c4"], 2), rtol=0, atol=0)
    assert list(fpn.in_features) == ["c2", "c3", "c4", "c5"]
    assert list(out) == ["p2", "p3", "p4", "p5", "p6"]
    assert type(fpn.fpn_lateral2.norm).__name__ == "BatchNorm2d"


def test_activation_checkpointing_same_outputs_and_gradients():
    torch.manual_seed(0)
    a = tiny(layer_scale_init_value=0.1)
    b = tiny(layer_scale_init_value=0.1, attention_strategy="global_checkpoint")
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 64, 64)
    for net in (a, b):
        sum(v.sum() for v in net(x).values()).backward()
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)


def test_unsupported_options_are_clear_errors():
    with pytest.raises(ValueError, match="no windows"):
        tiny(attention_strategy="window_global")
    with pytest.raises(ValueError, match="pyramid_init"):
        tiny(pyramid_init="zeros")
    with pytest.raises(ValueError, match="out_features"):
        tiny(integral_pyramid=False, out_features=("p2",))


# ------------------------------------------------------------ layer decay
def test_layer_ids_blocks_and_official():
    merges = (3, 7)
    ids = {i: itpn_layer_id(f"backbone.blocks.{i}.mlp.fc1.weight", 30, "backbone.", merges) for i in range(32)}
    assert ids[0] == 1 and ids[2] == 3 and ids[3] == 3 and ids[4] == 4 and ids[7] == 6 and ids[31] == 30
    off = {i: itpn_layer_id(f"backbone.blocks.{i}.x", 30, "backbone.", merges, "official") for i in range(32)}
    assert off[0] == 1 and off[31] == 32
    assert itpn_layer_id("backbone.absolute_pos_embed", 30, "backbone.", merges) == 0
    assert itpn_layer_id("backbone.absolute_pos_embed", 30, "backbone.", merges, "official") == 31
    assert itpn_layer_id("backbone.patch_embed.proj.weight", 30, "backbone.", merges, "official") == 0
    assert itpn_layer_id("backbone.fpn_modules.0.mlp.fc1.weight", 30, "backbone.", merges) == 31
    assert itpn_layer_id("roi_heads.box_head.fc1.weight", 30, "backbone.", merges) == 31


def test_param_groups_lr_scales_of_both_schemes():
    with torch.device("meta"):
        net = ITPN(**ITPN_SIZES["pixel_b"])
    model = torch.nn.Module()
    model.backbone = net
    model.head = torch.nn.Linear(4, 4, device="meta")

    def scale_of(groups, param):
        return next(g["lr_scale"] for g in groups if any(p is param for p in g["params"]))

    ours = get_itpn_param_groups(model, 1e-4, 0.05, layer_decay=0.9, num_layers=30)
    official = get_itpn_param_groups(model, 1e-4, 0.05, layer_decay=0.9, num_layers=30, layer_ids="official")
    top = net.blocks[31].attn.qkv.weight
    assert scale_of(ours, top) == pytest.approx(0.9)
    assert scale_of(official, top) == pytest.approx(1 / 0.9)  # the official top block: lr x 1.11
    assert scale_of(ours, net.blocks[0].mlp.fc1.weight) == pytest.approx(0.9 ** 30)
    assert scale_of(ours, net.fpn_modules[0].mlp.fc1.weight) == 1.0
    assert scale_of(ours, model.head.weight) == 1.0
    wd = {id(p): g["weight_decay"] for g in ours for p in g["params"]}
    assert wd[id(net.absolute_pos_embed)] == 0.0 and wd[id(net.blocks[8].norm1.weight)] == 0.0
    assert wd[id(net.blocks[8].attn.qkv.bias)] == 0.0 and wd[id(top)] == 0.05
    n = sum(p.numel() for g in ours for p in g["params"])
    assert n == sum(p.numel() for p in model.parameters())

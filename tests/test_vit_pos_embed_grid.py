"""ViT(pos_embed_grid=...): the detection-grid table (Benchmarking) vs the pre-training
table interpolated in every forward (ViTDet), and how checkpoints load into each."""
import pytest
import torch
import torch.nn.functional as F

import vitdet_bench  # noqa: F401
from vitdet_bench.checkpoint import load_pretrained
from vitdet_bench.checkpoint.loader import apply_state_dict
from vitdet_bench.checkpoint.report import LoadReport
from vitdet_bench.layers.attention import resize_rel_pos_table
from vitdet_bench.modeling.backbone.vit import ViT

from checkpoint_fixtures import DIM, make_mae

IMG = 128  # 8x8 detection grid; pre-training grid 14x14 (224 / 16)


def vit(grid, **kw):
    args = dict(img_size=IMG, patch_size=16, embed_dim=DIM, depth=2, num_heads=2,
                attention_strategy=None, window_block_indexes=(0,), window_size=4,
                rel_pos="decomposed", pos_embed_grid=grid, out_block_indexes=(1,))
    args.update(kw)
    torch.manual_seed(0)
    return ViT(**args).eval()


def block0_input(net, x):
    seen = {}
    h = net.blocks[0].register_forward_pre_hook(lambda m, a: seen.__setitem__("x", a[0]))
    net(x)
    h.remove()
    return seen["x"]


def explicit_pretrain_pos(table, hw, prefix=1):
    """upstream get_abs_pos, written out: drop the class slot, view as a square grid,
    bicubic (align_corners=False) to the token grid."""
    grid = table[:, prefix:]
    side = int(grid.shape[1] ** 0.5)
    grid = grid.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    return F.interpolate(grid, size=hw, mode="bicubic", align_corners=False).permute(0, 2, 3, 1)


def test_parameter_shapes():
    assert vit("detection").pos_embed.shape == (1, 8, 8, DIM)
    assert vit("pretrain").pos_embed.shape == (1, 1 + 14 * 14, DIM)
    assert vit("pretrain", pretrain_use_cls_token=False).pos_embed.shape == (1, 196, DIM)
    assert vit("pretrain", pretrain_img_size=64).pos_embed.shape == (1, 1 + 16, DIM)
    with pytest.raises(ValueError, match="pos_embed_grid"):
        vit("both")
    with pytest.raises(ValueError, match="pretrain_img_size"):
        vit("pretrain", pretrain_img_size=100)


@pytest.mark.parametrize("size", [128, 96, 160])
def test_pretrain_grid_matches_explicit_formula(size):
    net = vit("pretrain")
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        got = block0_input(net, x)
        hw = (size // 16, size // 16)
        want = net.patch_embed(x) + explicit_pretrain_pos(net.pos_embed, hw)
    torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("size", [128, 96])
def test_detection_grid_matches_explicit_formula(size):
    net = vit("detection")
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        got = block0_input(net, x)
        hw = (size // 16, size // 16)
        table = net.pos_embed
        if hw != (8, 8):
            table = F.interpolate(table.permute(0, 3, 1, 2), size=hw, mode="bicubic",
                                  align_corners=False).permute(0, 2, 3, 1)
        want = net.patch_embed(x) + table
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def _detection_twin(pre, **kw):
    """A detection-grid ViT with ``pre``'s weights, its table the pre-training one resized once."""
    det = vit("detection", **kw)
    sd = {k: v for k, v in pre.state_dict().items() if k != "pos_embed"}
    sd["pos_embed"] = explicit_pretrain_pos(pre.pos_embed.detach(), det.grid_size)
    det.load_state_dict(sd)
    return det


def test_equal_at_detection_grid_different_elsewhere():
    pre = vit("pretrain")
    det = _detection_twin(pre)
    with torch.no_grad():
        x = torch.randn(2, 3, IMG, IMG)
        torch.testing.assert_close(pre(x)["block1"], det(x)["block1"], rtol=1e-5, atol=1e-5)
        x = torch.randn(1, 3, 96, 96)  # 6x6 tokens: 14 -> 6 is not 14 -> 8 -> 6
        assert (pre(x)["block1"] - det(x)["block1"]).abs().max() > 1e-3


def test_gradient_flows_through_the_interpolation():
    pre = vit("pretrain")
    pre(torch.randn(1, 3, IMG, IMG))["block1"].square().sum().backward()
    g = pre.pos_embed.grad
    assert g[:, 1:].abs().sum() > 0
    assert g[:, :1].abs().sum() == 0  # the class-token slot is never read
    # free parameters: 14*14 (+1) per channel instead of the 64x64 detection table at 1024
    with torch.device("meta"):
        assert ViT(pos_embed_grid="pretrain").pos_embed.numel() == 197 * 768
        assert ViT(pos_embed_grid="detection").pos_embed.numel() == 64 * 64 * 768


def test_mae_checkpoint_loads_into_both(tmp_path):
    path = str(tmp_path / "mae.pth")
    make_mae(path)
    raw = torch.load(path, weights_only=True)["model"]
    grid = raw["pos_embed"][:, 1:].reshape(1, 14, 14, DIM)

    det = vit("detection", attention_strategy="global", window_block_indexes=None, rel_pos=None)
    rep = load_pretrained(det, path, format="auto")
    assert rep.format == "mae"
    assert ("pos_embed", (1, 14, 14, DIM), (1, 8, 8, DIM)) in rep.resized
    torch.testing.assert_close(det.pos_embed.detach(), explicit_pretrain_pos(raw["pos_embed"], (8, 8)))

    pre = vit("pretrain", attention_strategy="global", window_block_indexes=None, rel_pos=None)
    rep = load_pretrained(pre, path, format="auto")
    assert "pos_embed" in rep.loaded
    assert not [r for r in rep.resized if r[0] == "pos_embed"]  # no resize at load time
    assert any(k == "pos_embed[:, :1]" for k, _ in rep.ignored)  # the class slot: dropped ...
    assert any(k == "pos_embed[:, :1]" for k, _ in rep.initialized)  # ... and the slot zeroed
    torch.testing.assert_close(pre.pos_embed[:, 1:].detach(), grid.reshape(1, 196, DIM))
    assert pre.pos_embed[:, :1].abs().sum() == 0
    # every other tensor of the model came from the file
    assert set(rep.loaded) == set(pre.state_dict())
    x = torch.randn(1, 3, IMG, IMG)
    det2 = _detection_twin(pre, attention_strategy="global", window_block_indexes=None, rel_pos=None)
    with torch.no_grad():
        torch.testing.assert_close(pre(x)["block1"], det2(x)["block1"], rtol=1e-5, atol=1e-5)


def test_flat_tables_resize_into_the_pretrain_grid():
    """A 16x16 (+cls) table (MAE ViT-H/14 at 224) into the 14x14 table of a patch-16 model:
    resized, the class slot kept; and the 14 -> 16 patch kernel resampled and reported."""
    pre = vit("pretrain", rel_pos=None, attention_strategy="global", window_block_indexes=None)
    sd = {k: v.clone() for k, v in pre.state_dict().items()}
    g = torch.Generator().manual_seed(3)
    sd["pos_embed"] = torch.randn(1, 1 + 256, DIM, generator=g)
    sd["patch_embed.proj.weight"] = torch.randn(DIM, 3, 14, 14, generator=g)
    rep = apply_state_dict(pre, sd, LoadReport(path="h14.pth", format="test"))
    assert ("pos_embed", (1, 257, DIM), (1, 197, DIM)) in rep.resized
    assert ("patch_embed.proj.weight", (DIM, 3, 14, 14), (DIM, 3, 16, 16)) in rep.resized
    torch.testing.assert_close(pre.pos_embed[:, :1].detach(), sd["pos_embed"][:, :1])
    torch.testing.assert_close(pre.pos_embed[:, 1:].detach(),
                               explicit_pretrain_pos(sd["pos_embed"], (14, 14)).reshape(1, 196, DIM))
    want = F.interpolate(sd["patch_embed.proj.weight"], size=(16, 16), mode="bicubic",
                         align_corners=False)
    torch.testing.assert_close(pre.patch_embed.proj.weight.detach(), want)
    assert not [k for k, _ in rep.initialized if k.startswith("pos_embed")]


@pytest.mark.parametrize("grid", ["detection", "pretrain"])
def test_float64_abs_pos_and_rel_table_resizes_stay_float64(grid):
    # Under AMP a half table is resized in fp32; a fp64 model keeps fp64 (round-off only).
    net = vit(grid, rel_pos="shared", rel_pos_init="random").double()
    hw = (10, 12)  # neither the detection (8x8) nor the pre-training (14x14) grid
    pos = net.abs_pos_embed(hw)
    assert pos.dtype == torch.float64

    def explicit(table):
        if grid == "pretrain":
            return explicit_pretrain_pos(table, hw)
        return F.interpolate(table.permute(0, 3, 1, 2), size=hw, mode="bicubic",
                             align_corners=False).permute(0, 2, 3, 1)

    ref = explicit(net.pos_embed)
    assert ref.dtype == torch.float64
    torch.testing.assert_close(pos, ref, rtol=1e-12, atol=1e-12)
    cut = explicit(net.pos_embed.float()).double()  # the same resize done in fp32
    assert (ref - cut).abs().max() > 1e-10  # so the check above tells fp64 from fp32

    rpb = net.global_rel_pos_bias  # 8x8 table, shared by the global block
    bias = rpb(hw)
    assert bias.dtype == torch.float64
    table = rpb.relative_position_bias_table  # ((2h-1)(2w-1), heads)
    img = table.T.reshape(1, -1, 15, 15)
    ref = F.interpolate(img, size=(19, 23), mode="bicubic", align_corners=True).reshape(-1, 19 * 23).T
    torch.testing.assert_close(resize_rel_pos_table(table, (8, 8), hw), ref, rtol=1e-12, atol=1e-12)
    cut = resize_rel_pos_table(table.float(), (8, 8), hw).double()
    assert (ref - cut).abs().max() > 1e-10
    assert rpb.lazy(hw).dense().dtype == torch.float64

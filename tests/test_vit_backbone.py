"""Structure and numerics of the paper's ViT backbone, necks and modified Mask R-CNN."""
import copy
import os

import pytest
import torch
import torch.nn as nn

import vitdet_bench  # noqa: F401  (compat before detectron2)
from detectron2.config import LazyConfig, instantiate
from detectron2.layers import NaiveSyncBatchNorm

from vitdet_bench.layers import convert_batchnorm_for_world, window_partition, window_unpartition
from vitdet_bench.modeling import (
    SimpleFeaturePyramid,
    ViT,
    attention_strategy_layout,
    build_vit_fpn,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGSHIP = os.path.join(REPO, "configs", "mae_vitb_mrcnn.py")


def tiny_vit(**kw):
    args = dict(img_size=128, patch_size=16, embed_dim=48, depth=8, num_heads=3,
                window_size=4, drop_path_rate=0.0)
    args.update(kw)
    return ViT(**args)


def global_blocks(net):
    return [i for i in range(net.depth) if net.is_global_block(i)]


@pytest.mark.parametrize("depth,expected", [(12, [2, 5, 8, 11]), (24, [5, 11, 17, 23])])
def test_default_global_blocks_are_last_of_each_quarter(depth, expected):
    layout = attention_strategy_layout("window_global", depth)
    glob = sorted(set(range(depth)) - set(layout["window_block_indexes"]))
    assert glob == expected
    assert layout["checkpoint_block_indexes"] == ()


def test_attention_strategies_layouts():
    assert attention_strategy_layout("window", 12)["window_block_indexes"] == tuple(range(12))
    assert attention_strategy_layout("global", 12) == dict(window_block_indexes=(),
                                                           checkpoint_block_indexes=())
    ck = attention_strategy_layout("global_checkpoint", 12)
    assert ck["window_block_indexes"] == () and ck["checkpoint_block_indexes"] == tuple(range(12))
    with pytest.raises(ValueError, match="global_windows.*not one of"):
        attention_strategy_layout("global_windows", 12)


def test_token_stage_layout_takes_a_family_s_global_blocks_and_checks_block_indexes():
    from vitdet_bench.modeling.backbone import token_stage

    # ConvMAE's design: "window_global" keeps the family's four global blocks, not the quarters.
    layout = token_stage.attention_strategy_layout("window_global", 11, global_block_indexes=(0, 3, 6, 10))
    assert layout["window_block_indexes"] == (1, 2, 4, 5, 7, 8, 9)
    blocks = token_stage.build_blocks(32, 2, [0.0] * 4, window_block_indexes=(1, 2), window_size=4,
                                      window_shift=True, checkpoint_block_indexes=(3,), rel_pos="decomposed",
                                      grid_size=(8, 8))
    assert [b.window_size for b in blocks] == [0, 4, 4, 0] and [b.shift_size for b in blocks] == [0, 0, 2, 0]
    assert [b.use_checkpoint for b in blocks] == [False, False, False, True]
    assert [tuple(b.attn.rel_pos_h.shape) for b in blocks] == [(15, 16), (7, 16), (7, 16), (15, 16)]
    with pytest.raises(ValueError, match=r"window_block_indexes \[4\] out of range for depth=4"):
        token_stage.build_blocks(32, 2, [0.0] * 4, window_block_indexes=(4,), window_size=4)


def test_strategy_and_explicit_indexes_conflict():
    with pytest.raises(ValueError, match="attention_strategy=None"):
        tiny_vit(window_block_indexes=(0,))
    net = tiny_vit(attention_strategy=None, window_block_indexes=(1, 2), checkpoint_block_indexes=(3,))
    assert global_blocks(net) == [0, 3, 4, 5, 6, 7]


def test_shared_relative_tables_one_per_kind():
    net = tiny_vit()
    assert net.window_rel_pos_bias.relative_position_bias_table.shape == ((2 * 4 - 1) ** 2, 3)
    assert net.global_rel_pos_bias.relative_position_bias_table.shape == ((2 * 8 - 1) ** 2, 3)
    names = [n for n, _ in net.named_parameters() if "rel" in n]
    assert names == ["window_rel_pos_bias.relative_position_bias_table",
                     "global_rel_pos_bias.relative_position_bias_table"]
    # zero init by default (the paper's rule for non-BEiT initializations)
    assert net.global_rel_pos_bias.relative_position_bias_table.abs().sum() == 0
    assert net.pos_embed.shape == (1, 8, 8, 48)


def test_positional_options_off():
    net = tiny_vit(use_abs_pos=False, rel_pos=None)
    assert net.pos_embed is None and net.window_rel_pos_bias is None
    assert net.global_rel_pos_bias is None
    out = net(torch.randn(1, 3, 128, 128))
    assert list(out) == ["block1", "block3", "block5", "block7"]


def test_vitdet_variant_has_decomposed_rel_pos_per_block():
    net = tiny_vit(rel_pos="decomposed", attention_strategy="window_global")
    assert global_blocks(net) == [1, 3, 5, 7]
    for i, blk in enumerate(net.blocks):
        size = 8 if net.is_global_block(i) else 4
        assert blk.attn.rel_pos_h.shape == (2 * size - 1, 16)
    assert net.window_rel_pos_bias is None


def test_window_size_equal_to_grid_reproduces_global_attention():
    torch.manual_seed(0)
    windowed = tiny_vit(attention_strategy="window", window_size=8, rel_pos_init="random")
    glob = tiny_vit(attention_strategy="global", window_size=8)
    # Same weights; the window table (8x8 windows) plays the global table's role.
    state = windowed.state_dict()
    state["global_rel_pos_bias.relative_position_bias_table"] = \
        state.pop("window_rel_pos_bias.relative_position_bias_table")
    glob.load_state_dict(state)
    x = torch.randn(2, 3, 128, 128)
    a, b = windowed(x), glob(x)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-5)


def test_window_partition_pads_and_roundtrips():
    x = torch.randn(2, 10, 7, 5)
    windows, pad_hw = window_partition(x, 4)
    assert pad_hw == (12, 8) and windows.shape == (2 * 3 * 2, 4, 4, 5)
    # padded positions are zeros
    assert windows.view(2, 3, 2, 4, 4, 5)[:, 2, :, 2:].abs().sum() == 0
    torch.testing.assert_close(window_unpartition(windows, 4, pad_hw, (10, 7)), x)


def test_windowed_block_on_padded_grid_matches_per_window_reference():
    """Grid 9x9 with 4x4 windows: padded to 12x12; each window attends within itself."""
    torch.manual_seed(0)
    net = tiny_vit(img_size=144, attention_strategy="window", window_size=4, depth=4,
                   rel_pos=None, use_abs_pos=False)
    blk = net.blocks[0]
    x = torch.randn(1, 9, 9, 48)
    y = blk(x, None)
    # reference: run the same attention on each zero-padded window explicitly
    h = blk.norm1(x)
    h = torch.nn.functional.pad(h, (0, 0, 0, 3, 0, 3))
    ref = torch.zeros_like(h)
    for i in range(0, 12, 4):
        for j in range(0, 12, 4):
            ref[:, i:i + 4, j:j + 4] = blk.attn(h[:, i:i + 4, j:j + 4])
    ref = x + ref[:, :9, :9]
    ref = ref + blk.mlp(blk.norm2(ref))
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)


def test_multiscale_neck_strides_and_channels():
    net = tiny_vit(img_size=128)
    fpn = build_vit_fpn(net, design="multiscale", out_channels=32, norm="BN", square_pad=128)
    shapes = fpn.output_shape()
    assert {k: v.stride for k, v in shapes.items()} == {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}
    assert {v.channels for v in shapes.values()} == {32}
    adaptor = fpn.bottom_up
    assert {k: v.stride for k, v in adaptor.output_shape().items()} == \
        {"c2": 4, "c3": 8, "c4": 16, "c5": 32}
    four_x = adaptor.stages[0]
    assert [type(m) for m in four_x] == [nn.ConvTranspose2d, nn.GroupNorm, nn.GELU, nn.ConvTranspose2d]
    assert isinstance(adaptor.stages[3], nn.MaxPool2d)
    out = fpn(torch.randn(1, 3, 128, 128))
    assert out["p2"].shape == (1, 32, 32, 32) and out["p6"].shape == (1, 32, 2, 2)
    assert fpn.size_divisibility == 128  # square padding on detectron2 0.6
    assert fpn.padding_constraints["square_size"] == 128
    bns = [m for n, m in fpn.named_modules() if n.startswith(("fpn_lateral", "fpn_output"))
           and isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 8  # BatchNorm in every FPN conv


def test_simple_feature_pyramid_variant():
    net = tiny_vit(rel_pos="decomposed", out_block_indexes=(7,))
    sfp = build_vit_fpn(net, design="simple", out_channels=32, norm="LN", square_pad=128)
    assert isinstance(sfp, SimpleFeaturePyramid)
    out = sfp(torch.randn(1, 3, 128, 128))
    assert {k: v.shape[-1] for k, v in out.items()} == {"p2": 32, "p3": 16, "p4": 8, "p5": 4, "p6": 2}
    # ViTDet's branch widths: 4x narrows dim -> dim/2 -> dim/4, 2x dim -> dim/2, 1x/0.5x keep dim.
    dim = net.embed_dim
    firsts = [stage[1].in_channels for stage in sfp.stages]  # the 1x1 conv after resampling
    assert firsts == [dim // 4, dim // 2, dim, dim]
    assert [m.out_channels for m in sfp.stages[0][0] if isinstance(m, nn.ConvTranspose2d)] == \
        [dim // 2, dim // 4]


@pytest.fixture(scope="module")
def flagship_model():
    cfg = LazyConfig.load(FLAGSHIP)
    return cfg, instantiate(cfg.model)


def test_flagship_config_builds_the_paper_model(flagship_model):
    cfg, model = flagship_model
    n = sum(p.numel() for p in model.parameters())
    assert 110e6 <= n <= 120e6, n
    vit = model.backbone.bottom_up.net
    assert (vit.embed_dim, vit.depth, vit.num_heads, vit.window_size) == (768, 12, 12, 14)
    assert global_blocks(vit) == [2, 5, 8, 11]
    assert vit.pos_embed.shape == (1, 64, 64, 768)
    assert vit.global_rel_pos_bias.relative_position_bias_table.shape == (127 * 127, 12)
    shapes = model.backbone.output_shape()
    assert {k: (v.stride, v.channels) for k, v in shapes.items()} == {
        "p2": (4, 256), "p3": (8, 256), "p4": (16, 256), "p5": (32, 256), "p6": (64, 256)}
    assert model.backbone.size_divisibility == 1024
    # RPN head: two 3x3 convs
    rpn_convs = [m for m in model.proposal_generator.rpn_head.conv.modules()
                 if isinstance(m, nn.Conv2d)]
    assert len(rpn_convs) == 2 and all(c.kernel_size == (3, 3) for c in rpn_convs)
    # box head: 4 convs with BN, 1 fc
    box = model.roi_heads.box_head
    convs = [m for m in box.conv_norm_relus]
    assert len(convs) == 4 and all(isinstance(c.norm, nn.BatchNorm2d) for c in convs)
    assert len(box.fcs) == 1 and box.fcs[0].out_features == 1024
    # mask head: its convs carry BN
    mask_convs = [m for n, m in model.roi_heads.mask_head.named_children() if n.startswith("mask_fcn")]
    assert len(mask_convs) == 4 and all(isinstance(c.norm, nn.BatchNorm2d) for c in mask_convs)
    assert cfg.train.epochs == 100 and cfg.dataloader.train.total_batch_size == 64


def test_batchnorm_becomes_synced_only_with_several_processes(flagship_model):
    _, model = flagship_model
    m = copy.deepcopy(model.roi_heads.box_head)
    assert convert_batchnorm_for_world(m, 1, "cpu") is m
    converted = convert_batchnorm_for_world(m, 2, "cpu")
    norms = [x for x in converted.modules() if isinstance(x, nn.BatchNorm2d)]
    assert norms and all(isinstance(x, NaiveSyncBatchNorm) for x in norms)


@pytest.mark.slow
def test_flagship_backbone_forward_backward_at_1024(flagship_model):
    """One 1024x1024 image through ViT-B + adaptor + FPN, forward and backward, on CPU."""
    _, model = flagship_model
    backbone = model.backbone.train()
    out = backbone(torch.randn(1, 3, 1024, 1024))
    assert out["p2"].shape == (1, 256, 256, 256)
    sum(v.float().mean() for v in out.values()).backward()
    vit = backbone.bottom_up.net
    assert vit.patch_embed.proj.weight.grad is not None
    assert vit.global_rel_pos_bias.relative_position_bias_table.grad.abs().sum() > 0

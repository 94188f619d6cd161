"""configs/vitdet/: ViTDet's Mask R-CNN recipe as published (detectron2 projects/ViTDet).

Models are built on the meta device (no memory, no init cost): ViT-H has 632M parameters.
"""
import os

import pytest
import torch
import torch.nn as nn

import vitdet_bench  # noqa: F401
from detectron2.config import LazyConfig, instantiate

from vitdet_bench.layers.norm import LayerNorm2d
from vitdet_bench.solver import get_param_groups

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {s: os.path.join(ROOT, "configs", "vitdet", f) for s, f in
           (("B", "mask_rcnn_vitdet_b_100ep.py"), ("L", "mask_rcnn_vitdet_l_100ep.py"),
            ("H", "mask_rcnn_vitdet_h_75ep.py"))}
SIZES = {"B": (768, 12, 12, (2, 5, 8, 11)), "L": (1024, 24, 16, (5, 11, 17, 23)),
         "H": (1280, 32, 16, (7, 15, 23, 31))}


def build(size):
    cfg = LazyConfig.load(CONFIGS[size])
    with torch.device("meta"):
        return cfg, instantiate(cfg.model)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# ------------------------------------------------ upstream's model, counted by hand
def upstream_counts(dim, depth, heads, n_global, classes=80):
    """Parameters of detectron2's ViT + SimpleFeaturePyramid + Mask R-CNN heads as
    ``common/models/mask_rcnn_vitdet.py`` builds them (module by module)."""
    lin = lambda i, o, b=True: i * o + (o if b else 0)  # noqa: E731
    hd = dim // heads
    block = 2 * dim + lin(dim, 3 * dim) + lin(dim, dim) + 2 * dim + lin(dim, 4 * dim) + lin(4 * dim, dim)
    rel = (depth - n_global) * 2 * (2 * 14 - 1) * hd + n_global * 2 * (2 * 64 - 1) * hd
    vit = (3 * 16 * 16 * dim + dim) + 197 * dim + depth * block + rel
    convs = lambda cin: cin * 256 + 2 * 256 + 9 * 256 * 256 + 2 * 256  # noqa: E731  1x1 + 3x3, LN, no bias
    sfp = [
        (4 * dim * (dim // 2) + dim // 2) + dim + (4 * (dim // 2) * (dim // 4) + dim // 4) + convs(dim // 4),
        (4 * dim * (dim // 2) + dim // 2) + convs(dim // 2),
        convs(dim),
        convs(dim),
    ]
    rpn = 2 * (9 * 256 * 256 + 256) + lin(256, 3) + lin(256, 12)
    conv_ln = 9 * 256 * 256 + 512
    box_head = 4 * conv_ln + lin(256 * 7 * 7, 1024)
    box_pred = lin(1024, classes + 1) + lin(1024, 4 * classes)
    mask_head = 4 * conv_ln + (4 * 256 * 256 + 256) + lin(256, classes)
    return dict(vit=vit, sfp=sfp, rpn=rpn, box_head=box_head, box_predictor=box_pred,
                mask_head=mask_head)


def test_vitb_parameter_count_is_upstreams():
    _, model = build("B")
    assert n_params(model) == 110_895_792
    c = upstream_counts(768, 12, 12, 4)
    assert sum(c["sfp"]) + c["vit"] + c["rpn"] + c["box_head"] + c["box_predictor"] + c["mask_head"] \
        == 110_895_792


@pytest.mark.parametrize("size", ["B", "L", "H"])
def test_per_stage_layout(size):
    dim, depth, heads, glob = SIZES[size]
    _, model = build(size)
    c = upstream_counts(dim, depth, heads, len(glob))
    net = model.backbone.net
    assert n_params(net) == c["vit"]
    assert [n_params(s) for s in model.backbone.stages] == c["sfp"]
    assert n_params(model.proposal_generator) == c["rpn"]
    assert n_params(model.roi_heads.box_head) == c["box_head"]
    assert n_params(model.roi_heads.box_predictor) == c["box_predictor"]
    assert n_params(model.roi_heads.mask_head) == c["mask_head"]
    assert n_params(model) == sum(c["sfp"]) + sum(v for k, v in c.items() if k != "sfp")
    # the ViT: patch 16, windows 14 except the global blocks, decomposed rel pos per block
    assert (net.embed_dim, net.depth, net.num_heads, net.patch_size) == (dim, depth, heads, 16)
    assert tuple(i for i in range(depth) if net.is_global_block(i)) == glob
    for i, blk in enumerate(net.blocks):
        assert blk.window_size == (0 if i in glob else 14)
        side = 64 if i in glob else 14
        assert tuple(blk.attn.rel_pos_h.shape) == (2 * side - 1, dim // heads)
    assert net.window_rel_pos_bias is None and net.global_rel_pos_bias is None
    assert tuple(net.pos_embed.shape) == (1, 197, dim) and net.pos_embed_grid == "pretrain"
    assert net.out_block_indexes == (depth - 1,)
    # the pyramid: p2..p6 from the last block, channel LayerNorm, heads with LayerNorm
    shapes = model.backbone.output_shape()
    assert {k: v.stride for k, v in shapes.items()} == {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}
    assert model.backbone.square_pad == 1024
    norms = [type(m) for s in model.backbone.stages for m in s.modules()
             if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, LayerNorm2d))]
    assert norms and set(norms) == {LayerNorm2d}
    for head in (model.roi_heads.box_head, model.roi_heads.mask_head):
        assert {type(m) for m in head.modules() if hasattr(m, "norm") and m.norm is not None} != set()
        assert all(isinstance(m.norm, LayerNorm2d) for m in head.modules()
                   if isinstance(m, nn.Conv2d) and getattr(m, "norm", None) is not None)
    assert len(model.proposal_generator.rpn_head.conv) == 2
    assert len(model.roi_heads.box_head.conv_norm_relus) == 4 and len(model.roi_heads.box_head.fcs) == 1


def test_flattened_recipe_values():
    expect = {  # size: drop path, layer decay, max_iter, milestones, no-wd names, wd norm
        "B": (0.1, 0.7, 184375, [163889, 177546], ("pos_embed",), 0.0),
        "L": (0.4, 0.8, 184375, [163889, 177546], ("pos_embed",), 0.0),
        "H": (0.5, 0.9, 138281, [122916, 133159], (), None),
    }
    for size, (dp, ld, iters, steps, no_wd, wd_norm) in expect.items():
        cfg = LazyConfig.load(CONFIGS[size])
        dim, depth, heads, glob = SIZES[size]
        net = cfg.model.backbone.net
        assert (net.embed_dim, net.depth, net.num_heads, net.drop_path_rate) == (dim, depth, heads, dp)
        assert (net.window_size, net.rel_pos, net.pos_embed_grid, net.pretrain_img_size) == \
            (14, "decomposed", "pretrain", 224)
        assert sorted(set(range(depth)) - set(net.window_block_indexes)) == list(glob)
        assert cfg.model.backbone.norm == "LN" and cfg.model.backbone.scale_factors == (4.0, 2.0, 1.0, 0.5)
        assert cfg.model.proposal_generator.head.conv_dims == [-1, -1]
        assert cfg.model.roi_heads.box_head.conv_dims == [256] * 4
        assert cfg.model.roi_heads.box_head.fc_dims == [1024]
        assert cfg.model.roi_heads.box_head.conv_norm.norm == "LN"
        assert cfg.model.roi_heads.mask_head.conv_norm.norm == "LN"
        tr = cfg.dataloader.train
        assert tr.total_batch_size == 64
        assert (tr.mapper.image_size, tr.mapper.min_scale, tr.mapper.max_scale) == (1024, 0.1, 2.0)
        assert tr.mapper.pad is False  # FixedSizeCrop(pad=False); the model pads
        assert cfg.dataloader.test.mapper.image_size == 1024
        opt = cfg.optimizer
        assert (opt.lr, tuple(opt.betas), opt.weight_decay) == (1e-4, (0.9, 0.999), 0.1)
        assert "AdamW" in str(opt._target_)
        p = opt.params
        assert (p.layer_decay, p.num_layers) == (ld, depth)
        assert tuple(p.no_weight_decay_names) == no_wd and p.weight_decay_norm == wd_norm
        assert p.weight_decay_bias is None and p.norm_types == "torch"
        assert cfg.train.epochs is None and cfg.train.max_iter == iters
        sch = cfg.lr_multiplier
        assert list(sch.scheduler.milestones) == steps and sch.scheduler.num_updates == iters
        assert list(sch.scheduler["values"]) == [1.0, 0.1, 0.01] and sch.warmup_factor == 0.001
        assert round(sch.warmup_length * 184375) == 250  # H keeps upstream's fraction (~187 iters)
        assert cfg.train.warmup_iters == (None if size == "H" else 250)
        assert cfg.train.amp.enabled and cfg.train.ddp.fp16_compression
        assert cfg.train.vitdet_bench.recipe == "vitdet"
        assert cfg.train.vitdet_bench.model_size == size


def test_param_groups_follow_upstream_optimizer():
    """get_default_optimizer_params(weight_decay_norm=0, overrides={pos_embed: wd 0}) with
    get_vit_lr_decay_rate(lr_decay_rate=0.7, num_layers=12): decay on biases, rel pos and
    the channel LayerNorms (not torch.nn norms there), none on pos_embed and the ViT's norms."""
    cfg, model = build("B")
    p = cfg.optimizer.params
    groups = get_param_groups(model, base_lr=1e-4, weight_decay=0.1, layer_decay=p.layer_decay,
                              num_layers=p.num_layers, no_weight_decay_names=p.no_weight_decay_names,
                              weight_decay_norm=p.weight_decay_norm, weight_decay_bias=p.weight_decay_bias,
                              norm_types=p.norm_types)
    by_param = {id(q): g for g in groups for q in g["params"]}
    named = dict(model.named_parameters())
    hyper = lambda n: (by_param[id(named[n])]["weight_decay"], by_param[id(named[n])]["lr_scale"])  # noqa: E731
    assert hyper("backbone.net.pos_embed") == (0.0, pytest.approx(0.7 ** 13))
    assert hyper("backbone.net.patch_embed.proj.weight") == (0.1, pytest.approx(0.7 ** 13))
    assert hyper("backbone.net.blocks.0.norm1.weight") == (0.0, pytest.approx(0.7 ** 12))
    assert hyper("backbone.net.blocks.0.attn.qkv.bias") == (0.1, pytest.approx(0.7 ** 12))
    assert hyper("backbone.net.blocks.11.attn.rel_pos_h") == (0.1, pytest.approx(0.7))
    assert hyper("backbone.stages.0.0.1.weight") == (0.1, 1.0)  # channel LN in the pyramid
    assert hyper("roi_heads.box_head.conv1.norm.weight") == (0.1, 1.0)
    assert hyper("roi_heads.box_predictor.cls_score.bias") == (0.1, 1.0)
    assert sum(len(g["params"]) for g in groups) == len(named)


def _yacs_backbone(**vit):
    from detectron2.config import CfgNode, get_cfg
    from detectron2.layers import ShapeSpec
    from vitdet_bench.modeling.backbone.vit import build_vit_backbone

    cfg = get_cfg()
    cfg.MODEL.VIT = CfgNode(vit)
    with torch.device("meta"):
        return build_vit_backbone(cfg, ShapeSpec(channels=3))


def _shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("neck,config", [
    ("simple", CONFIGS["B"]),
    ("multiscale", os.path.join(ROOT, "configs", "mae_vitb_mrcnn.py")),
])
def test_yacs_builder_brings_each_recipes_defaults(neck, config):
    """MODEL.VIT.NECK alone selects the whole backbone recipe; it equals the LazyConfig one."""
    ours = _yacs_backbone(NECK=neck)
    cfg = LazyConfig.load(config)
    with torch.device("meta"):
        lazy = instantiate(cfg.model.backbone)
    assert _shapes(ours) == _shapes(lazy)
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in lazy.modules()]
    net = ours.net if neck == "simple" else ours.bottom_up.net
    lazy_net = lazy.net if neck == "simple" else lazy.bottom_up.net
    assert (net.rel_pos, net.pos_embed_grid) == (lazy_net.rel_pos, lazy_net.pos_embed_grid)
    assert (net.rel_pos, net.pos_embed_grid) == (
        ("decomposed", "pretrain") if neck == "simple" else ("shared", "detection"))
    norm_types = {type(m).__name__ for m in ours.modules() if "Norm" in type(m).__name__}
    assert norm_types == ({"LayerNorm", "LayerNorm2d"} if neck == "simple"
                          else {"LayerNorm", "GroupNorm", "BatchNorm2d"})


def test_yacs_user_keys_win():
    ours = _yacs_backbone(NECK="simple", REL_POS="shared", POS_EMBED_GRID="detection", SIZE="L")
    assert (ours.net.rel_pos, ours.net.pos_embed_grid, ours.net.embed_dim) == ("shared", "detection", 1024)
    with pytest.raises(ValueError, match="MODEL.VIT.NECK"):
        _yacs_backbone(NECK="bifpn")

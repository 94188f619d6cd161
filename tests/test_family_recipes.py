"""The full-size pre-training family configs: ``configs/families/*_vit*_mrcnn.py`` (the
Benchmarking recipe) and ``configs/families/vitdet/*.py`` (the ViTDet recipe).

Every config is found by glob: a new family config is covered by adding its file. Each
is loaded through the project's pre-flight checks (``preview_config``, as
``tools/study.py plan`` does; absent datasets and pre-trained files are allowed) and its
detector is built on the meta device (no memory, no weights). What a test reads from a
config, i.e. the convention every family config follows:

* the timm model is the trunk's ``model_name`` (``model.backbone.bottom_up.net`` in the
  Benchmarking detector, ``model.backbone.net`` in ViTDet's). The expected
  ``model.pixel_mean`` / ``pixel_std`` are timm's ``pretrained_cfg`` mean / std of that
  name x 255: of the model's default pretrained tag, or of the tag written into the name
  (``"vit_base_patch16_siglip_224.v2_webli"``) when the weights are another tag's;
* the depth is the number of blocks of the built trunk (timm's model with the trunk's
  ``model_kwargs``); ``optimizer.params.num_layers`` must equal it;
* the taps: Benchmarking, four increasing blocks, the last one the last block, which are
  also the global blocks (default the last block of each quarter; a depth not divisible by
  4, or a family's published choice, sets ``out_block_indexes`` and the trunk's
  ``global_block_indexes`` explicitly); ViTDet, the last block only. The trunk keeps
  ``attention_strategy="window_global"``, so that ``tools/benchmark.py`` can switch it;
* the file name carries family, size and (ViTDet) epochs:
  ``<family>_vit<size>_mrcnn.py``, ``[cascade_]mask_rcnn_<family>_<size>_<epochs>ep.py``;
  ``train.vitdet_bench`` must say the same (``init=<family>``, ``model_size`` the size's
  label, ``recipe="vitdet"`` and ``epochs`` for ViTDet, ``detector="cascade"`` for a cascade).
"""
import functools
import glob
import math
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKING = sorted(glob.glob(os.path.join(REPO, "configs", "families", "*_vit*_mrcnn.py")))
VITDET = sorted(p for p in glob.glob(os.path.join(REPO, "configs", "families", "vitdet", "*.py"))
                if not os.path.basename(p).startswith("_"))
CONFIGS = BENCHMARKING + VITDET
# Every pre-training family with full-size configs (docs/families.md); a family dropped
# from configs/families/ fails here instead of vanishing from the tables.
EXPECTED_FAMILIES = {"dinov2", "dinov2reg", "dinov3", "eva02", "deit3", "siglip2", "pe_spatial",
                     "aimv2", "clip"}

SIZE_LABELS = {"b": "B", "l": "L", "h": "H", "g": "g", "so400m": "so400m"}
BENCHMARKING_NAME = re.compile(r"^(?P<family>[a-z0-9_]+?)_vit(?P<size>[a-z0-9]+)_mrcnn\.py$")
VITDET_NAME = re.compile(
    r"^(?P<cascade>cascade_)?mask_rcnn_(?P<family>[a-z0-9_]+)_(?P<size>[a-z0-9]+)_(?P<epochs>\d+)ep\.py$")


def _rel(path):
    return os.path.relpath(path, REPO)


def _recipe(path):
    return "vitdet" if path in VITDET else "benchmarking"


def _name_parts(path):
    """(family, size, epochs or None, cascade) from the file name."""
    base = os.path.basename(path)
    m = (VITDET_NAME if _recipe(path) == "vitdet" else BENCHMARKING_NAME).match(base)
    assert m, (f"{_rel(path)}: the name does not follow the plan's pattern "
               "(<family>_vit<size>_mrcnn.py or [cascade_]mask_rcnn_<family>_<size>_<N>ep.py)")
    d = m.groupdict()
    return d["family"], d["size"], int(d["epochs"]) if d.get("epochs") else None, bool(d.get("cascade"))


@functools.lru_cache(maxsize=None)
def _loaded(path):
    """(cfg, missing files, detector built on the meta device) of one config, once."""
    import torch
    from detectron2.config import instantiate

    from vitdet_bench.config import preview_config

    cfg, missing = preview_config(path)
    with torch.device("meta"):
        model = instantiate(cfg.model)
    return cfg, missing, model


def _trunk_cfg(cfg, path):
    return cfg.model.backbone.bottom_up.net if _recipe(path) == "benchmarking" else cfg.model.backbone.net


def _trunk(model, path):
    return model.backbone.bottom_up.net if _recipe(path) == "benchmarking" else model.backbone.net


def test_the_glob_finds_every_family_of_the_plan():
    found = {_name_parts(p)[0] for p in CONFIGS}
    assert EXPECTED_FAMILIES <= found, f"no full-size configs for {EXPECTED_FAMILIES - found}"
    for family in EXPECTED_FAMILIES:
        recipes = {_recipe(p) for p in CONFIGS if _name_parts(p)[0] == family}
        assert recipes == {"benchmarking", "vitdet"}, f"{family}: only the {recipes} recipe"


@pytest.mark.parametrize("path", CONFIGS, ids=_rel)
def test_config_passes_the_checks_and_builds(path):
    from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk

    cfg, missing, model = _loaded(path)
    # only what a preview may lack on this machine: the datasets' files, the pre-trained file
    others = [m.what for m in missing
              if not (m.what.startswith("dataset ") or m.what.startswith("train.init_checkpoint"))]
    assert not others, f"{_rel(path)}: {others}"
    trunk = _trunk(model, path)
    assert isinstance(trunk, TimmTrunk)
    # the necks need stride 16: patch 14 families are resampled to 16
    assert trunk.patch_size == 16, f"{_rel(path)}: patch stride {trunk.patch_size}"
    expected_grid = "pretrain" if _recipe(path) == "vitdet" else "detection"
    assert trunk.pos_embed_grid == expected_grid


@pytest.mark.parametrize("path", CONFIGS, ids=_rel)
def test_timm_model_and_pixel_statistics(path):
    import timm
    from timm.models import get_pretrained_cfg

    cfg, _, _ = _loaded(path)
    name = _trunk_cfg(cfg, path).model_name
    assert timm.is_model(name), f"{_rel(path)}: timm has no model {name!r}"
    if "." in name:
        assert name in timm.list_pretrained(name), f"{_rel(path)}: timm has no pretrained tag {name!r}"
    pretrained = get_pretrained_cfg(name)
    assert pretrained is not None, f"{_rel(path)}: timm has no pretrained_cfg for {name!r}"
    for key, ours in (("mean", cfg.model.pixel_mean), ("std", cfg.model.pixel_std)):
        expected = [255 * v for v in getattr(pretrained, key)]
        assert len(ours) == 3 and all(math.isclose(a, b, rel_tol=1e-7) for a, b in zip(ours, expected)), (
            f"{_rel(path)}: model.pixel_{key}={list(ours)}, but timm's pretrained_cfg of "
            f"{name}.{pretrained.tag} gives {expected} (x255)")


@pytest.mark.parametrize("path", CONFIGS, ids=_rel)
def test_optimizer_and_schedule(path):
    import copy

    from detectron2.config import instantiate

    from vitdet_bench.config import apply_warmup_iters, check_schedule, compute_max_iter
    from vitdet_bench.study import COCO_TRAIN_SIZES

    cfg, _, model = _loaded(path)
    depth = _trunk(model, path).depth
    # layer-wise lr decay counts the family's blocks
    assert cfg.optimizer.params.num_layers == depth
    assert 0 < cfg.optimizer.params.layer_decay <= 1
    assert 0 < cfg.optimizer.lr < 1e-3
    assert 0 <= _trunk_cfg(cfg, path).drop_path_rate < 1
    cfg = copy.deepcopy(cfg)
    # the optimizer as training builds it: patch embedding (and tables) layer 0, block i
    # layer i + 1, the rest depth + 1
    cfg.optimizer.params.model = model
    optimizer = instantiate(cfg.optimizer)
    layer_ids = set().union(*(g["layer_ids"] for g in optimizer.param_groups))
    assert layer_ids == set(range(depth + 2)), sorted(layer_ids)
    # the schedule converts for COCO as a launch does (epochs -> iterations, warm-up)
    max_iter = compute_max_iter(cfg, COCO_TRAIN_SIZES["coco_2017_train"])
    _, _, epochs, _ = _name_parts(path)
    expected_epochs = epochs or cfg.train.epochs
    batch = cfg.dataloader.train.total_batch_size
    # (ViTDet's iteration counts were computed with 118000 images: 100.6 epochs of 117266)
    trained = max_iter * batch / COCO_TRAIN_SIZES["coco_2017_train"]
    assert math.isclose(trained, expected_epochs, rel_tol=0.01), (max_iter, trained)
    apply_warmup_iters(cfg, max_iter)
    check_schedule(cfg, max_iter)


@pytest.mark.parametrize("path", CONFIGS, ids=_rel)
def test_taps_name_existing_blocks(path):
    cfg, _, model = _loaded(path)
    trunk = _trunk(model, path)
    depth = trunk.depth
    global_blocks = [i for i in range(depth) if trunk.is_global_block(i)]
    if _recipe(path) == "benchmarking":
        taps = list(trunk.out_block_indexes)
        assert len(taps) == 4 and taps == sorted(set(taps)) and taps[-1] == depth - 1, taps
        if depth % 4 == 0 and "out_block_indexes" not in _trunk_cfg(cfg, path):
            assert taps == [depth // 4 * (i + 1) - 1 for i in range(4)]
        assert list(model.backbone.bottom_up.in_features) == [f"block{i}" for i in taps]
        assert global_blocks == taps, f"{_rel(path)}: global blocks {global_blocks}, taps {taps}"
    else:
        assert list(trunk.out_block_indexes) == [depth - 1]
        assert model.backbone.in_feature == f"block{depth - 1}"
        assert len(global_blocks) == 4 and global_blocks[-1] == depth - 1, global_blocks
    assert set(trunk.output_shape()) == {f"block{i}" for i in trunk.out_block_indexes}
    # by strategy name (tools/benchmark.py switches it); other global blocks by index
    net = _trunk_cfg(cfg, path)
    assert net.attention_strategy == "window_global", f"{_rel(path)}: {net.attention_strategy!r}"
    assert "window_block_indexes" not in net and "checkpoint_block_indexes" not in net
    if depth % 4 or "global_block_indexes" in net:
        assert list(net.global_block_indexes) == global_blocks


# the configs whose global blocks are not the last of each quarter
OWN_GLOBAL_BLOCKS = [p for p in CONFIGS if os.path.basename(p) in (
    "siglip2_vitso400m_mrcnn.py", "mask_rcnn_siglip2_so400m_75ep.py",
    "pe_spatial_vitg_mrcnn.py", "mask_rcnn_pe_spatial_g_75ep.py")]


@pytest.mark.parametrize("path", OWN_GLOBAL_BLOCKS, ids=_rel)
def test_benchmark_strategies_apply_to_own_global_blocks(path):
    """tools/benchmark.py sets each attention strategy on the trunk of these configs."""
    import copy

    import torch
    from detectron2.config import instantiate

    from vitdet_bench.measure.cells import configure_backbone

    cfg, _, model = _loaded(path)
    depth = _trunk(model, path).depth
    own = [i for i in range(depth) if _trunk(model, path).is_global_block(i)]
    assert own != [depth // 4 * (k + 1) - 1 for k in range(4)], own
    expected = {"window_global": own, "window": [], "global_checkpoint": list(range(depth)),
                "global": list(range(depth))}
    for strategy, global_blocks in expected.items():
        node = copy.deepcopy(_trunk_cfg(cfg, path))
        configure_backbone(node, "net", attention_strategy=strategy, img_size=512)
        with torch.device("meta"):
            trunk = instantiate(node)
        assert [i for i in range(depth) if trunk.is_global_block(i)] == global_blocks, strategy
        checkpointed = list(range(depth)) if strategy == "global_checkpoint" else []
        assert list(trunk.checkpoint_block_indexes) == checkpointed, strategy


def _small_trunk(**kw):
    from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk

    return TimmTrunk("vit_base_patch16_224", img_size=64, pretrain_img_size=64, window_size=2,
                     model_kwargs=dict(depth=7, embed_dim=32, num_heads=2), **kw)


def test_trunk_global_block_indexes_under_each_strategy():
    import torch

    own = (1, 4, 6)
    trunk = _small_trunk(attention_strategy="window_global", global_block_indexes=own)
    assert [i for i in range(7) if trunk.is_global_block(i)] == list(own)
    assert trunk.window_block_indexes == (0, 2, 3, 5)
    # the other strategies make every block windowed or global: the indexes are unused
    assert all(_small_trunk(attention_strategy="global", global_block_indexes=own).is_global_block(i)
               for i in range(7))
    assert _small_trunk(attention_strategy="window", global_block_indexes=own).window_block_indexes \
        == tuple(range(7))
    # the same values as the explicit window blocks it replaces
    explicit = _small_trunk(attention_strategy=None, window_block_indexes=(0, 2, 3, 5),
                            out_block_indexes=(6,))
    ours = _small_trunk(attention_strategy="window_global", global_block_indexes=own,
                        out_block_indexes=(6,))
    ours.load_state_dict(explicit.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x)["block6"], explicit(x)["block6"])


def test_trunk_global_block_indexes_are_checked():
    with pytest.raises(ValueError, match=r"global_block_indexes \[7\] out of range"):
        _small_trunk(attention_strategy="window_global", global_block_indexes=(2, 7))
    with pytest.raises(ValueError, match="needs attention_strategy"):
        _small_trunk(attention_strategy=None, global_block_indexes=(2, 6))


def test_yacs_builder_takes_global_block_indexes():
    from detectron2.config import CfgNode, get_cfg
    from detectron2.layers import ShapeSpec
    from detectron2.modeling import BACKBONE_REGISTRY

    cfg = get_cfg()
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    cfg.MODEL.TIMM = CfgNode(dict(
        MODEL_NAME="vit_base_patch16_224", MODEL_KWARGS=dict(depth=8, embed_dim=32, num_heads=2),
        IMG_SIZE=64, PRETRAIN_IMG_SIZE=64, WINDOW_SIZE=2, GLOBAL_BLOCK_INDEXES=[0, 2, 5, 7],
        DROP_PATH_RATE=0.0))
    net = BACKBONE_REGISTRY.get("build_timm_trunk_backbone")(cfg, ShapeSpec(channels=3)).bottom_up.net
    assert net.window_block_indexes == (1, 3, 4, 6)


def test_yacs_builder_taps_the_global_blocks_of_a_depth_not_divisible_by_4():
    """A 27- or 50-block family through yacs: the multi-scale adaptor reads the four global
    blocks (or OUT_BLOCK_INDEXES), and the detector runs."""
    import torch
    from detectron2.config import CfgNode, get_cfg
    from detectron2.layers import ShapeSpec
    from detectron2.modeling import BACKBONE_REGISTRY

    cfg = get_cfg()
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    cfg.MODEL.TIMM = CfgNode(dict(
        MODEL_NAME="vit_base_patch16_224", MODEL_KWARGS=dict(depth=7, embed_dim=32, num_heads=2),
        IMG_SIZE=64, PRETRAIN_IMG_SIZE=64, WINDOW_SIZE=2, GLOBAL_BLOCK_INDEXES=[1, 3, 5, 6],
        DROP_PATH_RATE=0.0))
    build = BACKBONE_REGISTRY.get("build_timm_trunk_backbone")
    backbone = build(cfg, ShapeSpec(channels=3))
    assert backbone.bottom_up.in_features == ("block1", "block3", "block5", "block6")
    assert {k: tuple(v.shape[-2:]) for k, v in backbone(torch.zeros(1, 3, 64, 64)).items()} == {
        "p2": (16, 16), "p3": (8, 8), "p4": (4, 4), "p5": (2, 2), "p6": (1, 1)}
    cfg.MODEL.TIMM.OUT_BLOCK_INDEXES = [0, 2, 4, 6]
    assert build(cfg, ShapeSpec(channels=3)).bottom_up.in_features == ("block0", "block2", "block4", "block6")


@pytest.mark.parametrize("path", CONFIGS, ids=_rel)
def test_checkpoint_format_and_run_labels(path):
    from vitdet_bench.checkpoint import registered_formats

    cfg, _, model = _loaded(path)
    family, size, epochs, cascade = _name_parts(path)
    assert cfg.train.init_format in registered_formats(), cfg.train.init_format
    assert cfg.train.init_format not in ("auto", "random")
    assert cfg.train.init_checkpoint.startswith("pretrained/"), cfg.train.init_checkpoint
    labels = cfg.train.vitdet_bench
    assert labels.init == family
    assert size in SIZE_LABELS, f"{_rel(path)}: unknown size {size!r} (known: {sorted(SIZE_LABELS)})"
    assert labels.model_size == SIZE_LABELS[size]
    if _recipe(path) == "vitdet":
        assert labels.recipe == "vitdet"
        assert labels.epochs == epochs
    else:
        assert labels.get("recipe", "benchmarking") == "benchmarking"
        assert labels.epochs == cfg.train.epochs
    from detectron2.modeling.roi_heads import CascadeROIHeads

    assert isinstance(model.roi_heads, CascadeROIHeads) == cascade
    assert (labels.get("detector", None) == "cascade") == cascade

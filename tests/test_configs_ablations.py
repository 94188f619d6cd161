"""Every file of configs/ablations/ and configs/resnet/ builds, and changes exactly its row.

* Each config is compared with the recipe it starts from (flattened, key by key): the
  keys that differ, besides the run's bookkeeping (``train.output_dir``,
  ``train.vitdet_bench.*``), must be exactly the row's change listed in ``EXPECTED``.
  A failure lists the differing keys of that file.
* Each config's detector is instantiated on CPU (ViT rows with 32-channel blocks on a
  224 px grid, same structure; ResNets on the meta device at full size), and the rows that
  change the detector's structure run one forward pass at that small size.
* The positional-information rows load a checkpoint in the public MAE / BEiT layout and
  the tables come out as the row says (pre-trained / random / zero / absent).
* The ResNet configs' saved config (LazyConfig.save, what a run folder keeps) names the
  ResNet backbone and its depth, so run tables can tell ResNet runs apart.
"""
import functools
import glob
import os

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import vitdet_bench  # noqa: F401
from detectron2.config import LazyConfig, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

import checkpoint_fixtures as F
from vitdet_bench.checkpoint import load_pretrained

FLAGSHIP = "mae_vitb_mrcnn"
BOOKKEEPING = ("train.output_dir", "train.vitdet_bench")
VIT = "model.backbone.bottom_up.net."
ANY = object()  # "this key may take any value" (subtrees replaced wholesale)

# file -> (base recipe, {key: expected value}); a key ending in ".*" allows any change below it.
POS_KEEP_ABS, POS_KEEP_REL = "^pos_embed$", "relative_position_bias_table$"


def _pos_rows():
    rows = {}
    for a in ("pt", "rand", "no"):
        for r in ("zero", "rand", "no"):
            exp, keep = {}, []
            if a == "no":
                exp[VIT + "use_abs_pos"] = False
            if a == "rand":
                keep.append(POS_KEEP_ABS)
            if r == "no":
                exp[VIT + "rel_pos"] = None
            if r == "rand":
                exp[VIT + "rel_pos_init"] = "random"
                keep.append(POS_KEEP_REL)
            if keep:
                exp["train.init_keep"] = keep
            rows[f"pos_mae_abs_{a}_rel_{r}"] = ("mae_vitb_mrcnn", exp)
    for a in ("rand", "no"):
        for r in ("pt", "zero", "rand", "no"):
            exp = {}
            if a == "no":
                exp[VIT + "use_abs_pos"] = False
            if r == "no":
                exp[VIT + "rel_pos"] = None
            if r == "rand":
                exp[VIT + "rel_pos_init"] = "random"
            if r in ("zero", "rand"):
                exp["train.init_keep"] = [POS_KEEP_REL]
            rows[f"pos_beit_abs_{a}_rel_{r}"] = ("beit_vitb_mrcnn", exp)
    return rows


EXPECTED = {
    "fpn_multiscale_d4_d2_3d4_d": (FLAGSHIP, {}),
    "fpn_last_block_x4": (FLAGSHIP, {"model.backbone.bottom_up.in_features": ["block11"] * 4}),
    "fpn_single_scale_no_adaptor": (FLAGSHIP, {
        "model.backbone.*": ANY,  # ViT straight into a one-level FPN
        "model.backbone.in_features": ["block11"],
        "model.backbone.top_block": None,
        "model.proposal_generator.in_features": ["p4"],
        "model.proposal_generator.anchor_generator.sizes": [[32, 64, 128, 256, 512]],
        "model.proposal_generator.anchor_generator.strides": [16],
        "model.proposal_generator.head.num_anchors": 15,
        "model.roi_heads.box_in_features": ["p4"],
        "model.roi_heads.mask_in_features": ["p4"],
        "model.roi_heads.box_pooler.scales": [1.0 / 16],
        "model.roi_heads.mask_pooler.scales": [1.0 / 16],
    }),
    **{f"mem_{s}": (FLAGSHIP, {VIT + "attention_strategy": s} if s != "window_global" else {})
       for s in ("window", "window_global", "global_checkpoint", "global")},
    **_pos_rows(),
    **{f"pretrain_mae_{e}ep": (FLAGSHIP, {"train.init_checkpoint": f"pretrained/mae_pretrain_vit_base_{e}ep.pth"})
       for e in (100, 200, 400, 800, 1600)},
    **{f"pretrain_beit_{e}ep": ("beit_vitb_mrcnn",
                                {"train.init_checkpoint": f"pretrained/beit_base_patch16_224_pt1k_{e}ep.pth"})
       for e in (100, 200, 400, 800)},
}

_RESNET_COMMON = {"model.backbone.*": ANY, "optimizer.params.layer_decay": 1.0}
EXPECTED_RESNET = {}
for _d in (50, 101):
    EXPECTED_RESNET[f"r{_d}_mrcnn_scratch"] = (FLAGSHIP, {
        **_RESNET_COMMON, "model.backbone.bottom_up.stages.depth": _d,
        "model.backbone.bottom_up.stages.stride_in_1x1": False,
        "optimizer.lr": 1.6e-4, "train.epochs": 400, "train.init_checkpoint": "",
        "train.init_format": "auto"})
    EXPECTED_RESNET[f"r{_d}_mrcnn_in1k"] = (FLAGSHIP, {
        **_RESNET_COMMON, "model.backbone.bottom_up.stages.depth": _d,
        "model.backbone.bottom_up.stages.stride_in_1x1": False,
        "train.init_checkpoint": ANY, "train.init_format": "auto"})
    EXPECTED_RESNET[f"r{_d}_mrcnn_in1k_msra"] = (f"resnet/r{_d}_mrcnn_in1k", {
        "model.backbone.bottom_up.stages.stride_in_1x1": True, "model.input_format": "BGR",
        "model.pixel_mean": [103.530, 116.280, 123.675], "model.pixel_std": [1.0, 1.0, 1.0],
        "dataloader.train.mapper.image_format": "BGR", "dataloader.test.mapper.image_format": "BGR",
        "train.init_checkpoint": f"pretrained/R-{_d}.pkl"})


ROOTS = ("model", "dataloader", "optimizer", "lr_multiplier", "train")


def _load(rel):
    return LazyConfig.load(os.path.join(REPO, "configs", rel + ".py"))


def flat(cfg) -> dict:
    """The run's config flattened (module-level helpers such as ``vit = ...`` left out)."""
    # unresolved: an interpolation such as "${..lr}" is compared as written
    return flatten({k: OmegaConf.to_container(cfg[k], resolve=False) for k in ROOTS if k in cfg})


def _leaf(v):
    if isinstance(v, (ListConfig, list, tuple)):
        return [_leaf(x) for x in v]
    if isinstance(v, (DictConfig, dict)):
        return flatten(v)
    return v


def flatten(node, prefix=""):
    """``{dotted.key: leaf}`` of a LazyConfig (lists are leaves, as plain lists)."""
    out = {}
    for k in node.keys():
        v = node[k]
        if isinstance(v, (DictConfig, dict)) and len(v):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + str(k)] = _leaf(v)
    return out


def differing_keys(a: dict, b: dict) -> dict:
    keys = set(a) | set(b)
    diff = {}
    for k in sorted(keys):
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        if va != vb:
            diff[k] = (va, vb)
    return {k: v for k, v in diff.items() if not k.startswith(BOOKKEEPING)}


@functools.lru_cache(maxsize=None)
def _flat_base(base):
    return flat(_load(base))


def _check_row(name, base, expected):
    cfg = _load(name)
    diff = differing_keys(_flat_base(base), flat(cfg))
    wild = [k[:-2] for k in expected if k.endswith(".*")]
    exact = {k: v for k, v in expected.items() if not k.endswith(".*")}
    unexplained = [k for k in diff if k not in exact and not any(k.startswith(w + ".") for w in wild)]
    missing = [k for k in exact if k not in diff]
    wrong = {k: diff[k][1] for k, v in exact.items()
             if k in diff and v is not ANY and not _close(diff[k][1], v)}
    assert not unexplained and not missing and not wrong, (
        f"{name} vs {base}: differing keys {sorted(diff)}; unexplained {unexplained}, "
        f"expected but unchanged {missing}, wrong values {wrong}")
    for w in wild:
        assert any(k.startswith(w + ".") for k in diff), f"{name}: nothing changed under {w}"
    return cfg


def _close(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-12 * max(1.0, abs(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def test_every_file_has_an_expectation():
    abl = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "configs", "ablations", "*.py"))}
    res = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "configs", "resnet", "*.py"))
           if not os.path.basename(p).startswith("_")}
    assert abl == set(EXPECTED), sorted(abl ^ set(EXPECTED))
    assert res == set(EXPECTED_RESNET), sorted(res ^ set(EXPECTED_RESNET))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ablation_changes_exactly_its_row(name):
    base, expected = EXPECTED[name]
    cfg = _check_row("ablations/" + name, base, expected)
    assert cfg.train.vitdet_bench.ablation  # each run says which row it is
    assert cfg.train.output_dir.startswith("./output/ablations/" + name)
    instantiate(_shrink(cfg).model)  # the row's structure at small widths (fast)


@pytest.mark.parametrize("name", sorted(EXPECTED_RESNET))
def test_resnet_config_changes_exactly_the_backbone_and_recipe(name):
    base, expected = EXPECTED_RESNET[name]
    cfg = _check_row("resnet/" + name, base, expected)
    with torch.device("meta"):
        model = instantiate(cfg.model)
    from detectron2.modeling.backbone import ResNet

    assert isinstance(model.backbone.bottom_up, ResNet)


def test_beit_recipe_differs_from_the_flagship_only_by_its_init():
    diff = differing_keys(flat(_load(FLAGSHIP)), flat(_load("beit_vitb_mrcnn")))
    assert set(diff) == {VIT + "layer_scale_init_value", VIT + "abs_pos_init",
                         "train.init_checkpoint", "train.init_format"}, sorted(diff)


def test_resnet_saved_config_names_its_backbone(tmp_path):
    """What a run folder's config.yaml says: the ResNet target and depth (issue 14 tells runs apart by it)."""
    for name, depth in (("r50_mrcnn_scratch", 50), ("r101_mrcnn_in1k", 101)):
        path = str(tmp_path / f"{name}.yaml")
        LazyConfig.save(_load("resnet/" + name), path)
        saved = LazyConfig.load(path)
        target = saved.model.backbone.bottom_up._target_
        assert target.startswith("detectron2.") and target.endswith(".ResNet"), target
        assert saved.model.backbone.bottom_up.stages.depth == depth
        assert saved.train.vitdet_bench.model_size == f"R{depth}"
    flagship = str(tmp_path / "flagship.yaml")
    LazyConfig.save(_load(FLAGSHIP), flagship)
    assert "ResNet" not in LazyConfig.load(flagship).model.backbone.bottom_up._target_


# ------------------------------------------------------------ small forwards
STRUCTURAL = ["fpn_last_block_x4", "fpn_single_scale_no_adaptor", "mem_window",
              "mem_global_checkpoint", "pos_mae_abs_no_rel_no"]


def _shrink(cfg, size=224):
    """Same structure, tiny widths: 12 blocks of 32 channels on a 14x14 token grid."""
    vit = cfg.model.backbone.get("net") or cfg.model.backbone.bottom_up.get("net") or cfg.model.backbone.bottom_up
    vit.img_size, vit.embed_dim, vit.num_heads = size, 32, 2
    cfg.model.backbone.square_pad = size
    # a handful of proposals and detections: the heads' cost, not the structure, grows with them
    cfg.model.proposal_generator.post_nms_topk = (1000, 8)
    cfg.model.roi_heads.box_predictor.test_topk_per_image = 4
    return cfg


@pytest.mark.parametrize("name", STRUCTURAL)
def test_structural_rows_run_a_forward(name):
    cfg = _shrink(_load("ablations/" + name))
    model = instantiate(cfg.model).eval()
    with torch.no_grad():
        out = model([{"image": torch.rand(3, 200, 224) * 255, "height": 200, "width": 224}])
    assert "instances" in out[0]


# ------------------------------------------------- positional rows, loaded
def _row_vit(name):
    cfg = _load("ablations/" + name)
    vit = cfg.model.backbone.bottom_up.net
    vit.img_size, vit.embed_dim, vit.depth, vit.num_heads = F.IMG, F.DIM, F.DEPTH, F.HEADS
    vit.attention_strategy, vit.window_block_indexes = None, [0]  # one window, one global block
    vit.out_block_indexes = [F.DEPTH - 1]
    return instantiate(vit), cfg


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.startswith("pos_")))
def test_positional_row_loads_as_it_says(tmp_path, name):
    init, a, r = name.split("_")[1], name.split("_")[3], name.split("_")[5]
    path = tmp_path / "ckpt.pth"
    (F.make_mae if init == "mae" else F.make_beit)(path)
    sd = torch.load(path, weights_only=False)["model"]
    net, cfg = _row_vit(name)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    load_pretrained(net, path, format=cfg.train.init_format, keep_init=cfg.train.get("init_keep", ()))
    tables = [m.relative_position_bias_table for m in (net.window_rel_pos_bias, net.global_rel_pos_bias)
              if m is not None]
    if a == "no":
        assert net.pos_embed is None
    elif a == "pt":
        assert torch.allclose(net.pos_embed.flatten(), sd["pos_embed"][:, 1:].flatten())
    else:  # rand: trunc-normal(0.02); for MAE the model's own draw, kept instead of the file's
        assert 0.01 < net.pos_embed.std().item() < 0.03
        if init == "mae":
            assert torch.equal(net.pos_embed, before["pos_embed"])
    if r == "no":
        assert not tables
    elif r == "zero":
        assert len(tables) == 2 and all(torch.count_nonzero(t) == 0 for t in tables)
    elif r == "rand":
        assert len(tables) == 2 and all(t.abs().sum() > 0 for t in tables)
        assert torch.equal(net.window_rel_pos_bias.relative_position_bias_table,
                           before["window_rel_pos_bias.relative_position_bias_table"])
    else:  # pt: BEiT's shared table, class rows dropped (same 14x14 size for the window table)
        want = sd["rel_pos_bias.relative_position_bias_table"][:-3]
        assert torch.equal(net.window_rel_pos_bias.relative_position_bias_table.detach(), want)


def test_training_start_passes_init_keep(tmp_path):
    """tools/train_net.py's initialization step (engine.trainer.load_initialization) applies
    the config's train.init_keep, and the saved init report says so."""
    import json

    from vitdet_bench.engine.trainer import load_initialization

    F.make_mae(tmp_path / "mae.pth")
    net, cfg = _row_vit("pos_mae_abs_rand_rel_rand")
    before = net.pos_embed.detach().clone()
    cfg.train.init_checkpoint, cfg.train.output_dir = str(tmp_path / "mae.pth"), str(tmp_path)
    load_initialization(cfg, net, checkpointer=None)
    assert torch.equal(net.pos_embed.detach(), before)
    report = json.loads((tmp_path / "init_report.json").read_text())
    assert ["pos_embed", "not transferred: the model keeps its own init (keep_init '^pos_embed$')"] \
        in report["ignored"]

"""Cascade Mask R-CNN from one config helper (configs/common/cascade.py) for every family."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

import vitdet_bench  # noqa: F401
from detectron2.config import LazyConfig, instantiate
from detectron2.modeling.roi_heads import CascadeROIHeads
from test_vitdet_recipe import n_params, upstream_counts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VITDET = {s: os.path.join(ROOT, "configs", "vitdet", f) for s, f in
          (("B", "cascade_mask_rcnn_vitdet_b_100ep.py"), ("L", "cascade_mask_rcnn_vitdet_l_100ep.py"),
           ("H", "cascade_mask_rcnn_vitdet_h_75ep.py"))}
SIZES = {"B": (768, 12, 12, 4), "L": (1024, 24, 16, 4), "H": (1280, 32, 16, 4)}
# one Mask R-CNN config per family: (path, box-head norm)
FAMILIES = {
    "vit_benchmarking": ("configs/mae_vitb_mrcnn.py", "BN"),
    "vitdet": ("configs/vitdet/mask_rcnn_vitdet_b_100ep.py", "LN"),
    "resnet": ("configs/resnet/r50_mrcnn_in1k.py", None),
    "convmae": ("projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py", None),
    "itpn": ("projects/iTPN/configs/itpn_pixel_b_mrcnn_1x.py", None),
}


def build(cfg):
    with torch.device("meta"):
        return instantiate(cfg.model)


def cascade_counts(dim, depth, heads, n_global, classes=80):
    """Upstream cascade_mask_rcnn_vitdet: the Mask R-CNN's parts, the box head x3, and three
    class-agnostic predictors (cls_score + a 4-output bbox_pred)."""
    c = upstream_counts(dim, depth, heads, n_global, classes)
    stage_pred = 1024 * (classes + 1) + (classes + 1) + 1024 * 4 + 4
    return sum(c["sfp"]) + c["vit"] + c["rpn"] + c["mask_head"] + 3 * (c["box_head"] + stage_pred)


def test_vitdet_b_cascade_parameter_count_is_upstreams():
    model = build(LazyConfig.load(VITDET["B"]))
    assert n_params(model) == cascade_counts(*SIZES["B"]) == 141_160_990


@pytest.mark.parametrize("size", ["B", "L", "H"])
def test_vitdet_cascade_stages(size):
    cfg = LazyConfig.load(VITDET[size])
    model = build(cfg)
    rh = model.roi_heads
    assert isinstance(rh, CascadeROIHeads) and rh.num_cascade_stages == 3
    assert [m.thresholds[1] for m in rh.proposal_matchers] == [0.5, 0.6, 0.7]
    assert not any(m.allow_low_quality_matches for m in rh.proposal_matchers)
    assert [tuple(p.box2box_transform.weights) for p in rh.box_predictor] == \
        [(10, 10, 5, 5), (20, 20, 10, 10), (30, 30, 15, 15)]
    for head, pred in zip(rh.box_head, rh.box_predictor):
        assert pred.bbox_pred.out_features == 4              # class-agnostic
        assert pred.cls_score.out_features == 81
        assert type(head.conv1.norm).__name__ == "LayerNorm2d" and len(head.fcs) == 1
    assert n_params(model) == cascade_counts(*SIZES[size])
    # the schedule and data are the Mask R-CNN recipe's
    base = LazyConfig.load(VITDET[size].replace("cascade_", ""))
    assert cfg.train.max_iter == base.train.max_iter
    assert cfg.dataloader.train.total_batch_size == base.dataloader.train.total_batch_size


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_has_its_cascade(family):
    path, norm = FAMILIES[family]
    from configs.common.cascade import to_cascade

    cfg = LazyConfig.load(os.path.join(ROOT, path))
    plain = build(cfg)
    to_cascade(cfg.model)
    model = build(cfg)
    rh = model.roi_heads
    assert isinstance(rh, CascadeROIHeads) and len(rh.box_head) == 3
    # each stage's head is the family's own box head (same norm, same size)
    for head in rh.box_head:
        assert n_params(head) == n_params(plain.roi_heads.box_head)
        if norm:
            kind = type(head.conv1.norm).__name__
            assert ("BatchNorm" in kind or "SyncBatchNorm" in kind) if norm == "BN" else kind == "LayerNorm2d"
    assert n_params(rh.mask_head) == n_params(plain.roi_heads.mask_head)
    assert n_params(model.backbone) == n_params(plain.backbone)


def test_to_cascade_twice_is_an_error():
    from configs.common.cascade import to_cascade

    cfg = LazyConfig.load(VITDET["B"])
    with pytest.raises(ValueError, match="cascade already"):
        to_cascade(cfg.model)


# The tiny cascade of each family: the family's CPU smoke config through to_cascade.
TINY_CASCADES = {
    "vit": "configs/demo/vit_tiny_shapes_cascade.py",
    "convmae": "projects/ConvMAE/configs/convmae_tiny_cpu_cascade.py",
    "itpn": "projects/iTPN/configs/itpn_tiny_cpu_cascade.py",
    "timm_dinov2reg": "configs/families/dinov2reg_tiny_shapes_cascade.py",
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(TINY_CASCADES))
def test_tiny_cascade_trains_through_train_net(tmp_path, family):
    out = tmp_path / "run"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train_net.py"), "--config-file",
           os.path.join(ROOT, TINY_CASCADES[family]),
           f"train.output_dir={out}", "train.max_iter=30", "train.warmup_iters=5",
           "train.log_period=1", "dataloader.train.total_batch_size=2",
           "dataloader.train.num_workers=0", "dataloader.test.num_workers=0",
           "dataloader.test.dataset.names=shapes_val_mini"]
    p = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=1500)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-4000:])
    assert "CascadeROIHeads" in (out / "config.yaml").read_text()
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line.strip()]
    losses = [r for r in rows if "total_loss_raw" in r or "total_loss" in r]
    assert len(losses) == 30
    # one classification and box loss per stage
    assert all(f"loss_cls_stage{s}" in losses[-1] and f"loss_box_reg_stage{s}" in losses[-1]
               for s in range(3))
    report = json.loads((out / "report.json").read_text())
    assert report["bbox"]["coco"]["AP"] is not None

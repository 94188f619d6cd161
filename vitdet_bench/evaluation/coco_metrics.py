"""COCO metrics with three interchangeable backends.

* ``vectorized`` (default, :mod:`.coco_fast`): our array implementation of
  COCOeval; its ``precision`` / ``recall`` arrays and summary stats are
  bit-identical to pycocotools' (tests/test_eval_coco.py), ~25x faster at
  val2017 scale.
* ``pycocotools``: the reference, COCOeval itself.
* ``faster_coco_eval`` (optional package): C++ evaluate / accumulate; equal to
  pycocotools up to float rounding in the last digit (~1e-14 AP points).

Inputs are prepared as detectron2's COCOEvaluator does: for ``segm`` the
detections' boxes are dropped so that the small / medium / large split uses the
mask area.
"""
from __future__ import annotations

import contextlib
import io
import math

import numpy as np

from .inputs import GroundTruth, to_rle

__all__ = ["METRIC_NAMES", "available_backends", "resolve_backend", "coco_metrics"]

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
BACKENDS = ("vectorized", "pycocotools", "faster_coco_eval")


def available_backends() -> list:
    out = ["vectorized", "pycocotools"]
    try:
        import faster_coco_eval  # noqa: F401
        out.append("faster_coco_eval")
    except ImportError:
        pass
    return out


def resolve_backend(backend: str = "auto") -> str:
    have = available_backends()
    if backend == "auto":
        return "vectorized"
    if backend not in BACKENDS:
        raise ValueError(f"Unknown COCO backend {backend!r}; expected 'auto' or one of {BACKENDS}.")
    if backend not in have:
        raise ValueError(f"COCO backend {backend!r} is not installed (pip install faster-coco-eval).")
    return backend


def _detections_for(gt: GroundTruth, detections: list, iou_type: str) -> list:
    """Fresh dicts in the form loadRes expects (it mutates them)."""
    if iou_type == "bbox":
        return [{"image_id": d["image_id"], "category_id": d["category_id"],
                 "score": d["score"], "bbox": list(d["bbox"])} for d in detections]
    out = []
    for d in detections:
        k = gt.image_index[d["image_id"]]
        seg = to_rle(d["segmentation"], int(gt.heights[k]), int(gt.widths[k]))
        out.append({"image_id": d["image_id"], "category_id": d["category_id"],
                    "score": d["score"], "segmentation": seg})
    return out


def _gt_dataset(gt: GroundTruth) -> dict:
    # COCOeval writes into annotations ('ignore', masks converted in place): copy them
    return {"images": gt.dataset["images"], "categories": gt.dataset["categories"],
            "annotations": [dict(a) for a in gt.annotations]}


def _run_pycocotools(gt: GroundTruth, dets: list, iou_type: str):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = _gt_dataset(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats[:12], np.float64), ev.eval["precision"], list(ev.params.catIds)


def _run_faster(gt: GroundTruth, dets: list, iou_type: str):
    from faster_coco_eval import COCO, COCOeval_faster

    quiet = lambda *a, **k: None  # noqa: E731
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(_gt_dataset(gt), print_function=quiet)
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval_faster(coco_gt, coco_dt, iou_type, print_function=quiet)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats[:12], np.float64), np.asarray(ev.eval["precision"]), \
        list(ev.params.catIds)


def _pct(x: float):
    """AP points like detectron2; COCOeval's -1 (nothing to evaluate) becomes None."""
    x = float(x)
    return None if x < 0 or math.isnan(x) else x * 100


def coco_metrics(gt: GroundTruth, detections: list, iou_type: str = "bbox",
                 backend: str = "auto", progress: bool | None = None) -> dict:
    """``{"coco": {AP..ARl}, "per_category": {name: AP}, "backend": name}`` in AP points.

    Values COCOeval cannot define (no GT in an area range, a category without GT)
    are ``None``.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    name = resolve_backend(backend)
    if name == "vectorized":
        from .coco_fast import evaluate

        ev = evaluate(gt, detections, iou_type, progress=progress)
        stats, precision, cat_ids = ev.stats, ev.eval["precision"], ev.cat_ids
    else:
        run = _run_pycocotools if name == "pycocotools" else _run_faster
        stats, precision, cat_ids = run(gt, _detections_for(gt, detections, iou_type), iou_type)
    coco = {k: _pct(v) for k, v in zip(METRIC_NAMES, stats)}
    per_cat = {}
    names = gt.categories
    for k, cid in enumerate(cat_ids):
        p = precision[:, :, k, 0, -1]          # all IoUs, all recalls, area all, 100 dets
        p = p[p > -1]
        label = names[cid] if names[cid] not in per_cat else f"{names[cid]} ({cid})"
        per_cat[label] = float(np.mean(p)) * 100 if p.size else None
    return {"coco": coco, "per_category": per_cat, "backend": name}

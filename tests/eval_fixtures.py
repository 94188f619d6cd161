"""Shared helpers of the evaluation tests (tests/test_eval_*.py)."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os

import pytest

import vitdet_bench  # noqa: F401  (compat bridges before detectron2)


def coco128_json() -> str:
    """Path of the real coco128 annotations, or skip with the reason."""
    root = os.environ.get("DETECTRON2_DATASETS")
    if not root:
        pytest.skip("DETECTRON2_DATASETS is not set; the coco128-derived evaluation tests need "
                    "$DETECTRON2_DATASETS/coco128/annotations/instances_train2017.json")
    path = os.path.join(root, "coco128", "annotations", "instances_train2017.json")
    if not os.path.isfile(path):
        pytest.skip(f"coco128 annotations not found at {path}")
    return path


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dump(tmp_path, name, obj) -> str:
    p = os.path.join(str(tmp_path), name)
    with open(p, "w", encoding="utf-8") as f:
        json.dump(obj, f)
    return p


def box_gt(images, anns, categories=((1, "a"), (2, "b"))) -> dict:
    """A tiny COCO GT: ``images`` = ids (100x100), ``anns`` = (image, cat, [x,y,w,h][, crowd])."""
    out = []
    for k, a in enumerate(anns):
        img, cat, box = a[:3]
        crowd = a[3] if len(a) > 3 else 0
        x, y, w, h = box
        out.append({"id": k + 1, "image_id": img, "category_id": cat, "bbox": list(box),
                    "area": float(w * h), "iscrowd": crowd,
                    "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    return {"images": [{"id": i, "width": 100, "height": 100, "file_name": f"{i}.jpg"}
                       for i in images],
            "annotations": out,
            "categories": [{"id": c, "name": n} for c, n in categories]}


def dets(*rows) -> list:
    """(image, cat, [x,y,w,h], score) rows -> results list."""
    return [{"image_id": i, "category_id": c, "bbox": list(b), "score": s} for i, c, b, s in rows]


def pycocotools_eval(gt_dict: dict, results: list, iou_type: str):
    """pycocotools as detectron2's COCOEvaluator drives it (masks: boxes dropped)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    res = copy.deepcopy(results)
    if iou_type == "segm":
        for r in res:
            r.pop("bbox", None)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = copy.deepcopy(gt_dict)
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(res), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev

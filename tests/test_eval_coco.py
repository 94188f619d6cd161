"""COCO metrics: our vectorized COCOeval must equal pycocotools bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from eval_fixtures import box_gt, coco128_json, dets, load_json
from eval_fixtures import pycocotools_eval as reference

from vitdet_bench.evaluation import coco_metrics, load_ground_truth
from vitdet_bench.evaluation.coco_fast import evaluate
from vitdet_bench.evaluation.coco_metrics import METRIC_NAMES, available_backends
from vitdet_bench.evaluation.synthetic import perturb_detections


def assert_identical(gt_dict, results, iou_type):
    ref = reference(gt_dict, results, iou_type)
    gt = load_ground_truth(gt_dict, iou_types=(iou_type,))
    ours = evaluate(gt, results, iou_type, progress=False)
    assert np.array_equal(ours.eval["precision"], ref.eval["precision"])
    assert np.array_equal(ours.eval["recall"], ref.eval["recall"])
    assert np.array_equal(ours.stats, np.asarray(ref.stats))
    m = coco_metrics(gt, results, iou_type)
    assert m["backend"] == "vectorized"
    for name, v in zip(METRIC_NAMES, ref.stats):
        assert m["coco"][name] == (None if v < 0 else v * 100), name
    # per-category AP as detectron2 computes it
    for k, cid in enumerate(ref.params.catIds):
        p = ref.eval["precision"][:, :, k, 0, -1]
        p = p[p > -1]
        expect = float(np.mean(p)) * 100 if p.size else None
        assert m["per_category"][gt.categories[cid]] == expect
    return m


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed,per_image", [(0, 0), (1, 30), (2, 100)])
def test_coco128_perturbed_equals_pycocotools(iou_type, seed, per_image):
    path = coco128_json()
    gt = load_json(path)
    res = perturb_detections(gt, seed=seed, masks=iou_type == "segm", dets_per_image=per_image)
    m = assert_identical(gt, res, iou_type)
    assert 5 < m["coco"]["AP"] < 95  # a real, non-degenerate case


def test_coco128_ties_crowd_empty_boxes_and_id_zero():
    """Score ties, crowd matches, empty boxes, >100 dets per image, a GT with id 0."""
    path = coco128_json()
    gt = load_json(path)
    gt["annotations"][0]["id"] = 0          # COCOeval treats a match to id 0 as no match
    res = perturb_detections(gt, seed=7, dets_per_image=120)
    for r in res[::3]:
        r["score"] = round(r["score"], 1)   # many ties
    for r in res[::97]:
        r["bbox"][2] = 0.0                   # empty boxes stay false positives
    crowd = [a for a in gt["annotations"] if a["iscrowd"]]
    for a in crowd:                          # detections on crowd regions
        res.append({"image_id": a["image_id"], "category_id": a["category_id"],
                    "bbox": list(a["bbox"]), "score": 0.77})
    assert_identical(gt, res, "bbox")


def test_hand_built_area_ranges_and_missing_categories():
    gt = box_gt([1, 2, 3], [(1, 1, [0, 0, 10, 10]), (1, 1, [20, 20, 50, 50]),
                            (2, 1, [0, 0, 90, 90]), (2, 2, [5, 5, 20, 20], 1),
                            (3, 2, [10, 10, 30, 30])],
                categories=((1, "a"), (2, "b"), (3, "c")))
    res = dets((1, 1, [0, 0, 10, 10], 0.9), (1, 1, [21, 21, 50, 50], 0.8),
               (2, 1, [0, 0, 80, 80], 0.7), (2, 2, [6, 6, 18, 18], 0.95),
               (3, 2, [12, 12, 30, 30], 0.6), (3, 3, [0, 0, 5, 5], 0.5),
               (1, 2, [0, 0, 10, 10], 0.9))
    m = assert_identical(gt, res, "bbox")
    assert m["per_category"]["c"] is None    # no GT: undefined, not 0


def test_faster_coco_eval_backend_matches():
    if "faster_coco_eval" not in available_backends():
        pytest.skip("faster-coco-eval is not installed (optional backend)")
    path = coco128_json()
    gtd = load_json(path)
    for iou_type in ("bbox", "segm"):
        res = perturb_detections(gtd, seed=11, masks=iou_type == "segm", dets_per_image=20)
        gt = load_ground_truth(gtd, iou_types=(iou_type,))
        ours = coco_metrics(gt, res, iou_type, backend="vectorized")
        fast = coco_metrics(gt, res, iou_type, backend="faster_coco_eval")
        ref = coco_metrics(gt, res, iou_type, backend="pycocotools")
        assert ours["coco"] == ref["coco"] and ours["per_category"] == ref["per_category"]
        for k in METRIC_NAMES:   # C++ accumulation rounds differently in the last bits
            assert fast["coco"][k] == pytest.approx(ref["coco"][k], abs=1e-9)
        for k, v in ref["per_category"].items():
            assert (fast["per_category"][k] is None) == (v is None)
            if v is not None:
                assert fast["per_category"][k] == pytest.approx(v, abs=1e-9)

"""LVIS federated AP: our vectorized LVISEval must equal lvis-api (lvis==0.5.3) bit for bit."""
from __future__ import annotations

import copy
import json
import logging
import os

import numpy as np
import pytest
from eval_fixtures import coco128_json, load_json

from vitdet_bench.evaluation import load_ground_truth
from vitdet_bench.evaluation.inputs import GroundTruthError
from vitdet_bench.evaluation.lvis_eval import (METRIC_NAMES, evaluate, federated_from_coco, is_lvis,
                                               lvis_metrics, random_coco)
from vitdet_bench.evaluation.synthetic import perturb_detections


@pytest.fixture
def lvis_api(monkeypatch):
    """lvis-api 0.5.3; it calls ``np.float``, removed in NumPy 1.24, so that alias is restored."""
    lvis = pytest.importorskip("lvis", reason="lvis-api (pip install --no-deps lvis==0.5.3, as "
                               "tools/install_env.sh does) is the reference of these tests")
    monkeypatch.setattr(np, "float", float, raising=False)
    logging.getLogger("lvis").setLevel(logging.ERROR)
    return lvis


def reference(lvis, tmp_path, gt_dict, results, iou_type):
    path = os.path.join(str(tmp_path), "lvis_gt.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(gt_dict, f)
    gt = lvis.LVIS(path)
    ev = lvis.LVISEval(gt, lvis.LVISResults(gt, copy.deepcopy(results)), iou_type)
    ev.run()
    return ev


def assert_equal_to_lvis_api(lvis, tmp_path, gt_dict, results, iou_type):
    ref = reference(lvis, tmp_path, gt_dict, results, iou_type)
    gt = load_ground_truth(gt_dict, iou_types=(iou_type,))
    ours = evaluate(gt, results, iou_type, progress=False)
    assert np.array_equal(ours.eval["precision"], ref.eval["precision"])
    assert np.array_equal(ours.eval["recall"], ref.eval["recall"])
    assert list(ours.results) == list(ref.results) == list(METRIC_NAMES)
    for k, v in ref.results.items():
        assert ours.results[k] == v, k
    return ours, ref


def detections_with_every_rule(coco, lvis_gt, seed, masks, per_image=330):
    """Perturbed detections plus: >300 per image with ties at the cut, zero-area boxes,
    detections of negative, not-exhaustive and unlisted categories, unknown categories."""
    res = perturb_detections(coco, seed=seed, masks=masks, dets_per_image=per_image)
    for r in res[::5]:
        r["score"] = round(r["score"], 1)           # ties, also at the 300 cut
    for r in res[::211]:
        r["bbox"][2] = 0.0                           # zero area: dropped by lvis-api
    rng = np.random.default_rng(seed)
    extra = []
    for im in lvis_gt["images"][::2]:
        for key in ("neg_category_ids", "not_exhaustive_category_ids"):
            for c in im[key][:3]:
                x, y = float(rng.uniform(0, 200)), float(rng.uniform(0, 200))
                extra.append({"image_id": im["id"], "category_id": c, "score": float(rng.random()),
                              "bbox": [x, y, 60.0, 40.0]})
        extra.append({"image_id": im["id"], "category_id": 99999, "score": 0.999,
                      "bbox": [0.0, 0.0, 10.0, 10.0]})  # unknown category: counts in the 300
    if masks:
        from pycocotools import mask as mask_utils

        h = {im["id"]: (im["height"], im["width"]) for im in lvis_gt["images"]}
        for e in extra:
            x, y, w, hh = e["bbox"]
            rle = mask_utils.frPyObjects([[x, y, x + w, y, x + w, y + hh]], *h[e["image_id"]])[0]
            rle["counts"] = rle["counts"].decode()
            e["segmentation"] = rle
    return res + extra


def strip_boxes(res):
    return [{k: v for k, v in r.items() if k != "bbox"} for r in res]


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed", [0, 1])
def test_coco128_lvis_split_equals_lvis_api(lvis_api, tmp_path, iou_type, seed):
    coco = load_json(coco128_json())
    gt = federated_from_coco(coco, seed=seed, p_neg=0.1, p_not_exhaustive=0.3, p_ignore=0.03)
    assert is_lvis(gt)
    res = detections_with_every_rule(coco, gt, seed, masks=iou_type == "segm")
    if iou_type == "segm" and seed == 0:
        res = strip_boxes(res)                       # mask areas decide small / medium / large
    ours, _ = assert_equal_to_lvis_api(lvis_api, tmp_path, gt, res, iou_type)
    assert 5 < ours.results["AP"] * 100 < 95
    assert all(ours.results[k] > 0 for k in ("APr", "APc", "APf"))


def test_every_federated_rule_changes_the_result(lvis_api, tmp_path):
    """The split exercises each rule: turning one off changes AP (and lvis-api agrees)."""
    coco = load_json(coco128_json())
    gt = federated_from_coco(coco, seed=3, p_neg=0.1, p_not_exhaustive=0.3)
    res = detections_with_every_rule(coco, gt, 3, masks=False)
    # one image gets 300 confident false positives of a category it holds: its own
    # detections fall behind the 300 cut
    first = next(a for a in gt["annotations"] if not a["iscrowd"])
    res += [{"image_id": first["image_id"], "category_id": first["category_id"], "score": 0.9999,
             "bbox": [1.0 + k % 20, 2.0, 3.0, 3.0]} for k in range(300)]
    base, _ = assert_equal_to_lvis_api(lvis_api, tmp_path, gt, res, "bbox")
    no_neg = copy.deepcopy(gt)
    for im in no_neg["images"]:
        im["neg_category_ids"] = []
    no_nel = copy.deepcopy(gt)
    for im in no_nel["images"]:
        im["not_exhaustive_category_ids"] = []
    for variant in (no_neg, no_nel):
        other, _ = assert_equal_to_lvis_api(lvis_api, tmp_path, variant, res, "bbox")
        assert other.results["AP"] != base.results["AP"]
    # the 300 cut: more than 300 per image, and the cut matters
    g = load_ground_truth(gt, iou_types=("bbox",))
    per_img = np.bincount([r["image_id"] for r in res])
    assert per_img.max() > 300
    assert evaluate(g, res, "bbox", max_dets=1000, progress=False).results["AP"] != \
        base.results["AP"]


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_synthetic_lvis_equals_lvis_api(lvis_api, tmp_path, iou_type):
    coco = random_coco(seed=5)
    gt = federated_from_coco(coco, seed=5, p_neg=0.2, p_not_exhaustive=0.25, p_ignore=0.05)
    gt["annotations"][0]["area"] = 0.0               # area 0: not evaluated by lvis-api
    gt["categories"].append({"id": 77, "name": "unseen", "frequency": "r"})  # AP -1: left out
    res = detections_with_every_rule(coco, gt, 5, masks=iou_type == "segm", per_image=310)
    ours, _ = assert_equal_to_lvis_api(lvis_api, tmp_path, gt, res, iou_type)
    assert 5 < ours.results["AP"] * 100 < 95


def test_segm_with_boxes_uses_box_area_as_lvis_api(lvis_api, tmp_path):
    """Results carrying boxes: lvis-api's areas are box areas, also for masks; lvis_metrics
    drops the boxes first (as detectron2's LVISEvaluator), so it equals lvis-api without them."""
    coco = random_coco(seed=2, num_images=30)
    gt = federated_from_coco(coco, seed=2, p_neg=0.2)
    res = perturb_detections(coco, seed=2, masks=True, dets_per_image=20)
    with_boxes, _ = assert_equal_to_lvis_api(lvis_api, tmp_path, gt, res, "segm")
    ref = reference(lvis_api, tmp_path, gt, strip_boxes(res), "segm")
    m = lvis_metrics(load_ground_truth(gt, iou_types=("segm",)), res, "segm")
    for k, v in ref.results.items():
        assert m["lvis"][k] == (None if v < 0 else v * 100), k
    assert any(with_boxes.results[k] != ref.results[k] for k in ("APs", "APm", "APl"))
    assert set(m["per_frequency"]) == {"r", "c", "f"}


def test_mask_only_results_for_boxes(lvis_api, tmp_path):
    coco = random_coco(seed=4, num_images=20)
    gt = federated_from_coco(coco, seed=4, p_neg=0.2)
    res = strip_boxes(perturb_detections(coco, seed=4, masks=True, dets_per_image=10))
    assert_equal_to_lvis_api(lvis_api, tmp_path, gt, res, "bbox")


def test_coco_file_is_refused_with_the_reason():
    coco = random_coco(seed=0, num_images=3)
    assert not is_lvis(coco)
    gt = load_ground_truth(coco, iou_types=("bbox",))
    with pytest.raises(GroundTruthError, match="frequency"):
        evaluate(gt, perturb_detections(coco, seed=0), "bbox")
    lv = federated_from_coco(coco)
    del lv["images"][1]["neg_category_ids"]
    with pytest.raises(GroundTruthError, match="neg_category_ids"):
        evaluate(load_ground_truth(lv, iou_types=("bbox",)), perturb_detections(coco), "bbox")


def test_build_evaluator_on_an_lvis_dataset_equals_detectron2s(lvis_api, tmp_path):
    """The evaluator picked for an LVIS dataset gives detectron2's LVISEvaluator's numbers."""
    from detectron2.data import MetadataCatalog
    from detectron2.evaluation import COCOEvaluator, LVISEvaluator

    import vitdet_bench.data  # noqa: F401
    from vitdet_bench.data.lvis import register_lvis_instances
    from vitdet_bench.evaluation.lvis_eval import build_evaluator, evaluator_type_of

    path = coco128_json()
    coco = load_json(path)
    lv = federated_from_coco(coco, seed=1, p_neg=0.1)
    gt_path = os.path.join(str(tmp_path), "gt.json")
    with open(gt_path, "w", encoding="utf-8") as f:
        json.dump(lv, f)
    register_lvis_instances("lvis_test_evaluator", gt_path, os.path.dirname(os.path.dirname(path)),
                            overwrite=True)
    assert evaluator_type_of("lvis_test_evaluator") == "lvis"
    assert evaluator_type_of("coco128_val") == "coco"
    assert isinstance(build_evaluator("coco128_val"), COCOEvaluator)
    to_c = MetadataCatalog.get("lvis_test_evaluator").thing_dataset_id_to_contiguous_id
    res = perturb_detections(coco, seed=1, dets_per_image=50)
    preds = {}
    for r in res:
        r = dict(r, category_id=to_c[r["category_id"]])
        preds.setdefault(r["image_id"], []).append(r)
    out = {}
    for kind, ev in (("ours", build_evaluator("lvis_test_evaluator", str(tmp_path))),
                     ("detectron2", LVISEvaluator("lvis_test_evaluator", ("bbox",),
                                                  distributed=False))):
        ev._tasks = ("bbox",)
        ev._predictions = [{"image_id": i, "instances": copy.deepcopy(p)} for i, p in preds.items()]
        ev._distributed = False
        out[kind] = ev.evaluate()["bbox"]
    assert out["ours"] == pytest.approx(out["detectron2"], abs=0, rel=0)
    assert set(out["ours"]) >= {"AP", "APr", "APc", "APf"}
    assert os.path.isfile(os.path.join(str(tmp_path), "lvis_instances_results.json"))


def test_report_of_an_lvis_split_has_federated_ap(lvis_api, tmp_path):
    from vitdet_bench.evaluation import write_report

    coco = random_coco(seed=8, num_images=25)
    gt = federated_from_coco(coco, seed=8, p_neg=0.2)
    res = perturb_detections(coco, seed=8, masks=True, dets_per_image=20)
    gt_path = os.path.join(str(tmp_path), "lvis_gt.json")
    res_path = os.path.join(str(tmp_path), "res.json")
    for path, obj in ((gt_path, gt), (res_path, res)):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(obj, f)
    rep = write_report(gt_path, res_path, str(tmp_path / "r"), progress=False, charts=False)
    for t in ("bbox", "segm"):
        dets = res if t == "bbox" else strip_boxes(res)
        ref = reference(lvis_api, tmp_path, gt, dets, t)
        for k, v in ref.results.items():
            assert rep[t]["lvis"][k] == (None if v < 0 else v * 100), (t, k)
        assert set(rep[t]["per_frequency"]) == {"r", "c", "f"}
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## LVIS federated AP" in md and "| APr |" in md


def test_federated_detections_keep_annotated_and_negative_categories():
    from vitdet_bench.evaluation.lvis_eval import federated_detections

    coco = random_coco(seed=9, num_images=10)
    lv = federated_from_coco(coco, seed=9, p_neg=0.3)
    gt = load_ground_truth(lv, iou_types=("bbox",))
    res = perturb_detections(coco, seed=9, dets_per_image=40)
    kept = federated_detections(gt, res)
    allowed = {(a["image_id"], a["category_id"]) for a in lv["annotations"]}
    allowed |= {(im["id"], c) for im in lv["images"] for c in im["neg_category_ids"]}
    assert kept == [r for r in res if (r["image_id"], r["category_id"]) in allowed]
    assert 0 < len(kept) < len(res)

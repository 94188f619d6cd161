"""TIDE error breakdown: hand-built cases with known dAP, and tidecv as the reference."""
from __future__ import annotations

import importlib.util

import pytest
from eval_fixtures import box_gt, coco128_json, dets, dump, load_json

from vitdet_bench.evaluation import MAIN_ERRORS, load_ground_truth, tide_errors
from vitdet_bench.evaluation.synthetic import perturb_detections

A, B, C = [0, 0, 10, 10], [50, 50, 10, 10], [80, 0, 10, 10]
LOC_B = [55, 50, 10, 10]                 # IoU 1/3 with B
HALF = 5100 / 101                        # AP of a class at recall 0.5 with precision 1
DUP_BASE = (51 + 50 * (2 / 3)) / 101 * 100   # [TP, FP, TP] over 2 GT

# name: (gt, detections, expected dAP of the non-zero main errors, expected counts)
CASES = {
    "loc": (box_gt([1], [(1, 1, A), (1, 1, B)]),
            dets((1, 1, A, .9), (1, 1, LOC_B, .8)),
            {"loc": 100 - HALF}, {"loc": 1, "miss": 0}),
    "cls": (box_gt([1], [(1, 1, A), (1, 1, B), (1, 2, C)]),
            dets((1, 1, A, .9), (1, 2, B, .8), (1, 2, C, .7)),
            {"cls": 100 - (HALF + 50) / 2}, {"cls": 1, "miss": 0}),
    "both": (box_gt([1], [(1, 1, A), (1, 1, B), (1, 2, C)]),
             dets((1, 1, A, .9), (1, 1, B, .7), (1, 2, C, .6), (1, 2, LOC_B, .8)),
             {"both": 25.0}, {"both": 1}),
    "dup": (box_gt([1], [(1, 1, A), (1, 1, B)]),
            dets((1, 1, A, .9), (1, 1, A, .8), (1, 1, B, .7)),
            {"dup": 100 - DUP_BASE}, {"dup": 1}),
    "bkg": (box_gt([1], [(1, 1, A), (1, 1, B)]),
            dets((1, 1, A, .9), (1, 1, [30, 30, 5, 5], .8), (1, 1, B, .7)),
            {"bkg": 100 - DUP_BASE}, {"bkg": 1}),
    "bkg_image_without_gt": (box_gt([1, 2], [(1, 1, A)]),
                             dets((1, 1, A, .7), (2, 1, A, .9)),
                             {"bkg": 50.0}, {"bkg": 1}),
    "miss": (box_gt([1, 2], [(1, 1, A), (1, 1, B), (2, 1, A)]),   # image 2 has no detection
             dets((1, 1, A, .9)),
             {"miss": 100 - 34 / 101 * 100}, {"miss": 2}),
    # the best-scoring cls-or-loc detection on a GT is the one fixed: fixing loc gains nothing
    "cls_beats_loc_on_same_gt": (box_gt([1], [(1, 1, A), (1, 1, B), (1, 2, C)]),
                                 dets((1, 1, A, .9), (1, 1, LOC_B, .8), (1, 2, B, .85),
                                      (1, 2, C, .6)),
                                 {"cls": 100 - (HALF + 50) / 2}, {"cls": 1, "loc": 1, "miss": 0}),
    # IoU exactly 0.5 with an already matched GT is a loc error (TIDE's closed range), not dup
    "loc_on_matched_gt": (box_gt([1], [(1, 1, A)]),
                          dets((1, 1, A, .9), (1, 1, [0, 0, 10, 5], .8)),
                          {}, {"loc": 1, "dup": 0}),
    # a detection inside a same-class crowd region is ignored for AP but still classified
    "crowd_ignored": (box_gt([1], [(1, 1, A), (1, 1, [40, 40, 50, 50], 1)]),
                      dets((1, 1, A, .7), (1, 1, [45, 45, 20, 20], .9)),
                      {}, {"bkg": 1, "ignored_crowd": 1, "fp": 0}),
    # tied scores: TIDE lists errors before true positives in its fixed AP (FalseNeg < 0 here)
    "tied_scores": (box_gt([1], [(1, 1, A), (1, 1, B)]),
                    dets((1, 1, A, .5), (1, 1, [30, 30, 5, 5], .5), (1, 1, B, .4)),
                    {"bkg": 100 - DUP_BASE}, {"bkg": 1}),
}


def _run(gt, res, **kw):
    return tide_errors(load_ground_truth(gt, iou_types=()), res, "bbox", progress=False, **kw)


@pytest.mark.parametrize("name", list(CASES))
def test_hand_built_case(name):
    gt, res, expect, counts = CASES[name]
    r = _run(gt, res)[0.5]
    for e in MAIN_ERRORS:
        assert r.errors[e] == pytest.approx(expect.get(e, 0.0), abs=1e-9), e
    for k, v in counts.items():
        assert r.counts[k] == v, k


def test_special_errors_hand_built():
    gt, res, _, _ = CASES["loc"]
    r = _run(gt, res)[0.5]
    assert r.ap == pytest.approx(HALF)
    assert r.special["fp"] == pytest.approx(0.0)          # the FP already ranks last
    assert r.special["fn"] == pytest.approx(100 - HALF)   # 1 TP of 2 GT
    gt, res, _, _ = CASES["tied_scores"]
    r = _run(gt, res)[0.5]
    assert r.special["fn"] == pytest.approx(200 / 3 - DUP_BASE)  # negative: not clipped
    assert r.special["fn"] < 0


def test_threshold_changes_loc_and_match():
    """At IoU 0.75 a 0.6-IoU detection is a loc error; at 0.5 it is a true positive."""
    gt = box_gt([1], [(1, 1, A)])
    res = dets((1, 1, [0, 0, 10, 6], .9))        # IoU 0.6
    r = _run(gt, res, thresholds=(0.5, 0.75))
    assert r[0.5].counts["tp"] == 1 and r[0.5].ap == pytest.approx(100)
    assert r[0.75].counts["loc"] == 1 and r[0.75].errors["loc"] == pytest.approx(100)


# --------------------------------------------------------------------------- tidecv reference
def _need_tidecv():
    if importlib.util.find_spec("tidecv") is None:
        pytest.skip("tidecv (the reference implementation) is not installed")


def _agree(ours, ref, tol):
    worst = 0.0
    for th, r in ours.items():
        rr = ref[th]
        assert abs(r.ap - rr["ap"]) <= tol
        for k in MAIN_ERRORS:
            worst = max(worst, abs(r.errors[k] - rr["errors"][k]))
            assert r.errors[k] == pytest.approx(rr["errors"][k], abs=tol), (th, k)
        for k in ("fp", "fn"):
            assert r.special[k] == pytest.approx(rr["special"][k], abs=tol), (th, k)
    return worst


def test_hand_built_cases_against_tidecv(tmp_path):
    """The expected values above are TIDE's own: tidecv gives the same on every case."""
    _need_tidecv()
    from vitdet_bench.evaluation.reference import run_tidecv_many

    jobs, ours = [], []
    for name, (gt, res, _, _) in CASES.items():
        g, r = dump(tmp_path, f"{name}_gt.json", gt), dump(tmp_path, f"{name}_res.json", res)
        jobs.append((g, r, "bbox", (0.5,)))
        ours.append(_run(gt, res))
    for o, r in zip(ours, run_tidecv_many(jobs, timeout=300)):
        _agree(o, r, tol=1e-9)


def test_coco128_against_tidecv(tmp_path):
    """coco128-derived perturbations, box and mask, IoU 0.5 and 0.75."""
    path = coco128_json()
    _need_tidecv()
    from vitdet_bench.evaluation.reference import run_tidecv_many

    gtd = load_json(path)
    jobs, ours = [], []
    for iou_type, seed, per_image in (("bbox", 0, 0), ("bbox", 1, 60), ("segm", 2, 0),
                                      ("segm", 3, 20)):
        res = perturb_detections(gtd, seed=seed, masks=iou_type == "segm", dets_per_image=per_image)
        jobs.append((path, dump(tmp_path, f"c128_{iou_type}_{seed}.json", res), iou_type, (0.5, 0.75)))
        ours.append(tide_errors(load_ground_truth(path, iou_types=(iou_type,)), res, iou_type,
                                thresholds=(0.5, 0.75), progress=False))
    for o, r in zip(ours, run_tidecv_many(jobs, timeout=300)):
        # the issue asks for 0.1 AP points; the implementation reproduces tidecv to rounding
        _agree(o, r, tol=1e-6)
        assert r[0.5]["errors"]["loc"] > 1 and r[0.5]["errors"]["miss"] > 1  # non-trivial case

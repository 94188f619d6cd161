"""Paired bootstrap over images: exact resampled COCO metrics, compare with intervals, seeds."""
from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from eval_fixtures import box_gt, coco128_json, dets, dump, load_json, pycocotools_eval

from vitdet_bench.evaluation import compare_reports, load_ground_truth, write_report
from vitdet_bench.evaluation.bootstrap import (ResampledCOCO, bootstrap_stats, jackknife_groups,
                                               jackknife_stats, resample_weights)
from vitdet_bench.evaluation.coco_fast import evaluate, match
from vitdet_bench.evaluation.compare import RunFolderError
from vitdet_bench.evaluation.synthetic import perturb_detections

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def duplicated(gt: dict, results: list, w) -> tuple[dict, list]:
    """The physically resampled dataset: image i drawn w[i] times, copies' ids right after it."""
    imgs = sorted(gt["images"], key=lambda im: im["id"])
    pos = {im["id"]: k for k, im in enumerate(imgs)}
    anns = {}
    for a in gt["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    out_img, out_ann, next_id = [], [], 1
    for im in imgs:
        for c in range(int(w[pos[im["id"]]])):
            new = im["id"] * 1000 + c           # sorts right after the original, before the next
            out_img.append(dict(im, id=new))
            for a in anns.get(im["id"], []):
                out_ann.append(dict(copy.deepcopy(a), id=next_id, image_id=new))
                next_id += 1
    out_det = [dict(d, image_id=d["image_id"] * 1000 + c)
               for d in results for c in range(int(w[pos[d["image_id"]]]))]
    return {"images": out_img, "annotations": out_ann, "categories": gt["categories"]}, out_det


def pycocotools_stats(gt: dict, results: list, iou_type: str) -> np.ndarray:
    return np.asarray(pycocotools_eval(gt, results, iou_type).stats[:12])


@pytest.fixture(scope="module")
def coco128():
    return load_json(coco128_json())


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_resample_equals_physically_duplicated_dataset(coco128, iou_type):
    """Bit for bit: our resample == our COCOeval and pycocotools on the duplicated dataset."""
    gt = coco128
    res = perturb_detections(gt, seed=3, masks=iou_type == "segm", dets_per_image=20)
    for r in res[::3]:
        r["score"] = round(r["score"], 1)        # ties, also within one image and category
    rs = ResampledCOCO(match(load_ground_truth(gt, iou_types=(iou_type,)), res, iou_type,
                             progress=False))
    assert len(rs.tie_pt) > 50                   # the copy-interleaving path is exercised
    full = evaluate(load_ground_truth(gt, iou_types=(iou_type,)), res, iou_type, progress=False)
    assert np.array_equal(rs.stats(np.ones(rs.n_img, np.int64)), full.stats)
    for b, w in enumerate(resample_weights(rs.n_img, 2, seed=11)):
        assert w.max() >= 3 and (w == 0).sum() > 20
        ours = rs.stats(w)
        g2, d2 = duplicated(gt, res, w)
        ref = evaluate(load_ground_truth(g2, iou_types=(iou_type,)), d2, iou_type, progress=False)
        assert np.array_equal(ours, ref.stats), (b, ours - ref.stats)
        if b == 0:
            assert np.array_equal(ours, pycocotools_stats(g2, d2, iou_type))


def test_hand_built_ties_across_copies():
    """A TP and an FP of one image with the same score: copies interleave (TP FP TP FP)."""
    gt = box_gt([1, 2, 3], [(1, 1, [0, 0, 10, 10]), (2, 1, [0, 0, 20, 20]), (3, 1, [5, 5, 30, 30])])
    res = dets((1, 1, [0, 0, 10, 10], .5), (1, 1, [50, 50, 10, 10], .5), (2, 1, [0, 0, 20, 20], .5),
               (2, 1, [60, 60, 5, 5], .9), (3, 1, [5, 5, 30, 31], .5), (3, 1, [0, 0, 3, 3], .2))
    rs = ResampledCOCO(match(load_ground_truth(gt), res, "bbox", progress=False))
    for w in ([3, 0, 1], [2, 2, 0], [1, 3, 2], [0, 0, 3]):
        g2, d2 = duplicated(gt, res, w)
        assert np.array_equal(rs.stats(np.array(w)), pycocotools_stats(g2, d2, "bbox")), w


# --------------------------------------------------------------------------- compare
@pytest.fixture(scope="module")
def runs(coco128, tmp_path_factory):
    """Three reports on coco128: A, an identical copy, and A with 30% of detections removed."""
    d = tmp_path_factory.mktemp("cmp")
    gt_path = dump(d, "gt.json", coco128)
    res = perturb_detections(coco128, seed=5, masks=True, dets_per_image=10)
    rng = random.Random(0)
    fewer = [r for r in res if rng.random() > 0.3]
    out = {}
    for name, r in (("a", res), ("a_copy", copy.deepcopy(res)), ("fewer", fewer)):
        (d / name).mkdir()
        write_report(gt_path, dump(d / name, "coco_instances_results.json", r), str(d / name),
                     progress=False, charts=False)
        out[name] = str(d / name)
    out["gt"], out["res"] = gt_path, res
    return out


def test_identical_zero_removed_negative_same_seed_same_intervals(runs, tmp_path):
    entries = [("A", runs["a"]), ("copy", runs["a_copy"]), ("fewer", runs["fewer"])]
    out = compare_reports(entries, str(tmp_path / "c1"), bootstrap=100, progress=False)
    for t in ("bbox", "segm"):
        diffs = {(d["a"], d["b"]): d["metrics"] for d in out[t]["differences"]}
        same = diffs[("A", "copy")]["AP"]
        assert same["difference"] == 0 and same["interval"] == [0.0, 0.0]
        assert same["p_value"] == 1.0 and same["significant"] is False
        worse = diffs[("A", "fewer")]["AP"]       # A - fewer > 0: removing detections hurts
        assert worse["difference"] > 0 and worse["interval"][0] > 0 and worse["significant"]
        assert worse["p_value"] == pytest.approx(2 / 101)   # every resample on one side
        ci = out[t]["runs"]["A"]["interval"]["AP"]
        assert ci[0] < out[t]["runs"]["A"]["coco"]["AP"] < ci[1]
    again = compare_reports(entries, str(tmp_path / "c2"), bootstrap=100, iou_types=("bbox",),
                            progress=False, charts=False)
    first = json.loads((tmp_path / "c1" / "compare.json").read_text())["bbox"]
    first.pop("charts")
    assert first == json.loads((tmp_path / "c2" / "compare.json").read_text())["bbox"]
    other = compare_reports(entries, str(tmp_path / "c3"), bootstrap=100, bootstrap_seed=1,
                            iou_types=("bbox",), progress=False, charts=False)
    assert other["bbox"]["runs"]["A"]["interval"] != again["bbox"]["runs"]["A"]["interval"]
    md = (tmp_path / "c1" / "compare.md").read_text()
    assert "*n.s.*" in md and "| A − copy |" in md and "bootstrap interval" in md
    assert (tmp_path / "c1" / "compare_ap_bbox.png").stat().st_size > 1000
    # --baseline: only the differences with it
    base = compare_reports(entries, str(tmp_path / "c4"), bootstrap=50, baseline="fewer",
                           iou_types=("bbox",), progress=False, charts=False)
    assert [(d["a"], d["b"]) for d in base["bbox"]["differences"]] == [("A", "fewer"),
                                                                         ("copy", "fewer")]


def test_seed_groups_in_compare(runs, tmp_path):
    out = compare_reports([("A", [runs["a"], runs["fewer"]]), ("B", runs["a_copy"])],
                          str(tmp_path / "c"), bootstrap=50, iou_types=("bbox",), progress=False)
    row = out["bbox"]["runs"]["A"]
    ap = [json.loads(open(os.path.join(runs[k], "report.json")).read())["bbox"]["coco"]["AP"]
          for k in ("a", "fewer")]
    assert row["n"] == 2 and row["coco"]["AP"] == pytest.approx(np.mean(ap))
    assert row["seed_std"]["AP"] == pytest.approx(np.std(ap, ddof=1))
    assert out["bbox"]["runs"]["B"]["seed_std"]["AP"] is None
    assert "± " in (tmp_path / "c" / "compare.md").read_text()


def test_compare_bad_inputs_name_the_files(runs, tmp_path, coco128):
    with pytest.raises(RunFolderError, match="given twice") as e:
        compare_reports([("A", runs["a"]), ("A", runs["fewer"])], str(tmp_path / "x"),
                        bootstrap=0)
    assert runs["fewer"] in str(e.value) and "A=PATH1,PATH2" in str(e.value)
    # different ground truth: one image fewer
    gt2 = copy.deepcopy(coco128)
    drop = gt2["images"].pop()["id"]
    gt2["annotations"] = [a for a in gt2["annotations"] if a["image_id"] != drop]
    d = tmp_path / "other"
    d.mkdir()
    g2 = dump(d, "gt2.json", gt2)
    write_report(g2, dump(d, "r.json", runs["res"]), str(d), progress=False, charts=False)
    with pytest.raises(RunFolderError, match="different ground truth") as e:
        compare_reports([("A", runs["a"]), ("B", str(d))], str(tmp_path / "y"), bootstrap=10,
                        progress=False)
    assert "gt2.json" in str(e.value) and "gt.json" in str(e.value) and "127 images" in str(e.value)
    with pytest.raises(RunFolderError, match="different ground truth.*gt_fingerprint"):
        compare_reports([("A", runs["a"]), ("B", str(d))], str(tmp_path / "y"), bootstrap=0)
    # a run without masks
    d = tmp_path / "boxonly"
    d.mkdir()
    box = [{k: v for k, v in r.items() if k != "segmentation"} for r in runs["res"]]
    write_report(runs["gt"], dump(d, "r.json", box), str(d), progress=False, charts=False)
    with pytest.raises(RunFolderError, match="'segm' is missing from B") as e:
        compare_reports([("A", runs["a"]), ("B", str(d))], str(tmp_path / "z"), bootstrap=0)
    assert str(d) in str(e.value) and "--iou-type bbox" in str(e.value)


@pytest.mark.slow  # the command line end to end, in a fresh interpreter
def test_compare_cli_label_twice_and_seed_lists(runs, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    cli = [sys.executable, "tools/analyze.py", "compare", "--output", str(tmp_path / "o"),
           "--iou-type", "bbox", "--bootstrap", "30"]
    p = subprocess.run(cli + [f"a={runs['a']}", f"a={runs['fewer']}"], cwd=REPO, env=env,
                       text=True, capture_output=True, timeout=300)
    assert p.returncode == 2 and "given twice" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run(cli + [f"a={runs['a']},{runs['fewer']}", f"b={runs['a_copy']}"], cwd=REPO,
                       env=env, text=True, capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    cmp = json.loads((tmp_path / "o" / "compare.json").read_text())
    assert cmp["schema_version"] == 2 and cmp["bootstrap"]["resamples"] == 30
    assert cmp["bbox"]["runs"]["a"]["n"] == 2 and "| a − b |" in p.stdout


def test_report_schema_2_bootstrap_interval(runs, tmp_path):
    rep = write_report(runs["gt"], os.path.join(runs["a"], "coco_instances_results.json"),
                       str(tmp_path / "r"), iou_types=("bbox",), progress=False, charts=False,
                       bootstrap=100)
    assert rep["schema_version"] == 2 and rep["bootstrap"]["resamples"] == 100
    # "gt.json" is a generic name: the dataset is named after its folder
    assert rep["run"] == "a" and rep["dataset"] == os.path.basename(os.path.dirname(runs["gt"]))
    assert len(rep["gt_fingerprint"]) == 64
    lo, hi = rep["bbox"]["coco_interval"]["AP"]
    assert lo < rep["bbox"]["coco"]["AP"] < hi
    assert f"[{lo:.2f}, {hi:.2f}]" in (tmp_path / "r" / "report.md").read_text()


def test_bootstrap_stats_paired_and_seeded(runs):
    gt = load_ground_truth(runs["gt"], iou_types=())
    m = match(gt, runs["res"], "bbox", progress=False)
    a = bootstrap_stats([m, m], 20, seed=4, progress=False)
    assert np.array_equal(a[0], a[1])
    assert np.array_equal(a, bootstrap_stats([m, m], 20, seed=4, progress=False))


def test_bootstrap_jobs_give_the_same_numbers(runs):
    gt = load_ground_truth(runs["gt"], iou_types=())
    m = ResampledCOCO(match(gt, runs["res"], "bbox", progress=False))
    one = bootstrap_stats([m], 9, seed=2, progress=False)
    assert np.array_equal(one, bootstrap_stats([m], 9, seed=2, progress=False, jobs=2))


def test_jackknife_leaves_each_group_out(coco128):
    """A leave-one-group-out value is pycocotools on the images outside that group."""
    keep = sorted(im["id"] for im in coco128["images"])[:24]
    gt = {"images": [im for im in coco128["images"] if im["id"] in keep],
          "annotations": [a for a in coco128["annotations"] if a["image_id"] in keep],
          "categories": coco128["categories"]}
    res = perturb_detections(gt, seed=6, dets_per_image=10)
    m = ResampledCOCO(match(load_ground_truth(gt, iou_types=("bbox",)), res, "bbox", progress=False))
    jk = jackknife_stats([m, m], groups=5, seed=3, recall=True)
    assert jk.shape == (2, 5, 12) and np.array_equal(jk[0], jk[1])
    group = jackknife_groups(24, 5, seed=3)
    assert sorted(np.bincount(group)) == [4, 5, 5, 5, 5]      # near-equal groups
    for g in (0, 4):
        g2, d2 = duplicated(gt, res, (group != g).astype(int))
        assert np.array_equal(jk[0, g], pycocotools_stats(g2, d2, "bbox")), g
    assert jackknife_stats([m], groups=100).shape == (1, 24, 12)   # at most one image per group


@pytest.mark.parametrize("kind", ["bca", "percentile"])
def test_compare_and_report_with_another_interval_kind(runs, tmp_path, kind):
    entries = [("A", runs["a"]), ("fewer", runs["fewer"])]
    out = compare_reports(entries, str(tmp_path / "c"), bootstrap=40, iou_types=("bbox",),
                          progress=False, charts=False, interval=kind)
    assert out["bootstrap"]["interval"] == kind
    lo, hi = out["bbox"]["runs"]["A"]["interval"]["AP"]
    assert lo < hi
    assert out["bbox"]["differences"][0]["metrics"]["AP"]["interval"][0] > 0
    rep = write_report(runs["gt"], os.path.join(runs["a"], "coco_instances_results.json"),
                       str(tmp_path / "r"), iou_types=("bbox",), progress=False, charts=False,
                       bootstrap=40, interval=kind)
    lo, hi = rep["bbox"]["coco_interval"]["AP"]
    assert lo < hi

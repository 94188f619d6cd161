"""report.json / report.md / charts, bad inputs, the CLIs and the benchmark table."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from eval_fixtures import box_gt, coco128_json, dets, dump, load_json

from vitdet_bench.evaluation import (GroundTruthError, ResultsError, coco_metrics, collect_runs,
                                     load_ground_truth, tide_errors, write_report)
from vitdet_bench.evaluation.inputs import resolve_gt_path, resolve_results_path
from vitdet_bench.evaluation.synthetic import perturb_detections

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def coco128_case(tmp_path_factory):
    path = coco128_json()
    res = perturb_detections(load_json(path), seed=5, masks=True, dets_per_image=10)
    d = tmp_path_factory.mktemp("c128")
    return path, dump(d, "coco_instances_results.json", res), res


def test_write_report_end_to_end(coco128_case, tmp_path):
    gt_path, res_path, res = coco128_case
    out = tmp_path / "rep"
    rep = write_report(gt_path, res_path, str(out), tide_thresholds=(0.5, 0.75),
                       dataset_name="coco128", progress=False)
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(rep))
    gt = load_ground_truth(gt_path)
    for t in ("bbox", "segm"):
        sec = on_disk[t]
        assert set(sec["coco"]) == {"AP", "AP50", "AP75", "APs", "APm", "APl",
                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
        assert set(sec["errors"]) == {"cls", "loc", "both", "dup", "bkg", "miss", "fp", "fn"}
        assert sec["errors_iou"] == 0.5 and set(sec["errors_by_iou"]) == {"0.5", "0.75"}
        ref = coco_metrics(gt, res, t, backend="pycocotools")
        assert sec["coco"] == ref["coco"] and sec["per_category"] == ref["per_category"]
        tide = tide_errors(gt, res, t, thresholds=(0.75,), progress=False)[0.75]
        assert sec["errors_by_iou"]["0.75"]["errors"] == {**tide.errors, **tide.special}
        for f in sec["charts"].values():
            assert (out / f).read_bytes().startswith(PNG)
    md = (out / "report.md").read_text()
    assert "| AP |" in md and "Cls+Loc" in md and "| person |" in md
    assert f"{on_disk['bbox']['coco']['AP']:.2f}" in md
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]   # atomic writes left nothing
    assert on_disk["skipped"] == {"unknown_image_id": 0, "unknown_category_id": 0}


def test_box_only_results_skip_segm_or_fail_when_strict(tmp_path):
    gt = box_gt([1], [(1, 1, [0, 0, 10, 10])])
    g, r = dump(tmp_path, "gt.json", gt), dump(tmp_path, "r.json", dets((1, 1, [0, 0, 10, 10], .9)))
    rep = write_report(g, r, str(tmp_path / "o"), progress=False, charts=False)
    assert "segm" not in rep and "segm" in rep["not_evaluated"]
    assert rep["bbox"]["coco"]["AP"] == pytest.approx(100)
    with pytest.raises(ResultsError, match="segmentation"):
        write_report(g, r, str(tmp_path / "o2"), iou_types=("segm",), strict_iou_types=True,
                     progress=False)


# --------------------------------------------------------------------------- bad inputs
def _gt(tmp_path):
    return dump(tmp_path, "gt.json", box_gt([1, 2], [(1, 1, [0, 0, 10, 10]), (2, 2, [5, 5, 20, 20])]))


def _write(tmp_path, res, **kw):
    return write_report(_gt(tmp_path), dump(tmp_path, "res.json", res), str(tmp_path / "out"),
                        iou_types=("bbox",), progress=False, charts=False, **kw)


def test_unknown_ids_are_counted_skips(tmp_path):
    res = dets((1, 1, [0, 0, 10, 10], .9), (99, 1, [0, 0, 10, 10], .8), (1, 7, [0, 0, 5, 5], .7),
               (98, 1, [1, 1, 5, 5], .6))
    rep = _write(tmp_path, res)
    assert rep["skipped"] == {"unknown_image_id": 2, "unknown_category_id": 1}
    assert rep["num_detections"] == 1 and rep["num_detections_in_file"] == 4
    assert json.loads((tmp_path / "out" / "report.json").read_text())["skipped"]["unknown_image_id"] == 2
    assert "2 (unknown image id)" in (tmp_path / "out" / "report.md").read_text()


def test_all_unknown_is_an_error_not_a_zero(tmp_path):
    with pytest.raises(ResultsError, match="none of its 2 detections") as e:
        _write(tmp_path, dets((99, 1, [0, 0, 10, 10], .9), (98, 1, [0, 0, 10, 10], .9)))
    assert "res.json" in str(e.value) and "category ids" in str(e.value)


@pytest.mark.parametrize("score", [float("nan"), float("inf"), "0.5", None])
def test_non_finite_or_non_numeric_score(tmp_path, score):
    res = dets((1, 1, [0, 0, 10, 10], .9), (1, 1, [0, 0, 10, 10], 0.1))
    res[1]["score"] = score
    with pytest.raises(ResultsError, match=r"detection 1 \(image_id 1\) has score"):
        _write(tmp_path, res)


def test_negative_box_names_xyxy(tmp_path):
    with pytest.raises(ResultsError, match="negative width or height.*XYXY"):
        _write(tmp_path, dets((1, 1, [10, 10, 5, -3], .9)))
    with pytest.raises(ResultsError, match="4 finite numbers"):
        _write(tmp_path, dets((1, 1, [10, 10, 5], .9)))
    with pytest.raises(ResultsError, match="4 finite numbers"):
        _write(tmp_path, dets((1, 1, [10, float("nan"), 5, 5], .9)))


def test_empty_box_is_a_counted_false_positive(tmp_path):
    res = dets((1, 1, [0, 0, 10, 10], .5), (1, 1, [30, 30, 0, 10], .9))
    rep = _write(tmp_path, res)
    assert rep["notes"]["empty_box"] == 1
    gt = load_ground_truth(_gt(tmp_path))
    assert rep["bbox"]["coco"] == coco_metrics(gt, res, "bbox", backend="pycocotools")["coco"]
    assert rep["bbox"]["coco"]["AP"] < 100          # it counts against precision
    assert rep["bbox"]["error_counts"]["bkg"] == 1


def test_malformed_segmentations(tmp_path):
    g = dump(tmp_path, "gt.json", box_gt([1], [(1, 1, [0, 0, 10, 10])]))
    good = {"image_id": 1, "category_id": 1, "score": .9, "bbox": [0, 0, 10, 10]}
    bad = [({"size": [50, 50], "counts": "PP3"}, "size"),
           ({"size": [100, 100], "counts": 12}, "counts of type int"),
           ({"size": [100, 100], "counts": [5, 5]}, "summing to"),
           ([[1, 2, 3]], "polygon"),
           ("oops", "segmentation of type str")]
    for seg, msg in bad:
        r = dump(tmp_path, "r.json", [dict(good, segmentation=seg)])
        with pytest.raises(ResultsError, match=msg):
            write_report(g, r, str(tmp_path / "o"), iou_types=("segm",), progress=False)


def test_empty_results_and_gt_without_annotations(tmp_path):
    with pytest.raises(ResultsError, match="empty list"):
        _write(tmp_path, [])
    gt = box_gt([1], [])
    g = dump(tmp_path, "noann.json", gt)
    with pytest.raises(GroundTruthError, match="has no annotations"):
        write_report(g, dump(tmp_path, "r.json", dets((1, 1, [0, 0, 1, 1], .5))),
                     str(tmp_path / "o"), progress=False)
    with pytest.raises(GroundTruthError, match="neither an existing file nor a registered"):
        resolve_gt_path(str(tmp_path / "missing.json"))
    with pytest.raises(ResultsError, match="coco_instances_results.json"):
        resolve_results_path(str(tmp_path))


def test_registered_dataset_name_and_run_folder(coco128_case, tmp_path):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    gt_path, res_path, _ = coco128_case
    name = "eval_test_coco128_registered"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, lambda: [])
        MetadataCatalog.get(name).set(json_file=gt_path)
    assert resolve_gt_path(name) == gt_path
    assert resolve_results_path(os.path.dirname(res_path)) == res_path


# --------------------------------------------------------------------------- CLIs
def _cli(*args):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=300)


@pytest.mark.slow  # the command line end to end, in a fresh interpreter
def test_analyze_cli_report_compare_and_bad_input(coco128_case, tmp_path):
    gt_path, res_path, _ = coco128_case
    p = _cli("tools/analyze.py", "--gt", gt_path, "--results", os.path.dirname(res_path),
             "--iou-type", "bbox", "--output", str(tmp_path / "a"), "--bootstrap", "50")
    assert p.returncode == 0, p.stderr
    assert "bbox: AP" in p.stdout
    rep = json.loads((tmp_path / "a" / "report.json").read_text())
    assert "segm" not in rep and (tmp_path / "a" / "errors_bbox.png").exists()
    p = _cli("tools/analyze.py", "compare", "--output", str(tmp_path / "c"), "--iou-type", "bbox",
             "--bootstrap", "20", f"MAE={tmp_path / 'a'}", f"random={tmp_path / 'a' / 'report.json'}")
    assert p.returncode == 0, p.stderr
    cmp = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert list(cmp["bbox"]["runs"]) == ["MAE", "random"]
    assert (tmp_path / "c" / "compare_errors_bbox.png").read_bytes().startswith(PNG)
    assert "| MAE |" in (tmp_path / "c" / "compare.md").read_text()
    bad = dump(tmp_path, "bad.json", [{"image_id": 9, "category_id": 1, "score": float("nan"),
                                       "bbox": [0, 0, 1, 1]}])
    p = _cli("tools/analyze.py", "--gt", gt_path, "--results", bad, "--iou-type", "bbox",
             "--output", str(tmp_path / "b"))
    assert p.returncode == 2 and "error:" in p.stderr and "bad.json" in p.stderr
    assert "Traceback" not in p.stderr


# --------------------------------------------------------------------------- benchmark table
def _fake_run(root, name, cfg_yaml, box=None, mask=None, metrics=None, evals=()):
    d = root / name
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(cfg_yaml)
    if box is not None:
        (d / "report.json").write_text(json.dumps({"bbox": {"coco": {"AP": box}},
                                                   "segm": {"coco": {"AP": mask}}}))
    if metrics:
        (d / "metrics.json").write_text("\n".join(json.dumps(m) for m in metrics) + "\n")
    for it, b in evals:
        (d / f"eval_{it}").mkdir()
        (d / f"eval_{it}" / "report.json").write_text(json.dumps({"bbox": {"coco": {"AP": b}}}))
    return d


def _cfg(init=None, size=None, epochs=None, ckpt="", dim=768, seed=42, max_iter=None, lr=1e-4):
    """A saved config: ``epochs`` sets the trained schedule (max_iter x 10 / 1000 images)."""
    extra = ""
    if init or size:
        extra = "  vitdet_bench:\n" + "".join(
            f"    {k}: {v}\n" for k, v in (("init", init), ("model_size", size)) if v)
    max_iter = max_iter or int(epochs * 100)
    return (f"dataloader:\n  train:\n    total_batch_size: 10\n"
            f"model:\n  backbone:\n    _target_: detectron2.modeling.SimpleFeaturePyramid\n"
            f"    net:\n      _target_: vitdet_bench.modeling.ViT\n      embed_dim: {dim}\n"
            f"      depth: 12\noptimizer:\n  lr: {lr}\n"
            f"train:\n  init_checkpoint: '{ckpt}'\n  max_iter: {max_iter}\n"
            f"  num_train_images: 1000\n  seed: {seed}\n  output_dir: /somewhere/{seed}\n{extra}")


@pytest.mark.slow  # the command line end to end, in a fresh interpreter
def test_collect_runs_table_csv_and_plot(tmp_path):
    root = tmp_path / "runs"
    # folder names deliberately lie: identification comes from config.yaml
    _fake_run(root, "a_run", _cfg("mae", "B", 25), 50.3, 44.9, evals=[(500, 40.0), (1000, 50.3)])
    _fake_run(root, "b_run", _cfg("mae", "B", 50), 51.2, 45.5)
    _fake_run(root, "c_run", _cfg(epochs=25, ckpt="/ckpt/beit_base_patch16.pth"), 49.1, 44.0)
    _fake_run(root, "d_run", _cfg(epochs=25, ckpt="", dim=1024), 45.0, 40.1)          # random, L
    _fake_run(root, "mae_named", _cfg(epochs=25, ckpt="deit_base.pth"),
              metrics=[{"iteration": 10, "total_loss": 1.0},
                       {"iteration": 999, "bbox/AP": 47.5, "segm/AP": 42.0}])
    _fake_run(root, "e_run", _cfg(epochs=25, ckpt="mocov3_vitb.pth"), 47.0, float("nan"))
    out = tmp_path / "table"
    runs = collect_runs([str(root)], str(out))
    by = {os.path.basename(r.run_dir): r for r in runs}
    assert (by["a_run"].init, by["a_run"].model_size, by["a_run"].epochs) == ("mae", "B", 25)
    assert by["a_run"].history == [(500, 40.0, None), (1000, 50.3, None)]
    assert (by["c_run"].init, by["c_run"].model_size) == ("beit", "B")
    assert (by["d_run"].init, by["d_run"].model_size) == ("random", "L")
    assert (by["mae_named"].init, by["mae_named"].source, by["mae_named"].ap_box) == \
        ("supervised", "metrics.json", 47.5)
    assert by["e_run"].init == "mocov3"
    md = (out / "benchmark.md").read_text()
    head = [line for line in md.splitlines() if line.startswith("| initialization")][0]
    assert head == "| initialization | ViT-B 25ep | ViT-B 50ep | ViT-L 25ep |"
    assert "| MAE | 50.3 / 44.9 | 51.2 / 45.5 |  |" in md
    assert "| random |  |  | 45.0 / 40.1 |" in md
    assert "| supervised | 47.5 / 42.0 |" in md
    assert md.index("| random |") < md.index("| supervised |") < md.index("| MoCo v3 |") \
        < md.index("| BEiT |") < md.index("| MAE |")
    rows = list(csv.DictReader((out / "benchmark.csv").open()))
    assert len(rows) == 6 and {r["init"] for r in rows} == {"mae", "beit", "random", "supervised", "mocov3"}
    assert (out / "convergence.png").read_bytes().startswith(PNG)
    p = _cli("tools/collect_runs.py", str(root), "--output", str(tmp_path / "t2"))
    assert p.returncode == 0, p.stderr
    assert "6 runs" in p.stdout
    p = _cli("tools/collect_runs.py", str(tmp_path / "table"), "--output", str(tmp_path / "t3"))
    assert p.returncode == 2 and "No run folder" in p.stderr
    assert by["e_run"].ap_mask is None and "| MoCo v3 | 47.0 / - |" in md

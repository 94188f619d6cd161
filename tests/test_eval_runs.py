"""Run identification and the benchmark table (issue 19 items 2, 7), analysis-tool frictions
(items 5, 8, 15)."""
from __future__ import annotations

import csv
import json
import logging
import os

import pytest
from eval_fixtures import box_gt, coco128_json, dets, dump

from vitdet_bench.evaluation import collect_runs, group_runs, identify_run, write_report
from vitdet_bench.evaluation.compare import compare_figure, compare_reports
from vitdet_bench.evaluation.inputs import resolve_gt_path
from vitdet_bench.evaluation.report import error_figure, per_category_figure
from vitdet_bench.evaluation.runs import find_runs


def _run(root, name, *, max_iter=1000, seed=1, label_epochs=6.67, lr=0.001, box=41.2, mask=40.0,
         batch=4, images=600, extra=""):
    """A run folder as train_net leaves it: the demo's saved config (abridged) + report.json."""
    d = root / name
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(
        "dataloader:\n  train:\n    dataset: {names: shapes_train}\n"
        f"    total_batch_size: {batch}\n"
        "model:\n  backbone:\n    _target_: vitdet_bench.modeling.ViTFPN\n    bottom_up:\n"
        "      _target_: vitdet_bench.modeling.MultiScaleAdaptor\n"
        "      net: {_target_: vitdet_bench.modeling.ViT, depth: 8, embed_dim: 128}\n"
        f"optimizer:\n  lr: {lr}\n"
        f"train:\n  epochs: null\n  init_checkpoint: ''\n  max_iter: {max_iter}\n"
        f"  num_train_images: {images}\n  output_dir: output/{name}\n  seed: {seed}\n"
        f"  vitdet_bench: {{epochs: {label_epochs}, init: random, model_size: T}}\n" + extra)
    (d / "report.json").write_text(json.dumps({"bbox": {"coco": {"AP": box}},
                                               "segm": {"coco": {"AP": mask}}}))
    return d


def _table(out):
    md = (out / "benchmark.md").read_text()
    return md, [line for line in md.splitlines() if line.startswith("|")]


def test_schedule_from_trained_iterations_not_the_label(tmp_path):
    """Item 2: a 1000-iteration and a 15-iteration run never share a cell; 6.67 not shown as 6."""
    root = tmp_path / "runs"
    _run(root, "long", max_iter=1000, box=41.2, mask=40.0)
    _run(root, "short", max_iter=15, box=0.13, mask=0.1)      # same (stale) label 6.67
    runs = collect_runs([str(root)], str(tmp_path / "t"), charts=False)
    by = {os.path.basename(r.run_dir): r for r in runs}
    assert by["long"].epochs == pytest.approx(1000 * 4 / 600)
    assert by["short"].epochs == pytest.approx(15 * 4 / 600)
    assert by["long"].family == "ViT" and by["long"].model_size == "T"
    md, rows = _table(tmp_path / "t")
    assert rows[0] == "| initialization | ViT-T 0.1ep | ViT-T 6.67ep |"
    assert "| random | 0.1 / 0.1 | 41.2 / 40.0 |" in md
    assert "(mean of" not in md and "20.7" not in md


def test_seeds_are_one_cell_mean_std_n_and_one_csv_row_each(tmp_path):
    root = tmp_path / "runs"
    for seed, ap in ((1, 41.0), (2, 42.0), (3, 43.0)):
        _run(root, f"s{seed}", seed=seed, box=ap, mask=ap - 1)
    _run(root, "other_lr", seed=1, lr=0.002, box=30.0, mask=29.0)     # another setting
    runs = collect_runs([str(root)], str(tmp_path / "t"), charts=False)
    groups = group_runs(runs)
    assert sorted(len(g.runs) for g in groups) == [1, 3]
    md, _ = _table(tmp_path / "t")
    assert "42.0 ± 1.0 / 41.0 ± 1.0 (3)" in md
    # the lr run would share the cell: it gets its own row naming what differs
    assert "| random [optimizer.lr=0.002] |" in md and "| random [optimizer.lr=0.001] |" in md
    rows = list(csv.DictReader((tmp_path / "t" / "benchmark.csv").open()))
    assert len(rows) == 4 and sorted(r["seed"] for r in rows) == ["1", "1", "2", "3"]
    assert len({r["setting"] for r in rows}) == 2


def test_ambiguous_identification_warns_and_splits(tmp_path, caplog):
    root = tmp_path / "runs"
    _run(root, "a", seed=1)
    _run(root, "b", seed=2, extra="  device: cuda\n")
    with caplog.at_level(logging.WARNING, logger="vitdet_bench.evaluation.runs"):
        collect_runs([str(root)], str(tmp_path / "t"), charts=False)
    assert any("differ in train.device" in r.message for r in caplog.records)
    md, _ = _table(tmp_path / "t")
    assert "(2)" not in md and "train.device=cuda" in md


def test_symlinked_run_folders_are_found(tmp_path):
    """Item 7: a root holding symlinks to run folders (and a link loop) finds each run once."""
    store = tmp_path / "store"
    _run(store, "real_run")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(store / "real_run", root / "linked")
    os.symlink(root, root / "loop")
    found = find_runs([str(root)])
    assert [os.path.basename(p) for p in found] == ["linked"]
    assert identify_run(found[0]).ap_box == 41.2


def test_analysis_tools_know_the_projects_datasets():
    """Item 5: --gt coco128_val resolves like in train_net (registered by vitdet_bench.data)."""
    path = coco128_json()
    assert os.path.samefile(resolve_gt_path("coco128_val"), path)
    with pytest.raises(ValueError, match="shapes_val"):
        resolve_gt_path("no_such_dataset")


def test_label_given_twice_is_an_error(tmp_path):
    """Item 8."""
    g = dump(tmp_path, "gt.json", box_gt([1], [(1, 1, [0, 0, 10, 10])]))
    for n in ("r1", "r2"):
        (tmp_path / n).mkdir()
        write_report(g, dump(tmp_path / n, "res.json", dets((1, 1, [0, 0, 10, 10], .9))),
                     str(tmp_path / n), iou_types=("bbox",), progress=False, charts=False)
    with pytest.raises(ValueError, match=r"Label 'a' is given twice .*r1.* and .*r2"):
        compare_reports([("a", str(tmp_path / "r1")), ("a", str(tmp_path / "r2"))],
                        str(tmp_path / "c"), bootstrap=0)


def test_titles_ticks_and_value_labels(tmp_path):
    """Item 15: run / dataset names in titles, readable ticks for 5 classes, labelled bars."""
    cats = tuple((k, n) for k, n in enumerate(("circle", "square", "triangle", "star", "cross"), 1))
    gt = box_gt([1, 2], [(1, k, [10 * k, 10 * k, 8, 8]) for k, _ in cats] +
                [(2, 1, [0, 0, 30, 30])], categories=cats)
    ann = tmp_path / "shapes" / "annotations"
    ann.mkdir(parents=True)
    g = dump(ann, "annotations.json", gt)
    run = tmp_path / "demo_seed1" / "inference"
    run.mkdir(parents=True)
    r = dump(run, "coco_instances_results.json",
             dets(*[(1, k, [10 * k, 10 * k, 8, 8], .9) for k, _ in cats], (2, 1, [0, 0, 30, 30], .8)))
    rep = write_report(g, r, str(run), iou_types=("bbox",), progress=False)
    assert rep["run"] == "demo_seed1" and rep["dataset"] == "shapes"
    title = error_figure(rep, "bbox")._suptitle.get_text()
    assert "demo_seed1 on shapes" in title and "coco_instances_results" not in title
    md = (run / "report.md").read_text()
    assert md.startswith("# Evaluation report: demo_seed1 on shapes") and "annotations.json" not in md.splitlines()[0]
    ax = per_category_figure(rep, "bbox").axes[0]
    ticks = ax.get_xticklabels()
    assert [t.get_text() for t in ticks] and all(t.get_rotation() == 0 for t in ticks)
    assert min(t.get_fontsize() for t in ticks) >= 8
    out = compare_reports([("seed1", str(run))], str(tmp_path / "c"), bootstrap=0,
                          iou_types=("bbox",), charts=False)
    texts = [t.get_text() for t in compare_figure(out["bbox"]["runs"], "bbox").axes[0].texts]
    assert len(texts) == 8 and all(t.replace(".", "").isdigit() for t in texts)

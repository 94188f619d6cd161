"""What a new user sees: one-time preparation announces itself, compare's chart and table
say what their numbers are, the convergence plot draws only real curves."""
from __future__ import annotations

import logging
import os

import pytest
from data_fixtures import TINY_CONFIG

from vitdet_bench.data.synthetic_shapes import ensure_synthetic_split, split_files


# --------------------------------------------------------------------------- preparation
def test_synthetic_generation_says_where_it_writes_and_shows_progress(tmp_path, capsys, caplog):
    root = str(tmp_path / "cache")
    target = split_files(TINY_CONFIG, root).folder
    with caplog.at_level(logging.INFO, logger="vitdet_bench.data.synthetic_shapes"):
        ensure_synthetic_split(TINY_CONFIG, root, progress=True)
    messages = [r.getMessage() for r in caplog.records]
    # said before the work starts, naming the final folder (not the temporary one)
    assert messages[0] == (f"Generating synthetic split 'tiny' (8 images, once: cached for later "
                           f"runs) into {target}")
    assert messages[-1].startswith("Generated synthetic split 'tiny' (8 images)")
    err = capsys.readouterr().err
    assert "synthetic shapes_tiny" in err and "8/8" in err
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="vitdet_bench.data.synthetic_shapes"):
        ensure_synthetic_split(TINY_CONFIG, root, progress=True)   # cached: silent
    assert not caplog.records and "shapes_tiny" not in capsys.readouterr().err


def test_synthetic_progress_can_be_switched_off(tmp_path, capsys):
    ensure_synthetic_split(TINY_CONFIG, str(tmp_path), progress=False)
    assert "shapes_tiny" not in capsys.readouterr().err


# --------------------------------------------------------------------------- compare
def _rows(ap75=0.4):
    both = {"AP": 45.0, "AP50": 70.0, "AP75": ap75, "APs": None, "APm": None, "APl": None}
    return {"seeds": {"n": 2, "coco": dict(both),
                      "interval": {"AP": [41.0, 49.0], "AP50": [66.0, 74.0], "AP75": [0.0, 1.1]},
                      "seed_std": {"AP": 2.0, "AP50": 1.0, "AP75": 0.3}},
            "other": {"n": 1, "coco": dict(both, AP=30.0, AP75=20.0),
                      "interval": {"AP": [28.0, 32.0], "AP50": [66.0, 74.0], "AP75": [18.0, 22.0]},
                      "seed_std": {"AP": None, "AP50": None, "AP75": None}}}


def test_short_bar_value_is_dark_text_above_its_error_bar():
    """AP75 0.4 was written in white across a bar thinner than the text."""
    from matplotlib.colors import to_rgba

    from vitdet_bench.evaluation.compare import ap_figure

    ax = ap_figure(_rows(), "bbox").axes[0]
    texts = {t.get_text(): t for t in ax.texts}
    assert set(texts) >= {"0.4", "45.0", "70.0", "20.0", "30.0"}
    short = texts["0.4"]
    r, g, b, _ = to_rgba(short.get_color())
    assert 0.299 * r + 0.587 * g + 0.114 * b < 0.3            # dark on the white background
    assert short.xy[1] >= 0.4 + (1.1 - 0.4) and short.get_va() == "bottom"   # above error bar
    tall = texts["45.0"]
    assert tall.xy[1] == pytest.approx(22.5) and tall.get_va() == "center"      # inside
    # inside text keeps contrast with its bar: white on tab10's dark blue
    assert to_rgba(tall.get_color()) == to_rgba("white")


def test_value_label_inside_threshold():
    from vitdet_bench.evaluation.compare import value_label_inside

    assert not value_label_inside(0.4, 60.0, 2.9)
    assert value_label_inside(30.0, 60.0, 2.9)
    assert not value_label_inside(5.0, 60.0, 2.9)     # 0.24 in: less than 2.5 text heights


def _seed_case(tmp_path):
    from eval_fixtures import box_gt, dets, dump

    from vitdet_bench.evaluation import write_report

    gt = box_gt([1, 2, 3, 4], [(i, 1, [10, 10, 30, 30]) for i in (1, 2, 3, 4)])
    g = dump(tmp_path, "gt.json", gt)
    runs = {}
    for name, shift in (("a1", 0), ("a2", 4), ("b1", 9)):
        d = tmp_path / name
        d.mkdir()
        r = dump(d, "coco_instances_results.json",
                 dets(*[(i, 1, [10 + shift * (i % 2), 10, 30, 30], 0.9) for i in (1, 2, 3, 4)]))
        write_report(g, r, str(d), iou_types=("bbox",), progress=False)
        runs[name] = str(d)
    return runs


def test_compare_table_has_a_legend_for_seed_spread_and_interval(tmp_path):
    from vitdet_bench.evaluation.compare import compare_reports

    runs = _seed_case(tmp_path)
    compare_reports([("A", [runs["a1"], runs["a2"]]), ("B", runs["b1"])], str(tmp_path / "c"),
                    iou_types=("bbox",), bootstrap=50, charts=False, progress=False)
    md = (tmp_path / "c" / "compare.md").read_text().splitlines()
    table_end = next(i for i in range(md.index("## bbox") + 3, len(md)) if not md[i].startswith("|"))
    assert md[table_end + 1 - 1] == "" and md[table_end + 1].startswith(
        "Cells: `mean ± std (n) [lo, hi]`: `mean ± std (n)` is the seed spread")
    assert "`[lo, hi]` is the 95% bootstrap interval over the evaluation images" in md[table_end + 1]
    assert md[md.index("## bbox") + 4].startswith("| A | ") and " ± " in md[md.index("## bbox") + 4]
    compare_reports([("B", runs["b1"])], str(tmp_path / "d"), iou_types=("bbox",), bootstrap=0,
                    charts=False, progress=False)
    assert "Cells:" not in (tmp_path / "d" / "compare.md").read_text()    # bare values


# --------------------------------------------------------------------------- convergence
def _run_folder(root, name, *, max_iter, seed, box, mask, init_checkpoint=""):
    """A demo-like run folder (saved config + report.json): 600 images, batch 4."""
    import json

    d = root / name
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(
        "dataloader:\n  train:\n    dataset: {names: shapes_train}\n    total_batch_size: 4\n"
        "model:\n  backbone:\n    _target_: vitdet_bench.modeling.ViTFPN\n    bottom_up:\n"
        "      _target_: vitdet_bench.modeling.MultiScaleAdaptor\n"
        "      net: {_target_: vitdet_bench.modeling.ViT, depth: 8, embed_dim: 128}\n"
        f"optimizer:\n  lr: 0.001\ntrain:\n  epochs: null\n  init_checkpoint: '{init_checkpoint}'\n"
        f"  max_iter: {max_iter}\n  num_train_images: 600\n  output_dir: out/{name}\n"
        f"  seed: {seed}\n")
    (d / "report.json").write_text(json.dumps({"bbox": {"coco": {"AP": box}},
                                               "segm": {"coco": {"AP": mask}}}))


def test_single_schedule_draws_no_curve_and_the_table_says_why(tmp_path):
    """The tiny study: 2 seeds at 8 iterations (0.053 epochs), AP near 0 with a std that
    reached below 0 AP: one point on a 0.051-0.056 axis was drawn."""
    from vitdet_bench.evaluation import collect_runs
    from vitdet_bench.evaluation.runs import convergence_curves, convergence_figure, group_runs

    root = tmp_path / "runs"
    _run_folder(root, "s1", max_iter=8, seed=1, box=0.1, mask=0.0)
    _run_folder(root, "s2", max_iter=8, seed=2, box=1.6, mask=0.2)
    runs = collect_runs([str(root)], str(tmp_path / "t"))
    assert (tmp_path / "t" / "convergence.png").read_bytes().startswith(b"\x89PNG")
    md = (tmp_path / "t" / "benchmark.md").read_text()
    assert ("No convergence curve is drawn: a curve needs runs of one row at two or more "
            "schedules (different train.epochs or train.max_iter), and every row here has a "
            "single schedule (ViT-d128: random (0.05ep)).") in md
    groups = group_runs(runs)
    curves, single = convergence_curves(groups)
    assert curves == [] and single == [("ViT-d128", "random", pytest.approx(8 * 4 / 600))]
    ax = convergence_figure(groups).axes[0]
    assert not ax.lines and not ax.collections           # nothing plotted
    assert "no curve" in ax.texts[0].get_text()


def test_curves_need_two_schedules_and_error_bars_stay_in_0_100(tmp_path):
    from vitdet_bench.evaluation import collect_runs
    from vitdet_bench.evaluation.runs import convergence_curves, convergence_figure, group_runs

    root = tmp_path / "runs"
    _run_folder(root, "r8a", max_iter=8, seed=1, box=0.1, mask=0.0)
    _run_folder(root, "r8b", max_iter=8, seed=2, box=1.6, mask=0.2)
    _run_folder(root, "r90a", max_iter=90, seed=1, box=99.9, mask=40.0)
    _run_folder(root, "r90b", max_iter=90, seed=2, box=97.9, mask=41.0)
    _run_folder(root, "mae", max_iter=90, seed=1, box=50.0, mask=45.0,
                init_checkpoint="mae_pretrain_vit_base.pth")
    runs = collect_runs([str(root)], str(tmp_path / "t"))
    curves, single = convergence_curves(group_runs(runs))
    assert [(c["row"], c["kind"]) for c in curves] == [("random", "box"), ("random", "mask")]
    box = curves[0]
    assert box["epochs"] == pytest.approx([8 * 4 / 600, 90 * 4 / 600])
    sd_8, sd_90 = 1.5 / 2 ** 0.5, 2.0 / 2 ** 0.5                   # seed std of each schedule
    assert box["ap"] == pytest.approx([0.85, 98.9])
    assert box["err_low"] == pytest.approx([0.85, sd_90])           # clipped at 0 AP
    assert box["err_high"] == pytest.approx([sd_8, 1.1])            # clipped at 100 AP
    assert [s[1] for s in single] == ["MAE"]
    md = (tmp_path / "t" / "benchmark.md").read_text()
    assert "Rows without a curve (a single schedule each): ViT-d128: MAE (0.6ep)." in md
    ax = convergence_figure(group_runs(runs)).axes[0]
    assert len(ax.lines) >= 2 and not ax.texts

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

"""Evaluation reports: COCO metrics, TIDE error breakdown, charts, run comparison.

Public API::

    write_report(gt_json, results_json, output_dir, iou_types=("bbox", "segm"),
                 tide_thresholds=(0.5,), dataset_name=None) -> dict
    build_report(...) -> dict                 # the same, writing nothing
    coco_metrics(gt, detections, iou_type)    # COCOeval numbers (vectorized / pycocotools)
    tide_errors(gt, detections, iou_type, thresholds=(0.5,))
    compare_reports([(label, [report, ...]), ...], output_dir, bootstrap=1000)
    bootstrap_stats([Matching, ...], resamples, seed)   # paired bootstrap over images
    identify_run(run_dir), group_runs(runs)             # a run's setting, seeds grouped
    collect_runs([run folders or roots], output_dir)

See docs/analysis.md for the CLI (tools/analyze.py, tools/collect_runs.py) and
the report.json schema.
"""
from .coco_metrics import METRIC_NAMES, available_backends, coco_metrics
from .bootstrap import ResampledCOCO, bootstrap_stats, paired_difference, percentile_interval
from .compare import compare_reports, load_report
from .runs import collect_runs, group_runs, identify_run, read_run
from .inputs import (EvaluationInputError, GroundTruthError, ResultsError, load_ground_truth,
                     load_results)
from .report import build_report, render_markdown, write_report
from .tide import MAIN_ERRORS, SPECIAL_ERRORS, tide_errors

__all__ = [
    "write_report", "build_report", "render_markdown", "coco_metrics", "available_backends",
    "METRIC_NAMES", "tide_errors", "MAIN_ERRORS", "SPECIAL_ERRORS", "compare_reports",
    "collect_runs", "load_report", "read_run", "identify_run", "group_runs", "ResampledCOCO",
    "bootstrap_stats", "paired_difference", "percentile_interval", "load_ground_truth", "load_results",
    "EvaluationInputError", "GroundTruthError", "ResultsError",
]

#!/usr/bin/env python
"""Evaluation report for one run, or a comparison of several.

Single report (COCO metrics + TIDE error breakdown + charts)::

    python tools/analyze.py --gt GT.json|DATASET_NAME --results RESULTS.json|RUN_DIR \
        --iou-type bbox|segm|both --output DIR [--tide-thresholds 0.5 0.75]

Compare mode (one table and one grouped error chart)::

    python tools/analyze.py compare --output DIR MAE=runs/mae BEiT=runs/beit/report.json ...

See docs/analysis.md.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import vitdet_bench  # noqa: E402,F401  (compat bridges before detectron2)
from vitdet_bench.evaluation import EvaluationInputError  # noqa: E402


def _report_main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", required=True, help="COCO ground-truth json, or a registered dataset name")
    ap.add_argument("--results", required=True,
                    help="COCO results json, or a run / inference folder with coco_instances_results.json")
    ap.add_argument("--iou-type", choices=("bbox", "segm", "both"), default="both")
    ap.add_argument("--output", required=True, help="folder for report.json, report.md, charts")
    ap.add_argument("--tide-thresholds", type=float, nargs="+", default=[0.5],
                    help="TIDE foreground IoU thresholds (errors at each; 0.5 is the headline)")
    ap.add_argument("--backend", default="auto",
                    choices=("auto", "vectorized", "pycocotools", "faster_coco_eval"),
                    help="COCO metrics backend (all give pycocotools' numbers)")
    ap.add_argument("--dataset-name", default=None)
    ap.add_argument("--no-charts", action="store_true")
    args = ap.parse_args(argv)
    from vitdet_bench.evaluation import write_report

    types = ("bbox", "segm") if args.iou_type == "both" else (args.iou_type,)
    name = args.dataset_name or (args.gt if not os.path.exists(args.gt) else None)
    rep = write_report(args.gt, args.results, args.output, iou_types=types,
                       tide_thresholds=args.tide_thresholds, dataset_name=name,
                       backend=args.backend, charts=not args.no_charts,
                       strict_iou_types=args.iou_type != "both")
    for t in ("bbox", "segm"):
        if t in rep:
            c, e = rep[t]["coco"], rep[t]["errors"]
            print(f"{t}: AP {c['AP']:.2f}  AP50 {c['AP50']:.2f}  AP75 {c['AP75']:.2f} | dAP@"
                  f"{rep[t]['errors_iou']:g} " + " ".join(f"{k} {v:.2f}" for k, v in e.items()))
    print(f"wrote {os.path.join(args.output, 'report.json')} and report.md "
          f"({rep['timing_s']['total']:.1f} s)")
    return 0


def _compare_main(argv) -> int:
    ap = argparse.ArgumentParser(prog="analyze.py compare",
                                 description="Compare several reports in one table and chart.")
    ap.add_argument("runs", nargs="+", help="LABEL=PATH (report.json or a folder with one) or PATH")
    ap.add_argument("--output", required=True)
    ap.add_argument("--iou-type", choices=("bbox", "segm", "both"), default="both")
    ap.add_argument("--no-charts", action="store_true")
    args = ap.parse_args(argv)
    from vitdet_bench.evaluation import compare_reports

    entries = []
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep:
            label, path = os.path.basename(os.path.normpath(spec)), spec
        entries.append((label, path))
    types = ("bbox", "segm") if args.iou_type == "both" else (args.iou_type,)
    compare_reports(entries, args.output, iou_types=types, charts=not args.no_charts)
    print(f"wrote {os.path.join(args.output, 'compare.md')}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        if argv and argv[0] == "compare":
            return _compare_main(argv[1:])
        return _report_main(argv)
    except EvaluationInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Evaluation report for one run, or a comparison of several.

Single report (COCO metrics + TIDE error breakdown + charts)::

    python tools/analyze.py --gt GT.json|DATASET_NAME --results RESULTS.json|RUN_DIR \
        --iou-type bbox|segm|both --output DIR [--tide-thresholds 0.5 0.75]

Compare mode (one table with bootstrap intervals and p-values, charts)::

    python tools/analyze.py compare --output DIR MAE=runs/mae_s1,runs/mae_s2 BEiT=runs/beit ...
        [--bootstrap 1000] [--bootstrap-seed 0] [--baseline MAE]

``LABEL=PATH1,PATH2,...``: several runs (seeds) of one setting under one label.

See docs/analysis.md.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

import vitdet_bench  # noqa: F401  (compat bridges before detectron2)
from vitdet_bench.evaluation import EvaluationInputError
from vitdet_bench.evaluation.bootstrap import INTERVAL_KINDS


def _bootstrap_args(ap, what: str) -> None:
    ap.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                    help=f"{what}; default %(default)s")
    ap.add_argument("--bootstrap-seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                    help="bootstrap worker processes (default %(default)s; same numbers for any)")
    ap.add_argument("--interval", choices=INTERVAL_KINDS, default=None,
                    help="bootstrap interval kind (default: the one whose measured coverage is "
                         "closest to nominal, docs/analysis.md)")


def _report_main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", required=True, help="COCO ground-truth json, or a registered dataset name")
    ap.add_argument("--results", required=True,
                    help="COCO results json, or a run / inference folder with coco_instances_results.json "
                         "(lvis_instances_results.json for an LVIS dataset)")
    ap.add_argument("--iou-type", choices=("bbox", "segm", "both"), default="both")
    ap.add_argument("--output", required=True, help="folder for report.json, report.md, charts")
    ap.add_argument("--tide-thresholds", type=float, nargs="+", default=[0.5],
                    help="TIDE foreground IoU thresholds (errors at each; 0.5 is the headline)")
    ap.add_argument("--backend", default="auto",
                    choices=("auto", "vectorized", "pycocotools", "faster_coco_eval"),
                    help="COCO metrics backend (all give pycocotools' numbers)")
    ap.add_argument("--dataset-name", default=None, help="default: the registered name, or "
                    "the GT file's name")
    ap.add_argument("--run-name", default=None, help="title of the report and charts "
                    "(default: the run folder holding the results)")
    _bootstrap_args(ap, "resamples of the images for 95%% intervals of AP..APl (0: none)")
    ap.add_argument("--no-charts", action="store_true")
    args = ap.parse_args(argv)
    from vitdet_bench.evaluation import write_report

    types = ("bbox", "segm") if args.iou_type == "both" else (args.iou_type,)
    name = args.dataset_name or (args.gt if not os.path.exists(args.gt) else None)
    rep = write_report(args.gt, args.results, args.output, iou_types=types,
                       tide_thresholds=args.tide_thresholds, dataset_name=name,
                       backend=args.backend, charts=not args.no_charts,
                       strict_iou_types=args.iou_type != "both", run_name=args.run_name,
                       bootstrap=args.bootstrap, bootstrap_seed=args.bootstrap_seed,
                       jobs=args.jobs, interval=args.interval)
    for t in ("bbox", "segm"):
        if t in rep:
            c, e = rep[t]["coco"], rep[t]["errors"]
            ci = rep[t].get("coco_interval", {}).get("AP")
            print(f"{t}: AP {c['AP']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "") +
                  f"  AP50 {c['AP50']:.2f}  AP75 {c['AP75']:.2f} | dAP@"
                  f"{rep[t]['errors_iou']:g} " + " ".join(f"{k} {v:.2f}" for k, v in e.items()))
    print(f"wrote {os.path.join(args.output, 'report.json')} and report.md "
          f"({rep['timing_s']['total']:.1f} s)")
    return 0


def _compare_main(argv) -> int:
    ap = argparse.ArgumentParser(
        prog="analyze.py compare",
        description="Compare runs in one table: COCO AP with 95% bootstrap intervals over the "
                    "evaluation images, differences with intervals and p-values, seed spread.")
    ap.add_argument("runs", nargs="+", help="LABEL=PATH[,PATH...] (report.json or a run folder "
                    "with one; several paths: seeds of one setting) or PATH")
    ap.add_argument("--output", required=True)
    ap.add_argument("--iou-type", choices=("bbox", "segm", "both"), default="both")
    _bootstrap_args(ap, "paired resamples of the images (0: point estimates only)")
    ap.add_argument("--baseline", default=None, help="compare each label with this one "
                    "(default: every pair)")
    ap.add_argument("--no-charts", action="store_true")
    args = ap.parse_args(argv)
    from vitdet_bench.evaluation import compare_reports

    entries = []
    for spec in args.runs:
        label, sep, paths = spec.partition("=")
        if not sep:
            label, paths = os.path.basename(os.path.normpath(spec)), spec
        entries.append((label, [p for p in paths.split(",") if p]))
    types = ("bbox", "segm") if args.iou_type == "both" else (args.iou_type,)
    out = compare_reports(entries, args.output, iou_types=types, charts=not args.no_charts,
                          bootstrap=args.bootstrap, bootstrap_seed=args.bootstrap_seed,
                          baseline=args.baseline, jobs=args.jobs, interval=args.interval)
    with open(os.path.join(args.output, "compare.md"), encoding="utf-8") as f:
        print(f.read())
    print(f"wrote {os.path.join(args.output, 'compare.md')} and compare.json "
          f"({', '.join(t for t in ('bbox', 'segm') if t in out)})")
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

#!/usr/bin/env python
"""Benchmark table over run folders (initialization x backbone size x trained epochs).

    python tools/collect_runs.py RUNS_ROOT [MORE_RUNS ...] --output DIR

Each run folder holds detectron2's ``config.yaml`` (LazyConfig.save) and a
``report.json`` (or ``metrics.json``); symlinked run folders under a root are found
too. Runs are identified from the saved config, never the folder name: backbone
family and size, initialization, recipe, and the schedule actually trained
(``train.max_iter`` x total batch / ``train.num_train_images``). Runs whose configs
agree in everything but ``train.seed`` and output paths share a cell, shown as
mean +- std (n); runs differing in anything else never do (a warning names what
differs). Writes benchmark.md, benchmark.csv (one row per run), benchmark.json and
convergence.png into DIR. See docs/analysis.md.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

import vitdet_bench  # noqa: F401
from vitdet_bench.evaluation import EvaluationInputError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", help="run folders, or folders holding run folders")
    ap.add_argument("--output", required=True)
    ap.add_argument("--no-charts", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    from vitdet_bench.evaluation import collect_runs

    try:
        runs = collect_runs(args.paths, args.output, charts=not args.no_charts)
    except EvaluationInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with open(os.path.join(args.output, "benchmark.md"), encoding="utf-8") as f:
        print(f.read())
    print(f"{len(runs)} runs -> {args.output}/benchmark.{{md,csv,json}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

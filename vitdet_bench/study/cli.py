"""The command line of tools/study.py: plan / launch / status / collect of a study."""
from __future__ import annotations

import argparse
import os
import sys
import time

__all__ = ["USAGE", "build_parser", "main"]

USAGE = """\
Run a whole study (many configs x axes) on SLURM through submitit, or on this machine.

    python tools/study.py plan    STUDY [resources] [--seconds-per-iter S]
    python tools/study.py launch  STUDY --executor slurm|local [resources] [--max-parallel N]
    python tools/study.py status  STUDY [--watch [SECONDS]]
    python tools/study.py collect STUDY [--output DIR]

resources (override the study's, for every run): --nodes --gpus-per-node --cpus-per-task
--mem --time --partition --account --constraint --qos --images-per-gpu --signal-delay
--no-gpus. A study file defines ``study = Study(...)`` (see studies/, vitdet_bench/study).

``launch`` skips finished runs, leaves pending/running jobs alone and resubmits failed or
interrupted runs, which resume from their last checkpoint; jobs signalled before their
time limit (or preempted) checkpoint and are requeued by submitit. Exit codes: 0 ok,
2 a study or run that cannot be built (one paragraph per run).
"""


def _resource_args(ap):
    g = ap.add_argument_group("resources (override the study's, for every run)")
    g.add_argument("--nodes", type=int)
    g.add_argument("--gpus-per-node", type=int, help="GPUs = training processes per node")
    g.add_argument("--cpus-per-task", type=int)
    g.add_argument("--mem", help="memory per node, SLURM syntax (e.g. 480G)")
    g.add_argument("--time", help="time limit per job (minutes, HH:MM:SS or D-HH:MM:SS); a job "
                   "reaching it checkpoints and is requeued")
    g.add_argument("--partition")
    g.add_argument("--account")
    g.add_argument("--constraint")
    g.add_argument("--qos")
    g.add_argument("--images-per-gpu", type=int, help="micro-batch per process; fewer GPUs "
                   "than the recipe's batch needs -> gradient accumulation")
    g.add_argument("--signal-delay", type=int, dest="signal_delay_s",
                   help="seconds before the time limit at which SLURM signals the job (120)")
    g.add_argument("--no-gpus", action="store_const", const=False, dest="request_gpus",
                   help="CPU processes: request no GPUs from SLURM")


def _resources(args) -> dict:
    keys = ("nodes", "gpus_per_node", "cpus_per_task", "mem", "time", "partition", "account",
            "constraint", "qos", "images_per_gpu", "signal_delay_s", "request_gpus")
    return {k: getattr(args, k, None) for k in keys}


def build_parser():
    ap = argparse.ArgumentParser(prog="tools/study.py", description=USAGE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    for name, text in (("plan", "the expanded runs; submits nothing"),
                       ("launch", "submit every run that is not finished"),
                       ("status", "one table: state, job, iteration, AP, errors"),
                       ("collect", "the study's table + benchmark table, CSV, plot")):
        p = sub.add_parser(name, help=text)
        p.add_argument("study", help="study file, e.g. studies/benchmarking_table.py")
        p.add_argument("--root", help="folder of the run folders (default: the study's root)")
        if name in ("plan", "launch"):
            _resource_args(p)
        if name == "plan":
            p.add_argument("--seconds-per-iter", type=float,
                           help="measured seconds per iteration, for GPU-hours")
        if name == "launch":
            p.add_argument("--executor", choices=("slurm", "local"), required=True)
            p.add_argument("--max-parallel", type=int, help="jobs running at once (slurm: "
                           "array parallelism; local: default 1, one after another)")
            p.add_argument("--max-requeues", type=int, default=30,
                           help="time-limit requeues per job before it is given up (30)")
        if name == "status":
            p.add_argument("--watch", nargs="?", type=float, const=30.0, metavar="SECONDS",
                           help="refresh every SECONDS (30) until every run is done or ended")
        if name == "collect":
            p.add_argument("--output", help="default: <root>/table")
            p.add_argument("--no-charts", action="store_true")
    return ap


def main(argv=None) -> int:
    """``tools/study.py ARGV``; returns the exit code."""
    args = build_parser().parse_args(argv)
    from . import (StudyError, collect_study, format_plan, format_status,
                                    launch_study, load_study, plan_study, study_status)
    from .spec import expand

    try:
        study = load_study(args.study)
        if args.command == "plan":
            planned = plan_study(study, args.root, _resources(args), args.seconds_per_iter)
            print(format_plan(study, planned))
        elif args.command == "launch":
            launch_study(study, args.executor, args.root, _resources(args), args.max_parallel,
                         args.max_requeues)
            root = os.path.dirname(expand(study, args.root)[0].folder)
            print(f"Job records: {os.path.join(root, 'jobs.json')}; logs under "
                  f"{os.path.join(root, 'submitit')}; watch with: python tools/study.py status "
                  f"{args.study} --watch")
        elif args.command == "status":
            while True:
                statuses = study_status(study, args.root)
                text = format_status(study, statuses)
                if args.watch:
                    print("\033[2J\033[H" + time.strftime("%H:%M:%S ") + text, flush=True)
                    if all(s.state in ("done", "failed", "interrupted", "not submitted")
                           for s in statuses):
                        break
                    time.sleep(args.watch)
                else:
                    print(text)
                    break
        elif args.command == "collect":
            root = os.path.dirname(expand(study, args.root)[0].folder)
            out = args.output or os.path.join(root, "table")
            print(collect_study(study, out, args.root, charts=not args.no_charts))
            with open(os.path.join(out, "benchmark.md"), encoding="utf-8") as f:
                print(f.read())
            print(f"-> {out}/study.{{md,csv}}, {out}/benchmark.{{md,csv,json}}"
                  + ("" if args.no_charts else f", {out}/convergence.png"))
    except StudyError as e:
        print(f"Study error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


"""The reference implementations, run in a child process (tests and benchmark only).

``tidecv`` (the TIDE authors' package) changes global matplotlib / seaborn
settings on import and creates a data folder under ``TIDE_PATH``; running it in
a subprocess keeps both away from the caller. It is the numerical reference for
:mod:`vitdet_bench.evaluation.tide`, never a dependency of it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

__all__ = ["run_tidecv", "run_tidecv_many", "TIDECV_NAMES"]

# tidecv's short names -> ours
TIDECV_NAMES = {"Cls": "cls", "Loc": "loc", "Both": "both", "Dupe": "dup", "Bkg": "bkg",
                "Miss": "miss", "FalsePos": "fp", "FalseNeg": "fn"}

_CHILD = r"""
import json, sys, time, resource
def peak_mb():
    return int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) / 1024
jobs = json.loads(sys.stdin.read())
from tidecv import TIDE, datasets
results = []
for args in jobs:
    t0 = time.perf_counter()
    gt = datasets.COCO(args["gt"])
    pr = datasets.COCOResult(args["results"])
    t_load = time.perf_counter() - t0
    tide = TIDE()
    mode = TIDE.MASK if args["iou_type"] == "segm" else TIDE.BOX
    out = {}
    for t in args["thresholds"]:
        name = "t%r" % t
        run = tide.evaluate(gt, pr, pos_threshold=t, mode=mode, name=name)
        out[name] = {"ap": run.ap}
    errs = tide.get_all_errors()
    for name in out:
        out[name]["main"] = errs["main"][name]
        out[name]["special"] = errs["special"][name]
    out["_seconds"] = time.perf_counter() - t0
    out["_load_seconds"] = t_load
    out["_peak_rss_mb"] = peak_mb()
    results.append(out)
print("@@" + json.dumps(results))
"""


def run_tidecv(gt_json: str, results_json: str, iou_type: str = "bbox",
               thresholds=(0.5,), timeout: float | None = None) -> dict:
    """tidecv's numbers: ``{threshold: {"ap":, "errors": {cls..miss}, "special": {fp, fn}}}``.

    Also ``"_seconds"`` (its wall time: loading and evaluation, import excluded),
    ``"_load_seconds"`` (reading the two json files) and ``"_peak_rss_mb"`` of the
    child process.
    """
    return run_tidecv_many([(gt_json, results_json, iou_type, thresholds)], timeout)[0]


def run_tidecv_many(jobs, timeout: float | None = None) -> list:
    """Several ``(gt_json, results_json, iou_type, thresholds)`` jobs in one child process."""
    payload = json.dumps([{"gt": g, "results": r, "iou_type": it,
                           "thresholds": [float(t) for t in th]} for g, r, it, th in jobs])
    with tempfile.TemporaryDirectory(prefix="tide_path_") as tide_path:
        env = dict(os.environ, TIDE_PATH=tide_path, MPLBACKEND="Agg")
        proc = subprocess.run([sys.executable, "-c", _CHILD], input=payload, env=env, text=True,
                              capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"tidecv failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("@@")][-1]
    outs = []
    for raw, (_, _, _, thresholds) in zip(json.loads(line[2:]), jobs):
        out = {k: raw.pop(k) for k in ("_seconds", "_load_seconds", "_peak_rss_mb")}
        for t in thresholds:
            r = raw["t%r" % float(t)]
            out[float(t)] = {
                "ap": r["ap"],
                "errors": {TIDECV_NAMES[k]: v for k, v in r["main"].items()},
                "special": {TIDECV_NAMES[k]: v for k, v in r["special"].items()},
            }
        outs.append(out)
    return outs

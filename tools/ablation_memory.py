#!/usr/bin/env python
"""The memory / time ablation table (Li et al. 2021): each attention strategy's box AP,
training time per iteration and peak memory, side by side.

AP comes from the training runs of ``configs/ablations/mem_*.py`` (their run folders:
``config.yaml`` + ``report.json``, read as ``tools/collect_runs.py`` reads them); time
and memory from ``tools/benchmark.py`` run on the same detector, whose strategies are the
same four (it overrides ``attention_strategy`` on the flagship config):

    python tools/benchmark.py --config-file configs/mae_vitb_mrcnn.py --target model \\
        --sizes 1024 --strategies window window_global global_checkpoint global \\
        --output-dir runs/mem_bench
    python tools/ablation_memory.py output/ablations/mem_* \\
        --benchmark runs/mem_bench/benchmark.json --output runs/mem_table

Writes ``memory_ablation.md`` / ``.json`` into ``--output`` and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import vitdet_bench  # noqa: F401  (before detectron2)
from vitdet_bench.modeling.backbone import ATTENTION_STRATEGIES

STRATEGY_KEY = "model.backbone.bottom_up.net.attention_strategy"
ORDER = ATTENTION_STRATEGIES


class TableInputError(ValueError):
    pass


def run_rows(paths):
    """``{strategy: (box AP, mask AP, run folder)}`` from the run folders under ``paths``."""
    from vitdet_bench.evaluation.runs import find_runs, identify_run

    out = {}
    for run_dir in find_runs(paths):
        run = identify_run(run_dir)
        node = run.config.get(STRATEGY_KEY)  # the saved config, flattened
        if node is None:
            raise TableInputError(f"{run_dir}/config.yaml has no {STRATEGY_KEY}: not a run of "
                                  "configs/ablations/mem_*.py (or another ViT config)")
        if node in out:
            raise TableInputError(f"two runs of strategy {node!r}: {out[node][2]} and {run_dir}; "
                                  "pass one run folder per strategy")
        out[node] = (run.ap_box, run.ap_mask, run_dir)
    return out


def bench_rows(path, size):
    """``{strategy: row}`` of ``tools/benchmark.py``'s benchmark.json at input ``size``."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        rows = data["rows"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TableInputError(f"--benchmark {path}: not a tools/benchmark.py benchmark.json "
                              f"({type(e).__name__}: {e})") from e
    out = {r["strategy"]: r for r in rows if r.get("size") == size}
    if not out:
        sizes = sorted({r.get("size") for r in rows})
        raise TableInputError(f"--benchmark {path}: no rows at size {size} (it has {sizes}); "
                              "pass --size")
    return out, data.get("meta", {})


def join(runs, bench):
    rows = []
    for s in sorted(set(runs) | set(bench), key=lambda s: (ORDER.index(s) if s in ORDER else 99, s)):
        ap_box, ap_mask, run_dir = runs.get(s, (None, None, None))
        b = bench.get(s, {})
        rows.append(dict(strategy=s, ap_box=ap_box, ap_mask=ap_mask, run=run_dir,
                         train_step_s=b.get("train_step_s"),
                         train_peak_GB=b.get("train_peak_GB"), status=b.get("status", "not benchmarked")))
    return rows


def _f(v, fmt="{:.1f}"):
    return fmt.format(v) if isinstance(v, (int, float)) else "-"


def table(rows):
    lines = ["| strategy | box AP | mask AP | train time (s / iter) | peak memory (GB) |",
             "|---|---|---|---|---|"]
    for r in rows:
        bad = r["status"] if r["status"] not in ("ok",) else None
        lines.append(f"| {r['strategy']} | {_f(r['ap_box'])} | {_f(r['ap_mask'])} | "
                     f"{bad or _f(r['train_step_s'], '{:.2f}')} | {bad or _f(r['train_peak_GB'], '{:.2f}')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run folders of configs/ablations/mem_*.py (or their root)")
    ap.add_argument("--benchmark", required=True, help="tools/benchmark.py's benchmark.json")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--output", required=True)
    args = ap.parse_args(argv)
    from vitdet_bench.evaluation import EvaluationInputError
    from vitdet_bench.utils.io import atomic_write_json, atomic_write_text

    try:
        runs = run_rows(args.runs)
        bench, meta = bench_rows(args.benchmark, args.size)
    except (TableInputError, EvaluationInputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = join(runs, bench)
    md = table(rows)
    os.makedirs(args.output, exist_ok=True)
    atomic_write_json(os.path.join(args.output, "memory_ablation.json"),
                      {"size": args.size, "benchmark": args.benchmark, "benchmark_meta": meta, "rows": rows},
                      indent=1)
    atomic_write_text(os.path.join(args.output, "memory_ablation.md"), md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())

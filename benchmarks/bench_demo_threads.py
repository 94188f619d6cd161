"""The demo's seconds per iteration, alone and beside a CPU-bound neighbour (not a test).

Runs ``tools/train_net.py --config-file configs/demo/vit_tiny_shapes.py`` for
``--iters`` iterations under two CPU policies:

* ``old``: what a run did before threads and workers were fitted to the CPUs available:
  torch's default intra-op threads (``OMP_NUM_THREADS`` set to the count a fresh torch
  picks) and the loader workers exactly as asked (``--workers``, default 4, the common
  COCO configs' value; ``train.loader_workers`` forces it);
* ``new``: the default policy (``vitdet_bench.utils.cpu``): ``OMP_NUM_THREADS`` unset, the
  same ``--workers`` request fitted to the CPUs available;

each alone and beside a competing CPU-bound process (one python busy loop per CPU
available, started before the run and stopped after it). The figure is detectron2's
"Overall training speed" (iterations after its 3-iteration warm-up; start-up and dataset
generation are not in it; the run is stopped there, before its final evaluation). Prints a table and, with
``--output``, writes the figures as JSON. Figures on a machine where other jobs run are
noisy: the JSON records the CPU count and the load average before each run.

    python benchmarks/bench_demo_threads.py --iters 40 --output runs/bench_demo_threads.json
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "configs/demo/vit_tiny_shapes.py"
SPEED = re.compile(r"Overall training speed: (\d+) iterations in \S+ \(([\d.]+) s / it\)")
BUSY_LOOP = "while True: pass"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=int, default=40,
                   help="train.max_iter of each run (>= 5: detectron2 times after 3)")
    p.add_argument("--workers", type=int, default=4,
                   help="dataloader.train.num_workers asked for in every run (default 4)")
    p.add_argument("--policies", nargs="+", default=["old", "new"], choices=["old", "new"])
    p.add_argument("--conditions", nargs="+", default=["alone", "busy"],
                   choices=["alone", "busy"])
    p.add_argument("--output", help="JSON file to write (optional)")
    p.add_argument("--keep", help="keep the runs' folders under this folder")
    p.add_argument("overrides", nargs="*", help="extra key=value overrides for every run")
    return p.parse_args(argv)


def torch_default_threads() -> int:
    """The intra-op threads a fresh torch process picks when nothing says otherwise."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def start_neighbour(cpus: int) -> list:
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(cpus)]


def stop_neighbour(procs: list) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_demo(policy: str, iters: int, workers: int, output_dir: str, overrides: list,
             default_threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("OMP_NUM_THREADS", None)
    opts = [f"train.max_iter={iters}", "train.warmup_iters=0", f"train.log_period={iters}",
            f"train.checkpointer.period={iters * 10}", f"train.output_dir={output_dir}",
            f"dataloader.train.num_workers={workers}"]
    if policy == "old":
        env["OMP_NUM_THREADS"] = str(default_threads)
        opts.append(f"train.loader_workers={workers}")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train_net.py"), "--config-file",
           os.path.join(ROOT, CONFIG), *opts, *overrides]
    # The run is stopped once training reports its speed: the final evaluation is not
    # what is measured (and takes minutes on a busy machine).
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, process_group=0)
    lines, m = [], None
    try:
        for line in proc.stdout:
            lines.append(line)
            m = SPEED.search(line)
            if m:
                break
    finally:
        wall = time.perf_counter() - start
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)   # the run and its loader workers
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.stdout.close()
    log = "".join(lines)
    if not m:
        raise SystemExit(f"The demo run ({policy}) ended (exit {proc.returncode}) without an "
                         "'Overall training speed' line (is --iters >= 5?):\n" + log[-3000:])
    cpu_line = next((line.split("]: ", 1)[-1] for line in log.splitlines() if "CPU: " in line
                     and "data-loader" in line), "")
    warned = "worker processes in total" in log
    return {"s_per_iter": float(m.group(2)), "timed_iters": int(m.group(1)),
            "wall_s_to_speed_line": wall,
            "cpu_choice": cpu_line, "pytorch_worker_warning": warned}


def main(argv=None):
    args = parse_args(argv)
    if args.iters < 5:
        raise SystemExit(f"--iters {args.iters}: detectron2 times iterations after its first "
                         "3; give at least 5.")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    default_threads = torch_default_threads()
    base = args.keep or tempfile.mkdtemp(prefix="bench_demo_threads-")
    results = []
    try:
        for condition in args.conditions:
            for policy in args.policies:
                neighbour = start_neighbour(cpus) if condition == "busy" else []
                try:
                    load = os.getloadavg()[0]
                    r = run_demo(policy, args.iters, args.workers,
                                 os.path.join(base, f"{policy}-{condition}"), args.overrides,
                                 default_threads)
                finally:
                    stop_neighbour(neighbour)
                r.update(policy=policy, condition=condition, load_before=load)
                results.append(r)
                print(f"{policy:>4} {condition:>5}: {r['s_per_iter']:.3f} s/iter "
                      f"({r['cpu_choice'] or 'no CPU line'})", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print(f"demo, {args.iters} iterations, {cpus} CPU(s) available, torch default "
          f"{default_threads} thread(s), {args.workers} loader workers asked")
    print("| policy | condition | s/iter | wall s (start to end of training) | PyTorch worker "
          "warning | load avg before |")
    print("|---|---|---:|---:|---|---:|")
    for r in results:
        print(f"| {r['policy']} | {r['condition']} | {r['s_per_iter']:.3f} | {r['wall_s_to_speed_line']:.0f} | "
              f"{'yes' if r['pytorch_worker_warning'] else 'no'} | {r['load_before']:.2f} |")
    if args.output:
        from vitdet_bench.utils.io import atomic_write_json

        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        atomic_write_json(args.output, {"iters": args.iters, "cpus": cpus,
                                        "torch_default_threads": default_threads,
                                        "workers_asked": args.workers, "results": results})


if __name__ == "__main__":
    main()

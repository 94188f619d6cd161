#!/usr/bin/env python
"""The project's GPU benchmark suite, measuring step: ``pytest -m cuda``, then the GPU table.

    bash benchmarks/gpu_suite.sh --out runs/gpu_suite            # on a machine with one GPU
    bash benchmarks/gpu_suite.sh --out runs/gpu_suite --quick    # equivalence tests + 1 cell
    bash benchmarks/gpu_suite.sh --device cpu --tiny --out DIR   # CPU rehearsal (CI)
    bash benchmarks/gpu_suite.sh --prepare-wheels .whl           # with PyPI: wheels for a GPU machine

Runs on any CUDA machine; ``gpu_suite.sh`` first installs what the machine lacks
(``benchmarks/gpu_wheels.py``, the packaging step). Writes under ``--out``: ``junit.xml``
and ``pytest.log`` (the CUDA instances of the device-parametrized tests),
``benchmark.json`` (every cell of every config, with the environment and each phase's
wall time), ``benchmark.md`` (the table, SDPA against the plain path per strategy),
``summary.md`` and ``suite.log``: six plain files, easy to copy back from a remote machine.

The table is ``tools/benchmark.py --target model`` (the whole detector's training step:
forward, backward and AdamW; batch 2 at 1024x1024, bf16 autocast; inference per image),
run once per config of ``BENCHMARKS`` for every attention strategy and both attention
paths. Adding a config is one line in ``BENCHMARKS``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Optional

import vitdet_bench  # noqa: F401  (before detectron2)
from vitdet_bench.modeling.backbone import ATTENTION_STRATEGIES
from vitdet_bench.utils.io import atomic_write_json, atomic_write_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATEGIES = ATTENTION_STRATEGIES
PATHS = ("sdpa", "plain")


@dataclass(frozen=True)
class Bench:
    """One row group of the table: a LazyConfig, where its ViT-like backbone node is, and the
    tiny config that stands in for it in the CPU rehearsal."""

    name: str
    config: str
    vit_path: str
    tiny: str
    tiny_vit_path: Optional[str] = None
    strategies: tuple = STRATEGIES  # the attention strategies the family has


BENCHMARKS = [
    Bench("ViT-B Mask R-CNN (flagship)", "configs/mae_vitb_mrcnn.py", "model.backbone.bottom_up.net",
          tiny="configs/demo/vit_tiny_shapes.py"),
    Bench("ConvMAE-B Mask R-CNN", "projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py",
          "model.backbone.bottom_up", tiny="projects/ConvMAE/configs/convmae_tiny_cpu.py"),
    # iTPN (projects/iTPN, built alongside): in the table only once its config file exists.
    # iTPN-B: global attention only (no windows); the benchmark tool's node is the backbone.
    Bench("iTPN-B Mask R-CNN", "projects/iTPN/configs/itpn_pixel_b_mrcnn_1x.py",
          "model.backbone", tiny="projects/iTPN/configs/itpn_tiny_cpu.py", strategies=("global",)),
]

# Test files that hold device-parametrized tests (``device`` fixture / ``DEVICES``); the
# suite collects only these, so a test module whose reference package the GPU machine
# lacks (tidecv, ...) cannot stop the run. tests/test_gpu_suite_rehearsal.py checks the list.
CUDA_TEST_FILES = ("tests/test_cuda_paths.py", "tests/test_vit_perf_checkpoint.py")
# --quick keeps the equivalence tests only.
QUICK_TESTS = "agree or close_to_float64 or matches_detectron2 or same_outputs or same_result"

class SuiteError(Exception):
    """A problem the user must fix before the suite can run (one paragraph, exit code 2)."""


# ----------------------------------------------------------------------- phases
class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, msg):
        line = f"[gpu_suite {time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")


def environment(device):
    import torch

    env = dict(python=platform.python_version(), executable=sys.executable, torch=torch.__version__,
               cuda_available=torch.cuda.is_available(), cpu_count=os.cpu_count(),
               platform=platform.platform())
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SuiteError("--device cuda but torch.cuda.is_available() is False with torch "
                             f"{torch.__version__} ({sys.executable}); run on a GPU machine, or "
                             "rehearse on the CPU with --device cpu --tiny.")
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=torch.cuda.get_device_name(0), gpu_memory_GiB=round(props.total_memory / 2**30, 1),
                   cuda=torch.version.cuda, capability=".".join(map(str, torch.cuda.get_device_capability(0))))
    return env


def junit_summary(path):
    """Counts of a JUnit XML file: tests, passed, failures, errors, skipped, and failed ids."""
    if not os.path.isfile(path):
        return dict(missing=True)
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    out = dict(tests=0, failures=0, errors=0, skipped=0, failed=[], skip_reasons={})
    for s in suites:
        for k in ("tests", "failures", "errors", "skipped"):
            out[k] += int(s.get(k, 0))
        for case in s.iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            if case.find("failure") is not None or case.find("error") is not None:
                out["failed"].append(name)
            sk = case.find("skipped")
            if sk is not None:
                reason = (sk.get("message") or "").strip()[:160]
                out["skip_reasons"][reason] = out["skip_reasons"].get(reason, 0) + 1
    out["passed"] = out["tests"] - out["failures"] - out["errors"] - out["skipped"]
    return out


def run_tests(args, log, deadline):
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-p", "no:cacheprovider", "-q", "-rfEs",
           f"--junitxml={os.path.join(args.out, 'junit.xml')}", *CUDA_TEST_FILES]
    if args.quick:
        cmd += ["-k", QUICK_TESTS]
    log("tests: " + " ".join(cmd[1:]))
    t0 = time.time()
    timeout = max(30, deadline - time.time() - args.reserve_s)
    try:
        with open(os.path.join(args.out, "pytest.log"), "w") as f:
            p = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    summary = junit_summary(os.path.join(args.out, "junit.xml"))
    summary.update(rc=rc, wall_s=round(time.time() - t0, 1))
    log(f"tests: exit {rc}, {summary.get('passed', 0)} passed, {summary.get('failures', 0)} failed, "
        f"{summary.get('errors', 0)} errors, {summary.get('skipped', 0)} skipped "
        f"in {summary['wall_s']} s")
    return summary


def benchmark_plan(args):
    """[(Bench, config file, vit path, strategies, paths)] for this mode; configs not present
    (iTPN before it lands) are listed as absent."""
    plan, absent = [], []
    for b in BENCHMARKS:
        cfg = b.tiny if args.tiny else b.config
        if not os.path.isfile(os.path.join(ROOT, cfg)):
            absent.append(dict(name=b.name, config=cfg))
            continue
        vit_path = (b.tiny_vit_path or b.vit_path) if args.tiny else b.vit_path
        strategies = [s for s in (args.strategies or b.strategies) if s in b.strategies] \
            or [b.strategies[0]]
        paths = list(PATHS)
        if args.quick:
            strategies, paths = [strategies[0] if "window_global" not in strategies
                                 else "window_global"], ["sdpa"]
        plan.append((b, cfg, vit_path, strategies, paths))
        if args.quick:
            break
    return plan, absent


def run_benchmarks(args, log, deadline, work):
    size = args.size or (128 if args.tiny else 1024)
    steps = args.steps if args.steps is not None else (1 if args.tiny else 3)
    warmup = args.warmup if args.warmup is not None else (0 if args.tiny else 1)
    plan, absent = benchmark_plan(args)
    groups = []
    for b, cfg, vit_path, strategies, paths in plan:
        left = deadline - time.time()
        group = dict(name=b.name + (", tiny stand-in" if args.tiny else ""), config=cfg, vit_path=vit_path, size=size, strategies=strategies,
                     paths=paths)
        need = len(strategies) * len(paths) * args.cell_estimate_s
        if left < need:
            group.update(status=f"not run: the suite's time budget was spent ({left:.0f} s left, "
                                f"{need:.0f} s needed)")
            log(f"bench {b.name}: not run ({left:.0f} s left)")
            groups.append(group)
            continue
        outdir = os.path.join(work, f"bench{len(groups)}")
        cmd = [sys.executable, os.path.join(ROOT, "tools", "benchmark.py"), "--config-file", cfg,
               "--vit-path", vit_path, "--target", "model", "--device", args.device,
               "--amp", args.amp or ("none" if args.device == "cpu" else "bf16"),
               "--batch-size", str(args.batch_size), "--sizes", str(size),
               "--strategies", *strategies, "--paths", *paths, "--steps", str(steps),
               "--warmup", str(warmup), "--no-flops", "--output-dir", outdir,
               "--timeout", str(int(min(args.cell_timeout_s, max(30, left))))]
        log(f"bench {b.name}: " + " ".join(cmd[1:]))
        t0 = time.time()
        try:
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                               timeout=max(60, left + 30))
            rc = p.returncode
            tail = (p.stdout[-3000:] + p.stderr[-2000:])
        except subprocess.TimeoutExpired as e:
            rc, tail = "timeout", str(e)[-2000:]
        group["wall_s"] = round(time.time() - t0, 1)
        res_file = os.path.join(outdir, "benchmark.json")
        if os.path.isfile(res_file):  # the tool may exit non-zero for a bad cell: keep the rows
            with open(res_file) as f:
                data = json.load(f)
            group.update(status="ok" if rc == 0 else f"tool exit {rc}", meta=data["meta"],
                         rows=data["rows"])
            bad = [r for r in data["rows"] if r.get("status") != "ok"]
            log(f"bench {b.name}: {len(data['rows']) - len(bad)}/{len(data['rows'])} cells ok "
                f"in {group['wall_s']} s" + (f"; {[(r['strategy'], r['path'], r['status']) for r in bad]}"
                                             if bad else ""))
        else:
            group.update(status=f"failed (exit {rc})", output_tail=tail)
            log(f"bench {b.name}: failed (exit {rc}):\n{tail}")
        groups.append(group)
    return groups, absent, dict(size=size, steps=steps, warmup=warmup, batch_size=args.batch_size)


# ----------------------------------------------------------------------- report
def _f(v, fmt="{:.3f}"):
    return "-" if v is None else (v if isinstance(v, str) else fmt.format(v))


def benchmark_markdown(groups, absent, settings, env):
    where = env.get("gpu") or f"CPU ({env['cpu_count']} cores)"
    lines = [f"Measured on {where}, torch {env['torch']}, Python {env['python']}; "
             f"`tools/benchmark.py --target model`, batch {settings['batch_size']} at "
             f"{settings['size']}x{settings['size']}, median of {settings['steps']} step(s) after "
             f"{settings['warmup']} warm-up; memory is torch.cuda.max_memory_allocated per phase "
             "(peak RSS on the CPU). \"fwd+bwd\" excludes the optimizer step.", ""]
    for g in groups:
        lines.append(f"### {g['name']} (`{g['config']}`)")
        lines.append("")
        if g.get("status") != "ok":
            lines += [f"{g.get('status')}", ""]
        if not g.get("rows"):
            continue
        lines += ["| strategy | path | train step (s) | fwd+bwd (s) | train peak (GiB) | "
                  "infer (s/img) | infer peak (GiB) |", "|---|---|---|---|---|---|---|"]
        rows = {(r["strategy"], r["path"]): r for r in g["rows"]}
        for r in g["rows"]:
            bad = None if r.get("status") == "ok" else r.get("status")
            lines.append("| " + " | ".join([r["strategy"], r["path"]] + [
                bad or _f(r.get(k), "{:.2f}" if "GB" in k else "{:.3f}")
                for k in ("train_step_s", "train_fwd_bwd_s", "train_peak_GB", "infer_s_per_image",
                          "infer_peak_GB")]) + " |")
        ratios = []
        for s in g["strategies"]:
            a, b = rows.get((s, "sdpa")), rows.get((s, "plain"))
            if a and b and a.get("status") == b.get("status") == "ok":
                speed = b["train_step_s"] / a["train_step_s"]
                lean = 100 * (1 - a["train_peak_GB"] / b["train_peak_GB"])
                ratios.append(f"| {s} | {speed:.2f}x | {lean:.0f}% |")
        if ratios:
            lines += ["", "SDPA against the plain path (training step; goal on H100-class GPUs: "
                      ">= 1.3x faster and >= 30% less memory):", "",
                      "| strategy | speed-up | memory saved |", "|---|---|---|"] + ratios
        lines.append("")
    for a in absent:
        lines.append(f"- {a['name']}: `{a['config']}` does not exist yet: not in the table.")
    return "\n".join(lines) + "\n"


def write_text(path, text):
    atomic_write_text(path, text)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="runs/gpu_suite", help="output folder")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--tiny", action="store_true",
                   help="tiny configs at 128 px, one step (the CPU rehearsal)")
    p.add_argument("--quick", action="store_true",
                   help="equivalence tests only and one benchmark cell (flagship, window_global, SDPA)")
    p.add_argument("--budget-s", type=float, default=None,
                   help="wall-clock budget of the whole suite; a benchmark config that no longer "
                        "fits (cells x --cell-estimate-s) is reported as not run (default 360, "
                        "--quick 200; --tiny 1800: the CPU rehearsal is slow)")
    p.add_argument("--reserve-s", type=float, default=None,
                   help="seconds of the budget kept for the benchmarks while the tests run: "
                        "pytest is stopped after budget - reserve (default 200, --quick 60)")
    p.add_argument("--cell-estimate-s", type=float, default=15,
                   help="expected seconds per benchmark cell on the GPU (fresh process, model "
                        "build, 1+3 inference and 1+3 training steps); see docs/performance.md")
    p.add_argument("--cell-timeout-s", type=float, default=120, help="per benchmark cell")
    p.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=None)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], default=None,
                   help="default: bf16 on CUDA, none on the CPU")
    p.add_argument("--skip-tests", action="store_true")
    p.add_argument("--skip-bench", action="store_true")
    args = p.parse_args(argv)
    if args.budget_s is None:
        args.budget_s = 1800.0 if args.tiny else 200.0 if args.quick else 360.0
    if args.reserve_s is None:
        args.reserve_s = 60.0 if args.quick else 200.0
    if args.tiny:
        args.cell_estimate_s = min(args.cell_estimate_s, 1.0)  # CPU rehearsal: never skip
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        return run_suite(args)
    except SuiteError as e:
        print(f"Error (gpu_suite): {e}", file=sys.stderr)
        return 2


def run_suite(args):
    start = time.time()
    deadline = start + args.budget_s
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    log = Log(os.path.join(args.out, "suite.log"))
    env = environment(args.device)
    log("environment: " + json.dumps(env))
    phases = {}
    tests = None
    if not args.skip_tests:
        tests = run_tests(args, log, deadline)
        phases["tests_s"] = tests["wall_s"]
    groups, absent, settings = [], [], {}
    work = tempfile.mkdtemp(prefix="gpu_suite_")
    try:
        if not args.skip_bench:
            t0 = time.time()
            groups, absent, settings = run_benchmarks(args, log, deadline, work)
            phases["benchmarks_s"] = round(time.time() - t0, 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    phases["suite_s"] = round(time.time() - start, 1)

    mode = dict(device=args.device, tiny=args.tiny, quick=args.quick, budget_s=args.budget_s)
    atomic_write_json(os.path.join(args.out, "benchmark.json"),
                      dict(environment=env, mode=mode, settings=settings, phases=phases, tests=tests,
                           benchmarks=groups, absent=absent), indent=1)
    table = benchmark_markdown(groups, absent, settings, env) if groups or absent else ""
    write_text(os.path.join(args.out, "benchmark.md"), table)
    cells = [r for g in groups for r in g.get("rows", [])]
    bad_cells = [r for r in cells if r.get("status") not in ("ok", "OOM")]
    failed_groups = [g for g in groups if g.get("status") not in ("ok",) and
                     not str(g.get("status", "")).startswith("not run")]
    ok = (tests is None or (tests.get("rc") in (0, 5) and not tests.get("missing"))) \
        and not bad_cells and not failed_groups
    summary = [f"# GPU suite ({'quick' if args.quick else 'full'}{', tiny' if args.tiny else ''}, "
               f"{args.device}): {'PASS' if ok else 'FAIL'}", "",
               f"- machine: {env.get('gpu', 'no GPU')}; torch {env['torch']}; Python {env['python']}",
               f"- wall time: " + ", ".join(f"{k} {v} s" for k, v in phases.items())]
    if tests is not None:
        summary.append(f"- tests (`pytest -m cuda`): {tests.get('passed', 0)} passed, "
                       f"{tests.get('failures', 0)} failed, {tests.get('errors', 0)} errors, "
                       f"{tests.get('skipped', 0)} skipped (exit {tests.get('rc')})")
        for name in tests.get("failed", [])[:40]:
            summary.append(f"  - FAILED {name}")
        for reason, n in sorted(tests.get("skip_reasons", {}).items()):
            summary.append(f"  - skipped {n}: {reason}")
    summary.append(f"- benchmark cells: {len(cells) - len(bad_cells)}/{len(cells)} measured "
                   f"({sum(r.get('status') == 'OOM' for r in cells)} OOM)")
    for g in groups:
        if g.get("status") != "ok":
            summary.append(f"  - {g['name']}: {g.get('status')}")
    write_text(os.path.join(args.out, "summary.md"), "\n".join(summary) + "\n\n" + table)
    log("\n".join(summary) + "\n\n" + table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

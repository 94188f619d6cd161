#!/usr/bin/env python
"""The GPU check in one call: install what is missing, ``pytest -m cuda``, then the GPU table.

    bash benchmarks/gpu_suite.sh --out runs/gpu_suite            # on a machine with one GPU
    bash benchmarks/gpu_suite.sh --out runs/gpu_suite --quick    # equivalence tests + 1 cell
    bash benchmarks/gpu_suite.sh --device cpu --tiny --out DIR   # CPU rehearsal (CI)
    bash benchmarks/gpu_suite.sh --prepare-wheels .whl           # here, with PyPI: wheels to carry

Writes under ``--out``: ``junit.xml`` and ``pytest.log`` (the CUDA instances of the
device-parametrized tests), ``benchmark.json`` (every cell of every config, with the
environment and each phase's wall time), ``benchmark.md`` (the table, SDPA against the
plain path per strategy), ``summary.md`` and ``suite.log``: six files, so the folder
comes back whole from a lent machine (at most 8 files there).

The table is ``tools/benchmark.py --target model`` (the whole detector's training step:
forward, backward and AdamW; batch 2 at 1024x1024, bf16 autocast; inference per image),
run once per config of ``BENCHMARKS`` for every attention strategy and both attention
paths. Adding a config is one line in ``BENCHMARKS``.
"""
from __future__ import annotations

import argparse
import importlib.util
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
from typing import List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATEGIES = ("window", "window_global", "global_checkpoint", "global")
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

# What the suite imports, as (module, distribution, version tested here, carried as a wheel).
# A GPU image usually has torch and the scientific stack; the rest travels as wheels
# (--prepare-wheels), because such a machine may reach no package index.
REQUIREMENTS = [
    ("torch", "torch", None, False),
    ("torchvision", "torchvision", None, False),
    ("numpy", "numpy", None, False),
    ("PIL", "pillow", None, False),
    ("matplotlib", "matplotlib", None, False),
    ("cv2", "opencv-python-headless", None, False),
    ("yaml", "PyYAML", None, False),
    ("tqdm", "tqdm", None, False),
    ("psutil", "psutil", None, False),
    ("tensorboard", "tensorboard", None, False),
    ("pytest", "pytest", None, False),
    ("timm", "timm", "1.0.31", True),
    ("detectron2", "pb1-detectron2", "0.6", True),
    ("fvcore", "fvcore", "0.1.5.post20221221", True),
    ("iopath", "iopath", "0.1.9", True),
    ("portalocker", "portalocker", "4.4.2", True),
    ("omegaconf", "omegaconf", "2.3.1", True),
    ("hydra", "hydra-core", "1.3.8", True),
    ("antlr4", "antlr4-python3-runtime", "4.9.3", True),
    ("yacs", "yacs", "0.1.8", True),
    ("termcolor", "termcolor", "3.3.0", True),
    ("tabulate", "tabulate", "0.10.0", True),
    ("cloudpickle", "cloudpickle", "3.1.3", True),
    ("pycocotools", "pycocotools", "2.0.11", True),
    ("shapely", "shapely", "2.2.0", True),
    ("fairscale", "fairscale", "0.4.13", True),
]
# The platform of the lent GPU machines (python3 3.12 there; /work/.library/device/KINDS.md).
WHEEL_PLATFORM = ["--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:"] + [
    a for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                "manylinux2014_x86_64", "manylinux1_x86_64") for a in ("--platform", p)]


class SuiteError(Exception):
    """A problem the user must fix before the suite can run (one paragraph, exit code 2)."""


# --------------------------------------------------------------------- install
def missing_modules(requirements=REQUIREMENTS) -> List[tuple]:
    return [r for r in requirements if importlib.util.find_spec(r[0]) is None]


def install_missing(wheels: str, site: str, requirements=REQUIREMENTS) -> List[str]:
    """Install every missing module's wheel from ``wheels`` into ``site`` (offline, no deps).

    Returns the distributions installed. Raises SuiteError naming what is missing and how to
    bring it when a module is missing and no wheel for it is in ``wheels``.
    """
    missing = missing_modules(requirements)
    if not missing:
        return []
    if any(m[0] == "torch" for m in missing):
        raise SuiteError(
            "torch is not importable by this Python (" + sys.executable + "). On a GPU machine "
            "use the image's Python that has a CUDA torch (PYTHON=/path/to/python3); elsewhere "
            "run `bash tools/install_env.sh` and PYTHON=.venv/bin/python.")
    carried = [m for m in missing if m[3]]
    uncarried = [m for m in missing if not m[3]]
    have = os.listdir(wheels) if os.path.isdir(wheels) else []
    norm = lambda s: s.lower().replace("-", "_")  # noqa: E731
    wheel_dists = {norm(f.split("-")[0]) for f in have if f.endswith(".whl")}
    absent = [m for m in carried if norm(m[1]) not in wheel_dists]
    if uncarried or absent:
        names = ", ".join(f"{m[1]} (module {m[0]})" for m in uncarried + absent)
        raise SuiteError(
            f"Missing for the GPU suite: {names}. Wheel folder {wheels!r} "
            + ("does not exist" if not os.path.isdir(wheels) else "has no wheel for them")
            + ". On a machine with PyPI run `bash benchmarks/gpu_suite.sh --prepare-wheels "
            f"{wheels}` and bring that folder along (the device tool: carry it); packages "
            "marked as not carried (torch, numpy, opencv, ...) must come with the machine's image.")
    os.makedirs(site, exist_ok=True)
    dists = [m[1] for m in carried]
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
           "--disable-pip-version-check", "--find-links", wheels, "--target", site,
           "--upgrade"] + dists
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise SuiteError(f"pip could not install {', '.join(dists)} from {wheels!r} into "
                         f"{site!r} (exit {p.returncode}): {p.stderr.strip()[-1500:]}")
    return dists


def prepare_wheels(folder: str) -> List[str]:
    """Fetch (or build, for sdists) the carried distributions as wheels for the GPU machine."""
    os.makedirs(folder, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    made = []
    for module, dist, version, carried in REQUIREMENTS:
        if not carried:
            continue
        spec = f"{dist}=={version}"
        if dist == "pb1-detectron2":
            made.append(_detectron2_wheel(folder, pip, spec))
            continue
        p = subprocess.run(pip + ["download", "-q", "--no-deps", "-d", folder, spec] + WHEEL_PLATFORM,
                           capture_output=True, text=True)
        if p.returncode:  # published as an sdist only: build the (pure-Python) wheel here
            p = subprocess.run(pip + ["wheel", "-q", "--no-deps", "-w", folder, spec],
                               capture_output=True, text=True)
            if p.returncode:
                raise SuiteError(f"could not fetch or build a wheel of {spec}: {p.stderr[-1500:]}")
        made.append(spec)
    return made


def _detectron2_wheel(folder, pip, spec):
    """pb1-detectron2's sdist, patched as tools/install_env.sh does, built into a wheel."""
    tmp = tempfile.mkdtemp()
    try:
        subprocess.run(pip + ["download", "-q", "--no-deps", "--no-binary", ":all:",
                              "--no-build-isolation", "-d", tmp, spec], check=True)
        tarball = [f for f in os.listdir(tmp) if f.endswith(".tar.gz")][0]
        subprocess.run(["tar", "-xzf", os.path.join(tmp, tarball), "-C", tmp], check=True)
        src = os.path.join(tmp, tarball[: -len(".tar.gz")])
        subprocess.run(["bash", os.path.join(ROOT, "tools", "patch_detectron2_sdist.sh"), src],
                       check=True)
        subprocess.run(pip + ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", folder, src],
                       check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return spec


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
    from vitdet_bench.utils.io import atomic_write_text

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
                        "--quick 200; --tiny 1800: the CPU is slow and holds no lease)")
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
    p.add_argument("--wheels", default=os.path.join(ROOT, ".whl"),
                   help="wheel folder for the install step (see --prepare-wheels)")
    p.add_argument("--site", default=os.path.join(tempfile.gettempdir(), "vitdet_gpu_site"),
                   help="where missing packages are installed (put on PYTHONPATH)")
    p.add_argument("--install-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--prepare-wheels", metavar="DIR", default=None,
                   help="download/build the wheels the GPU machine lacks into DIR and exit")
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
        if args.prepare_wheels:
            made = prepare_wheels(args.prepare_wheels)
            print(f"[gpu_suite] {len(made)} wheels in {args.prepare_wheels}: {', '.join(made)}")
            return 0
        if args.install_only:
            done = install_missing(args.wheels, args.site)
            print(f"[gpu_suite] installed into {args.site}: {', '.join(done)}" if done else
                  "[gpu_suite] nothing to install: every module the suite needs is importable")
            return 0
        return run_suite(args)
    except SuiteError as e:
        print(f"Error (gpu_suite): {e}", file=sys.stderr)
        return 2


def run_suite(args):
    start = time.time()
    deadline = start + args.budget_s
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    sys.path.insert(0, ROOT)
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
    from vitdet_bench.utils.io import atomic_write_json

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

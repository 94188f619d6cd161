"""Run many ``tools/train_net.py`` command lines cheaply from a test (see forked_cli.py)."""
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(ROOT, "tests", "engine_fixtures", "forked_cli.py")


def cli_env(**extra) -> Dict[str, str]:
    """The environment of a tool run by a test: this checkout's package and tests/ first
    on the path; DETECTRON2_DATASETS as the test run has it."""
    path = [ROOT, os.path.join(ROOT, "tests")] + [
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), OMP_NUM_THREADS="2")
    env.update(extra)
    return env


def run_cli_cases(cases: List[dict], work: str, env: Optional[Dict[str, str]] = None,
                  timeout: float = 1500) -> List[dict]:
    """Run each ``{"argv": [...], "env": {...}}`` as ``train_net.py ARGV`` in its own forked
    process; returns ``{"rc", "stdout", "stderr", "argv", "driver_stderr"}`` per case, in
    order (``driver_stderr``: what the parent printed while importing, e.g. warnings)."""
    os.makedirs(work, exist_ok=True)
    full = []
    for i, case in enumerate(cases):
        base = os.path.join(work, f"case{i:02d}")
        full.append(dict(argv=list(case["argv"]), env=case.get("env", {}),
                         stdout=base + ".stdout", stderr=base + ".stderr",
                         timeout=case.get("timeout", 300)))
    cases_file = os.path.join(work, "cases.json")
    with open(cases_file, "w") as f:
        json.dump(full, f)
    p = subprocess.run([sys.executable, DRIVER, cases_file], env=env or cli_env(),
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"forked_cli failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    print(p.stdout)  # per-run exit codes and times (pytest -s)
    with open(cases_file + ".rc.json") as f:
        codes = json.load(f)
    out = []
    for case, code in zip(full, codes):
        with open(case["stdout"]) as so, open(case["stderr"]) as se:
            out.append(dict(rc=code, stdout=so.read(), stderr=se.read(), argv=case["argv"],
                            driver_stderr=p.stderr))
    return out

"""Run tools/train_net.py's command line for many cases, each in a forked child process.

    python tests/engine_fixtures/forked_cli.py CASES.json

CASES.json is a list of ``{"argv": [...], "env": {...}, "stdout": path, "stderr": path,
"timeout": seconds}``. Each case runs tools/train_net.py as ``__main__`` (``runpy``) in a
child forked from this process after torch / detectron2 / vitdet_bench (what the tool
imports) are imported, with
``env`` added to its environment and its stdout / stderr (file descriptors 1 and 2)
going to the given files: to the run it is ``python tools/train_net.py ARGV`` in a
fresh process (own registrations, logging, RNG; exit code as Python would give: 0,
the ``sys.exit`` code, or 1 with a traceback for an uncaught exception), without
paying the ~10 s of imports per case. Exit codes go to ``CASES.json.rc.json``
(-9: killed at its timeout). This process itself runs no torch operation before
forking, so no thread pool is copied into the children.
"""
import json
import os
import runpy
import signal
import sys
import time
import traceback

import vitdet_bench  # noqa: F401  (what tools/train_net.py imports: torch, detectron2, ...)
import vitdet_bench.data  # noqa: F401
import vitdet_bench.engine.launch  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_NET = os.path.join(ROOT, "tools", "train_net.py")


def _child(case) -> int:
    os.environ.update(case.get("env", {}))
    for fd, path in ((1, case["stdout"]), (2, case["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = [TRAIN_NET] + list(case["argv"])
    try:
        runpy.run_path(TRAIN_NET, run_name="__main__")
        code = 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def run_case(case) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _child(case)
        finally:
            os._exit(code)
    deadline = time.time() + float(case.get("timeout", 300))
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -9
        time.sleep(0.05)


def main(path: str) -> None:
    with open(path) as f:
        cases = json.load(f)
    codes = []
    for case in cases:
        start = time.time()
        codes.append(run_case(case))
        print(f"[forked_cli] {case['argv'][-1] if case['argv'] else ''}: rc={codes[-1]} "
              f"in {time.time() - start:.1f} s", flush=True)
    with open(path + ".rc.json", "w") as f:
        json.dump(codes, f)


if __name__ == "__main__":
    main(sys.argv[1])

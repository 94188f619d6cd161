#!/usr/bin/env python
"""The GPU suite's packaging step: wheels of what a CUDA machine's image lacks, and their install.

A GPU machine's image usually brings torch (built for its CUDA) and the scientific stack,
and may reach no package index. This step, run where the project is installed
(``tools/install_env.sh``) and PyPI is reachable, writes into a folder:

* a wheel of every distribution the suite needs beyond the image (:data:`IMAGE`):
  the requirements of ``setup.py`` (the one list of version pins; read from the file)
  and, recursively, their installed dependencies, each at the version installed here,
  i.e. the version the test suite passed with. detectron2's sdist is patched as
  ``tools/install_env.sh`` patches it and built into a wheel;
* ``manifest.json``: those distributions, their versions and the modules they provide.

On the GPU machine the install step puts the wheels of the distributions that are not
importable into a scratch folder (``--site``, put on ``PYTHONPATH``), offline and without
dependencies, leaving the image's CUDA torch alone.

    python benchmarks/gpu_wheels.py prepare .whl                 # with PyPI
    python benchmarks/gpu_wheels.py install --wheels .whl --site /tmp/site   # on the GPU machine
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from typing import List, Optional, Tuple

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP_PY = os.path.join(ROOT, "setup.py")
MANIFEST = "manifest.json"
# What the GPU machine's image must bring, as (module, distribution): never carried, because
# these are built for the machine (CUDA torch) or are its base scientific stack. Not pins.
IMAGE = (
    ("torch", "torch"), ("torchvision", "torchvision"), ("numpy", "numpy"), ("PIL", "pillow"),
    ("matplotlib", "matplotlib"), ("cv2", "opencv-python-headless"), ("yaml", "PyYAML"),
    ("tqdm", "tqdm"), ("psutil", "psutil"), ("tensorboard", "tensorboard"), ("pytest", "pytest"),
)
# Binary wheels for this platform; --python-version says which Python the GPU machine runs.
MANYLINUX = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")

# A requirement: (module, distribution, version or None, carried as a wheel).
Requirement_ = Tuple[Optional[str], str, Optional[str], bool]


class WheelError(Exception):
    """A problem the user must fix before the suite can run (one paragraph, exit code 2)."""


# --------------------------------------------------------------------- setup.py
def setup_requirements(path: str = SETUP_PY) -> List[str]:
    """``install_requires`` of ``setup.py``, as its ``setup()`` call computes it (string
    entries read as written; a helper call, such as the detectron2 distribution that is
    present, evaluated from its definition in the file)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    helpers = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    namespace: dict = {}
    exec(compile(ast.Module(body=helpers, type_ignores=[]), path, "exec"), namespace)  # noqa: S102
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup":
            for kw in node.keywords:
                if kw.arg == "install_requires":
                    return [eval(compile(ast.Expression(e), path, "eval"), namespace)  # noqa: S307
                            for e in kw.value.elts]
    raise WheelError(f"{path}: no setup(install_requires=[...]) found")


def _module_of(dist: metadata.Distribution) -> Optional[str]:
    """The module a distribution provides: the one named like it, else its first public one."""
    top = dist.read_text("top_level.txt")
    if top:
        names = top.split()
    else:
        names = sorted({f.parts[0].split(".")[0] for f in (dist.files or []) if f.parts
                        and not f.parts[0].endswith((".dist-info", ".data")) and f.parts[0] != ".."})
    names = [n for n in names if n.isidentifier() and not n.startswith("_") and "mypyc" not in n]
    own = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    return own if own in names else (names[0] if names else None)


def suite_requirements(setup_py: str = SETUP_PY) -> List[Requirement_]:
    """The image's modules, then every distribution carried as a wheel: setup.py's
    requirements outside the image and their installed dependencies, at the installed
    versions. A setup.py requirement that is not installed here, or whose installed
    version does not satisfy setup.py, is an error."""
    image = {canonicalize_name(d) for _, d in IMAGE}
    out: List[Requirement_] = [(m, d, None, False) for m, d in IMAGE]
    seen = set(image)
    queue = []
    for text in setup_requirements(setup_py):
        req = Requirement(text)
        if canonicalize_name(req.name) in image:
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError as e:
            raise WheelError(f"setup.py requires {text!r}, which is not installed in this Python "
                             f"({sys.executable}): run `bash tools/install_env.sh` first and use "
                             "its .venv/bin/python") from e
        if version not in req.specifier:
            raise WheelError(f"setup.py requires {text!r} but {req.name} {version} is installed: "
                             "reinstall with `bash tools/install_env.sh`")
        queue.append(req.name)
    while queue:
        name = queue.pop(0)
        key = canonicalize_name(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # declared but not installed here: the suite passes without it
        out.append((_module_of(dist), dist.metadata["Name"], dist.version, True))
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # an extra, or another Python's backport
            queue.append(req.name)
    return out


# --------------------------------------------------------------------- install
def _present(req: Requirement_) -> bool:
    """Installed (its distribution's metadata is found), or its module imports (a module
    that ships without metadata, e.g. the standard library's)."""
    module, dist = req[0], req[1]
    try:
        metadata.version(dist)
        return True
    except metadata.PackageNotFoundError:
        return module is not None and importlib.util.find_spec(module) is not None


def missing(requirements: List[Requirement_]) -> List[Requirement_]:
    return [r for r in requirements if not _present(r)]


def read_manifest(wheels: str) -> Optional[List[Requirement_]]:
    path = os.path.join(wheels, MANIFEST)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return [tuple(r) for r in json.load(f)["requirements"]]


def install_missing(wheels: str, site: str, requirements: Optional[List[Requirement_]] = None) -> List[str]:
    """Install every missing distribution's wheel from ``wheels`` into ``site`` (offline, no
    deps). ``requirements``: default the folder's manifest, else :func:`suite_requirements`.

    Returns the distributions installed. Raises WheelError naming what is missing and how to
    bring it when a requirement is missing and no wheel for it is in ``wheels``.
    """
    if requirements is None:
        requirements = read_manifest(wheels) or suite_requirements()
    absent_all = missing(requirements)
    if not absent_all:
        return []
    if any(m[0] == "torch" for m in absent_all):
        raise WheelError(
            "torch is not importable by this Python (" + sys.executable + "). On a GPU machine "
            "use the image's Python that has a CUDA torch (PYTHON=/path/to/python3); elsewhere "
            "run `bash tools/install_env.sh` and PYTHON=.venv/bin/python.")
    carried = [m for m in absent_all if m[3]]
    uncarried = [m for m in absent_all if not m[3]]
    have = os.listdir(wheels) if os.path.isdir(wheels) else []
    wheel_dists = {canonicalize_name(f.split("-")[0]) for f in have if f.endswith(".whl")}
    absent = [m for m in carried if canonicalize_name(m[1]) not in wheel_dists]
    if uncarried or absent:
        names = ", ".join(f"{m[1]} (module {m[0]})" for m in uncarried + absent)
        raise WheelError(
            f"Missing for the GPU suite: {names}. Wheel folder {wheels!r} "
            + ("does not exist" if not os.path.isdir(wheels) else "has no wheel for them")
            + ". On a machine with PyPI run `bash benchmarks/gpu_suite.sh --prepare-wheels "
            f"{wheels}` and bring that folder to the GPU machine; packages marked as not carried "
            "(torch, numpy, opencv, ...) must come with the machine's image.")
    os.makedirs(site, exist_ok=True)
    dists = [m[1] for m in carried]
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
           "--disable-pip-version-check", "--find-links", wheels, "--target", site,
           "--upgrade"] + dists
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise WheelError(f"pip could not install {', '.join(dists)} from {wheels!r} into "
                         f"{site!r} (exit {p.returncode}): {p.stderr.strip()[-1500:]}")
    return dists


# --------------------------------------------------------------------- prepare
def prepare_wheels(folder: str, python_version: str) -> List[str]:
    """Fetch (or build, for sdists) a wheel of every carried distribution for a machine
    running ``python_version`` on x86_64 Linux, and write the manifest."""
    requirements = suite_requirements()
    os.makedirs(folder, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    platform_args = ["--python-version", python_version, "--implementation", "cp",
                     "--only-binary=:all:"] + [a for p in MANYLINUX for a in ("--platform", p)]
    made = []
    for module, dist, version, carried in requirements:
        if not carried:
            continue
        spec = f"{dist}=={version}"
        if canonicalize_name(dist) == "pb1-detectron2":
            made.append(_detectron2_wheel(folder, pip, spec))
            continue
        p = subprocess.run(pip + ["download", "-q", "--no-deps", "-d", folder, spec] + platform_args,
                           capture_output=True, text=True)
        if p.returncode:  # published as an sdist only: build the (pure-Python) wheel here
            p = subprocess.run(pip + ["wheel", "-q", "--no-deps", "-w", folder, spec],
                               capture_output=True, text=True)
            if p.returncode:
                raise WheelError(f"could not fetch or build a wheel of {spec}: {p.stderr[-1500:]}")
        made.append(spec)
    from vitdet_bench.utils.io import atomic_write_json

    atomic_write_json(os.path.join(folder, MANIFEST),
                      {"python_version": python_version, "requirements": [list(r) for r in requirements]},
                      indent=1)
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="download/build the wheels the GPU machine lacks into DIR")
    prep.add_argument("folder", metavar="DIR")
    prep.add_argument("--python-version", default="3.12",
                      help="the Python version of the GPU machine's image")
    inst = sub.add_parser("install", help="install the missing distributions from --wheels into --site")
    inst.add_argument("--wheels", default=os.path.join(ROOT, ".whl"))
    inst.add_argument("--site", required=True)
    args = p.parse_args(argv)
    try:
        if args.command == "prepare":
            made = prepare_wheels(args.folder, args.python_version)
            print(f"[gpu_suite] {len(made)} wheels in {args.folder}: {', '.join(made)}")
        else:
            done = install_missing(args.wheels, args.site)
            print(f"[gpu_suite] installed into {args.site}: {', '.join(done)}" if done else
                  "[gpu_suite] nothing to install: every module the suite needs is importable")
    except WheelError as e:
        print(f"Error (gpu_suite): {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""benchmarks/gpu_suite.sh rehearsed on the CPU (``--device cpu --tiny``), and its pieces.

Everything but the GPU itself is exercised here, so that a run on a CUDA machine finds
no surprise: the packaging step (setup.py's pins, the install of what is missing), the
pytest phase and its JUnit summary, every benchmark cell through tools/benchmark.py, the
merged JSON and the markdown.
"""
import ast
import json
import os
import re
import runpy
import subprocess
import sys
import zipfile
from types import SimpleNamespace

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the two steps, loaded as `python benchmarks/<step>.py` runs them (benchmarks/ is not a package)
gpu_suite = SimpleNamespace(**runpy.run_path(os.path.join(ROOT, "benchmarks", "gpu_suite.py")))
gpu_wheels = SimpleNamespace(**runpy.run_path(os.path.join(ROOT, "benchmarks", "gpu_wheels.py")))

ITPN_PRESENT = os.path.isfile(os.path.join(ROOT, gpu_suite.BENCHMARKS[-1].tiny))
# The rehearsal's cells: the default strategy x both paths x every config (4 cells, each a
# fresh process, as on the GPU); the GPU run takes all four strategies.
REHEARSAL_STRATEGIES = ["window_global"]


@pytest.mark.slow
def test_cpu_rehearsal_end_to_end(tmp_path):
    out = tmp_path / "suite"
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="2",
               VITDET_GPU_SITE=str(tmp_path / "site"))
    p = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "gpu_suite.sh"), "--device", "cpu",
                        "--tiny", "--out", str(out), "--strategies", *REHEARSAL_STRATEGIES],
                       capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-3000:]
    assert "nothing to install" in p.stdout
    # six plain files with plain names: easy to copy back from a remote machine
    files = sorted(os.listdir(out))
    assert files == ["benchmark.json", "benchmark.md", "junit.xml", "pytest.log", "suite.log",
                     "summary.md"]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", f) for f in files)

    data = json.loads((out / "benchmark.json").read_text())
    assert data["mode"] == dict(device="cpu", tiny=True, quick=False, budget_s=1800.0)
    assert data["settings"] == dict(size=128, steps=1, warmup=0, batch_size=2)
    tests = data["tests"]
    assert tests["rc"] == 0 and tests["failures"] == tests["errors"] == 0
    assert tests["tests"] >= 50  # every CUDA instance was collected (56 today) ...
    if not data["environment"]["cuda_available"]:  # ... and, without a GPU, skipped as such
        assert tests["skipped"] == tests["tests"]
        assert all("no CUDA device here" in r or "CPU-only" in r for r in tests["skip_reasons"])
    names = [g["name"] for g in data["benchmarks"]]
    assert names[:2] == ["ViT-B Mask R-CNN (flagship), tiny stand-in",
                         "ConvMAE-B Mask R-CNN, tiny stand-in"]
    assert ("iTPN-B Mask R-CNN, tiny stand-in" in names) == ITPN_PRESENT
    assert [a["name"] for a in data["absent"]] == ([] if ITPN_PRESENT else ["iTPN-B Mask R-CNN"])
    for g in data["benchmarks"][:2]:
        assert g["status"] == "ok", g
        cells = {(r["strategy"], r["path"]): r for r in g["rows"]}
        assert set(cells) == {(s, pth) for s in REHEARSAL_STRATEGIES for pth in ("sdpa", "plain")}
        for r in cells.values():
            assert r["status"] == "ok", r
            for k in ("train_step_s", "train_fwd_bwd_s", "train_peak_GB", "infer_s_per_image"):
                assert r[k] > 0, (k, r)
        assert g["meta"]["target"] == "model" and g["meta"]["batch_size"] == 2
        # the same detector either way: the path changes how attention is computed
        for s in REHEARSAL_STRATEGIES:
            assert cells[(s, "sdpa")]["params_M"] == cells[(s, "plain")]["params_M"]
    assert set(data["phases"]) == {"tests_s", "benchmarks_s", "suite_s"}

    md = (out / "benchmark.md").read_text()
    assert "### ViT-B Mask R-CNN (flagship), tiny stand-in (`configs/demo/vit_tiny_shapes.py`)" in md
    assert "| window_global | sdpa |" in md and "| window_global | plain |" in md
    assert "SDPA against the plain path" in md
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# GPU suite (full, tiny, cpu): PASS")
    assert "benchmark cells: 4/4 measured" in summary or ITPN_PRESENT


def _takes_device_fixture(path):
    """Whether a test module has a test taking the ``device`` fixture (not a parametrized
    argument of that name) or parametrizes with DEVICES."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "DEVICES":
            return True
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") \
                and "device" in [a.arg for a in node.args.args]:
            names = [d.args[0].value for d in node.decorator_list if isinstance(d, ast.Call)
                     and getattr(d.func, "attr", "") == "parametrize" and d.args
                     and isinstance(d.args[0], ast.Constant)]
            if not any("device" in [n.strip() for n in str(v).split(",")] for v in names):
                return True
    return False


def test_cuda_test_files_cover_every_device_test():
    """The suite collects CUDA_TEST_FILES only: every test module with device-parametrized
    tests must be listed, or its CUDA instances would never run on the GPU."""
    tests = os.path.join(ROOT, "tests")
    uses = {f"tests/{n}" for n in os.listdir(tests) if n.startswith("test_") and n.endswith(".py")
            and _takes_device_fixture(os.path.join(tests, n))}
    assert uses == set(gpu_suite.CUDA_TEST_FILES)


def test_modes_plan_the_right_cells():
    quick = gpu_suite.parse_args(["--quick"])
    plan, _ = gpu_suite.benchmark_plan(quick)
    assert [(b.name, cfg, s, pth) for b, cfg, _, s, pth in plan] == [
        ("ViT-B Mask R-CNN (flagship)", "configs/mae_vitb_mrcnn.py", ["window_global"], ["sdpa"])]
    assert quick.budget_s == 200 and quick.reserve_s == 60 and quick.cell_estimate_s == 15
    full = gpu_suite.parse_args([])
    plan, absent = gpu_suite.benchmark_plan(full)
    assert [p[1] for p in plan][:2] == ["configs/mae_vitb_mrcnn.py",
                                        "projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py"]
    assert all(p[3] == list(p[0].strategies) and p[4] == ["sdpa", "plain"] for p in plan)
    assert list(plan[0][0].strategies) == list(gpu_suite.STRATEGIES)
    itpn = [p for p in plan if p[0].name.startswith("iTPN")]
    assert all(p[3] == ["global"] and p[2] == "model.backbone" for p in itpn)  # no windows
    assert full.device == "cuda" and full.budget_s == 360 and full.reserve_s == 200
    for b in gpu_suite.BENCHMARKS[:2]:  # the configs named in the table exist
        assert os.path.isfile(os.path.join(ROOT, b.config)) and os.path.isfile(os.path.join(ROOT, b.tiny))


def test_no_cuda_is_a_clear_error(tmp_path, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(gpu_suite.SuiteError, match="--device cpu --tiny"):
        gpu_suite.environment("cuda")


def _fake_wheel(folder, dist, module, version="1.0"):
    """A minimal pure-Python wheel (what --prepare-wheels brings for an sdist-only package)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{dist}-{version}-py3-none-any.whl")
    info = f"{dist}-{version}.dist-info"
    files = {f"{module}/__init__.py": "VALUE = 42\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for n, text in files.items():
            z.writestr(n, text)
    return path


def test_install_step_installs_only_what_is_missing(tmp_path):
    wheels, site = str(tmp_path / "whl"), str(tmp_path / "site")
    reqs = [("json", "json-is-stdlib", None, False),
            ("vb_gpu_suite_probe", "vb_gpu_suite_probe", "1.0", True)]
    with pytest.raises(gpu_wheels.WheelError) as e:
        gpu_wheels.install_missing(wheels, site, reqs)
    msg = str(e.value)
    assert "vb_gpu_suite_probe (module vb_gpu_suite_probe)" in msg and "json" not in msg
    assert "does not exist" in msg and "--prepare-wheels" in msg
    _fake_wheel(wheels, "vb_gpu_suite_probe", "vb_gpu_suite_probe")
    assert gpu_wheels.install_missing(wheels, site, reqs) == ["vb_gpu_suite_probe"]
    assert open(os.path.join(site, "vb_gpu_suite_probe", "__init__.py")).read() == "VALUE = 42\n"
    # an uncarried package (one the machine's image must bring) is named, not fetched
    with pytest.raises(gpu_wheels.WheelError, match="no_such_image_pkg"):
        gpu_wheels.install_missing(wheels, site, [("no_such_image_pkg", "no_such_image_pkg", None, False)])


def test_pins_are_setup_pys(tmp_path):
    """The packaging step reads setup.py's install_requires (no second list of pins): every
    carried distribution is a setup.py requirement or an installed dependency of one, at the
    installed version, which satisfies setup.py's specifier."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    reqs = [Requirement(r) for r in gpu_wheels.setup_requirements()]
    names = {canonicalize_name(r.name) for r in reqs}
    assert {"torch", "fvcore", "timm", "pycocotools"} <= names
    assert any(n in names for n in ("detectron2", "pb1-detectron2"))
    carried = {canonicalize_name(d): v for _, d, v, c in gpu_wheels.suite_requirements() if c}
    image = {canonicalize_name(d) for _, d in gpu_wheels.IMAGE}
    assert not set(carried) & image  # torch & co. come with the machine's image
    for r in reqs:
        if canonicalize_name(r.name) not in image:
            assert carried[canonicalize_name(r.name)] in r.specifier, r
            assert carried[canonicalize_name(r.name)] == metadata.version(r.name)
    assert {"omegaconf", "hydra-core", "iopath", "yacs"} <= set(carried)  # detectron2's own needs
    # a setup.py whose pin the installed version does not meet is an error naming both
    bad = tmp_path / "setup.py"
    bad.write_text('from setuptools import setup\nsetup(name="x", install_requires=["fvcore==0.0.1"])\n')
    with pytest.raises(gpu_wheels.WheelError, match="setup.py requires 'fvcore==0.0.1' but fvcore"):
        gpu_wheels.suite_requirements(str(bad))


def test_junit_summary_counts(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest" tests="4" failures="1" errors="0" skipped="2">'
        '<testcase classname="tests.t" name="a"/>'
        '<testcase classname="tests.t" name="b"><failure message="x"/></testcase>'
        '<testcase classname="tests.t" name="c"><skipped message="no CUDA"/></testcase>'
        '<testcase classname="tests.t" name="d"><skipped message="no CUDA"/></testcase>'
        '</testsuite></testsuites>')
    s = gpu_suite.junit_summary(str(xml))
    assert (s["tests"], s["passed"], s["failures"], s["skipped"]) == (4, 1, 1, 2)
    assert s["failed"] == ["tests.t::b"] and s["skip_reasons"] == {"no CUDA": 2}
    assert gpu_suite.junit_summary(str(tmp_path / "none.xml")) == {"missing": True}

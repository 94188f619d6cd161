"""End-to-end: train a tiny ResNet-18 Mask R-CNN via tools/train_net.py on CPU.

One uninterrupted run (4 iterations, checkpoint every 2, final evaluation) is shared;
a second run is SIGKILLed after its first checkpoint and resumed; a third hits a
non-finite loss.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(ROOT, "tests", "engine_fixtures", "tiny_rcnn.py")
TRAIN_NET = os.path.join(ROOT, "tools", "train_net.py")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = os.environ.get("VITDET_BENCH_CACHE") or str(tmp_path_factory.mktemp("cache"))
    # synthetic shapes only: no DETECTRON2_DATASETS needed
    return dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests"), VITDET_BENCH_CACHE=cache,
                OMP_NUM_THREADS="2")


def _cmd(out, *extra):
    return [sys.executable, TRAIN_NET, "--config-file", CFG, f"train.output_dir={out}", *extra]


def _losses(out):
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.json")) if line.strip()]
    return {r["iteration"]: r["total_loss_raw"] for r in rows if "total_loss_raw" in r}


@pytest.fixture(scope="module")
def full_run(env, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("full"))
    p = subprocess.run(_cmd(out), env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return out, p


def test_train_and_evaluate(full_run):
    out, p = full_run
    assert "CUDA is not available" in p.stdout
    report = json.load(open(os.path.join(out, "report.json")))
    text = json.dumps(report)
    assert "bbox" in text and "segm" in text
    assert os.path.isfile(os.path.join(out, "inference", "coco_instances_results.json"))
    assert os.path.isfile(os.path.join(out, "config.yaml"))
    assert open(os.path.join(out, "last_checkpoint")).read().strip() == "model_final.pth"
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(out))
    assert sorted(_losses(out)) == [0, 1, 2, 3]


def test_resume_after_sigkill_matches_uninterrupted(full_run, env, tmp_path):
    ref = _losses(full_run[0])
    out = str(tmp_path / "killed")
    proc = subprocess.Popen(_cmd(out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    last = os.path.join(out, "last_checkpoint")
    deadline = time.time() + 400
    while not os.path.exists(last) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    name = open(last).read().strip()
    assert name.startswith("model_") and os.path.isfile(os.path.join(out, name))
    start = 0 if name == "model_final.pth" else int(name[6:13]) + 1
    # determinism: same seed, same first loss
    assert _losses(out)[0] == ref[0]
    p = subprocess.run([sys.executable, TRAIN_NET, "--resume"] + _cmd(out)[2:], env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert f"at iteration {start}" in p.stdout
    got = _losses(out)
    for it in range(start, 4):
        assert got[it] == pytest.approx(ref[it], rel=1e-5, abs=1e-6), (it, got, ref)


def test_non_finite_loss_stops_with_message(env, tmp_path):
    out = str(tmp_path / "nan")
    p = subprocess.run(_cmd(out, "optimizer.lr=1e30", "optimizer.params.base_lr=1e30",
                            "train.checkpointer.period=100"),
                       env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode != 0
    assert "Non-finite loss at iteration" in p.stderr
    assert "loss_cls=" in p.stderr or "every loss term is non-finite" in p.stderr
    assert not os.path.exists(os.path.join(out, "model_final.pth"))

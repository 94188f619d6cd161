"""SIGKILL while a checkpoint is being written, then --resume.

A real ``tools/train_net.py`` process (tiny Mask R-CNN on the 8-image tiny shapes
split, 4 iterations, a checkpoint every 2) is stopped by the env-gated test hook of
``AtomicCheckpointer.save`` (``VITDET_BENCH_TEST_PAUSE_IN_SAVE=model_0000003``) after
``model_0000003.pth``'s temporary file is fully written and before it is renamed,
and is SIGKILLed there. Then:

* ``last_checkpoint`` still names the previous, complete ``model_0000001.pth`` (which
  loads); no ``model_0000003.pth`` / ``model_final.pth`` exists; the temp file is left;
* ``--resume`` ignores the temp file (and deletes it, with a log line), resumes at
  iteration 2 -- right after the last complete checkpoint -- and finishes: iterations
  2 and 3 are trained, the final checkpoint and the report are written, and iteration
  2's losses are exactly those the killed run had logged for it.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from data_fixtures import tiny_shapes  # noqa: F401
from engine_fixtures.cli_runner import cli_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CFG = os.path.join(ROOT, "tests", "engine_fixtures", "corpus_rcnn.py")
TRAIN_NET = os.path.join(ROOT, "tools", "train_net.py")
HOOK = "VITDET_BENCH_TEST_PAUSE_IN_SAVE"
pytestmark = pytest.mark.slow


def _cmd(out, *flags):
    return [sys.executable, TRAIN_NET, *flags, "--config-file", CFG, "train.max_iter=4",
            "train.checkpointer.period=2", f"train.output_dir={out}"]


def _rows(out):
    rows = []
    for line in open(os.path.join(out, "metrics.json")):
        try:
            rows.append(json.loads(line))
        except ValueError:  # an append cut by the kill: metrics.json is a log
            pass
    return [r for r in rows if "total_loss_raw" in r]


def _losses(row):
    # total_loss_raw is this iteration's loss; the loss_* columns are detectron2's
    # medians over the last 20 iterations, which a resumed run restarts.
    return row["total_loss_raw"]


def test_kill_during_checkpoint_write_then_resume(tiny_shapes, tmp_path):
    out = str(tmp_path / "run")
    env = cli_env(VB_CORPUS_JSON=tiny_shapes.json_file, VB_CORPUS_IMAGES=tiny_shapes.image_root)
    stderr = open(tmp_path / "killed.stderr", "w")
    proc = subprocess.Popen(_cmd(out), env=dict(env, **{HOOK: "model_0000003"}),
                            stdout=subprocess.PIPE, stderr=stderr, text=True)
    temp, seen = None, []
    deadline = time.time() + 600
    try:
        for line in proc.stdout:  # until the hook says the temp file is written
            seen.append(line)
            if f"test hook {HOOK}: model_0000003.pth written to " in line:
                temp = line.split(" written to ")[1].split(", pausing")[0]
                break
            assert time.time() < deadline
        assert temp is not None, "".join(seen[-50:]) + open(tmp_path / "killed.stderr").read()
        # Mid-save: the complete temp file exists, the target does not, nothing names it.
        assert os.path.isfile(temp) and os.path.getsize(temp) > 1_000_000
        assert not os.path.exists(os.path.join(out, "model_0000003.pth"))
        assert open(os.path.join(out, "last_checkpoint")).read().strip() == "model_0000001.pth"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stderr.close()
    assert proc.returncode == -signal.SIGKILL

    # After the kill: the previous complete checkpoint is the one named, and it loads.
    files = set(os.listdir(out))
    assert open(os.path.join(out, "last_checkpoint")).read().strip() == "model_0000001.pth"
    assert "model_0000003.pth" not in files and "model_final.pth" not in files
    assert os.path.basename(temp) in files  # the leftover, never referenced
    ckpt = torch.load(os.path.join(out, "model_0000001.pth"), map_location="cpu",
                      weights_only=False)
    assert ckpt["iteration"] == 1 and "model" in ckpt and "optimizer" in ckpt["trainer"]
    killed = {r["iteration"]: _losses(r) for r in _rows(out)}
    assert sorted(killed) == [0, 1, 2]  # iteration 3 was being checkpointed, not yet logged

    p = subprocess.run(_cmd(out, "--resume"), env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert f"Resuming from {os.path.join(out, 'model_0000001.pth')} at iteration 2" in p.stdout
    assert "Starting training from iteration 2" in p.stdout
    assert (f"Removed 1 incomplete checkpoint file(s) left by an interrupted save"
            in p.stdout) and os.path.basename(temp) in p.stdout
    assert not os.path.exists(temp)
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]
    assert open(os.path.join(out, "last_checkpoint")).read().strip() == "model_final.pth"
    assert {"model_0000003.pth", "model_final.pth", "report.json"} <= set(os.listdir(out))
    final = torch.load(os.path.join(out, "model_final.pth"), map_location="cpu",
                       weights_only=False)
    assert final["iteration"] == 3
    rows = _rows(out)
    resumed = {r["iteration"]: _losses(r) for r in rows[len(killed):]}
    assert sorted(resumed) == [2, 3]  # the same iteration count: 0..3 in all
    assert resumed[2] == pytest.approx(killed[2], rel=1e-6, abs=1e-7)  # exact resume: same
    # batch, weights, optimizer and RNG state as when the killed run trained iteration 2

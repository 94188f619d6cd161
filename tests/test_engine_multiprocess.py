"""Multi-process training (gloo, CPU), BatchNorm per world size, and determinism.

* ``tools/train_net.py --num-gpus 2`` on a machine without CUDA runs 2 CPU processes
  with the gloo backend: they train 3 iterations of the tiny Mask R-CNN
  (tests/engine_fixtures/corpus_rcnn.py on the 8-image tiny shapes split), evaluate
  (inference sharded over both processes) and write metrics, checkpoints and the
  report; every BatchNorm became NaiveSyncBatchNorm, in both processes.
* A data error in one of the 2 processes: one paragraph (with its rank), the other
  process is stopped, exit code 1.
* The same config in one process keeps plain BatchNorm2d, and two runs in fresh
  interpreters (different hash seeds) log identical losses.
"""
import json
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

import vitdet_bench  # noqa: F401
from data_fixtures import make_broken_dataset, tiny_shapes  # noqa: F401
from detectron2.layers import NaiveSyncBatchNorm
from engine_fixtures.cli_runner import cli_env
from vitdet_bench.layers.norm import convert_batchnorm_for_world

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CFG = os.path.join(ROOT, "tests", "engine_fixtures", "corpus_rcnn.py")
TRAIN_NET = os.path.join(ROOT, "tools", "train_net.py")
NUM_BN = 20  # BatchNorm layers of tiny_rcnn (ResNet-18 backbone, BN everywhere)


def test_convert_batchnorm_for_world():
    def net():
        torch.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm2d(4)))
        m[1].running_mean.fill_(0.5)
        return m

    one = convert_batchnorm_for_world(net(), 1, "cpu")
    assert [type(m) for m in one.modules()].count(nn.BatchNorm2d) == 2
    assert not any(isinstance(m, NaiveSyncBatchNorm) for m in one.modules())
    two = convert_batchnorm_for_world(net(), 2, "cpu")
    synced = [m for m in two.modules() if isinstance(m, NaiveSyncBatchNorm)]
    assert len(synced) == 2
    assert not any(type(m) is nn.BatchNorm2d for m in two.modules())
    assert torch.equal(synced[0].running_mean, torch.full((4,), 0.5))  # state carried over
    gpu = convert_batchnorm_for_world(net(), 2, "cuda")
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in gpu.modules()) == 2


def _env(tiny_shapes, **extra):
    return cli_env(VB_CORPUS_JSON=tiny_shapes.json_file, VB_CORPUS_IMAGES=tiny_shapes.image_root,
                   **extra)


def _train(out, env, *flags, opts=()):
    cmd = [sys.executable, TRAIN_NET, *flags, "--config-file", CFG, "train.max_iter=2",
           "train.checkpointer.period=100", f"train.output_dir={out}", *opts]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def _rows(out):
    return [json.loads(line) for line in open(os.path.join(out, "metrics.json")) if line.strip()]


def _losses(out):
    # total_loss_raw: this iteration's loss; loss_*: detectron2's medians over 20 iterations
    return {r["iteration"]: {k: v for k, v in r.items() if k.startswith("loss") or k.endswith(
        "total_loss_raw")} for r in _rows(out) if "total_loss_raw" in r}


@pytest.mark.slow
def test_two_cpu_processes_train_evaluate_with_synced_batchnorm(tiny_shapes, tmp_path):
    out = str(tmp_path / "two")
    p = _train(out, _env(tiny_shapes, OMP_NUM_THREADS="1"), "--num-gpus", "2",
               "--dist-url", "auto")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "--num-gpus 2 without CUDA: 2 CPU processes (gloo)" in p.stdout
    for log in ("log.txt", "log.txt.rank1"):  # rank 0 and rank 1
        text = open(os.path.join(out, log)).read()
        assert (f"BatchNorm: world size 2 on cpu: {NUM_BN} NaiveSyncBatchNorm "
                "(synchronized across processes)") in text, log
        assert "BatchNorm2d(" not in text  # the printed model has no plain BN left
    assert sorted(_losses(out)) == [0, 1]
    assert open(os.path.join(out, "last_checkpoint")).read().strip() == "model_final.pth"
    report = json.load(open(os.path.join(out, "report.json")))
    assert "bbox" in json.dumps(report) and "segm" in json.dumps(report)
    # both processes' detections were gathered: one result per evaluated image at least
    dets = json.load(open(os.path.join(out, "inference", "coco_instances_results.json")))
    assert {d["image_id"] for d in dets} == {1, 2, 3, 4}
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_one_process_plain_batchnorm_and_deterministic(tiny_shapes, tmp_path):
    runs = []
    for i, hash_seed in enumerate(("1", "2")):
        out = str(tmp_path / f"one{i}")
        p = _train(out, _env(tiny_shapes, PYTHONHASHSEED=hash_seed))
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        runs.append(out)
    text = open(os.path.join(runs[0], "log.txt")).read()
    assert (f"BatchNorm: world size 1 on cpu: {NUM_BN} BatchNorm2d (one process: plain "
            "BatchNorm, no synchronization)") in text
    assert "NaiveSyncBatchNorm" not in text
    a, b = _losses(runs[0]), _losses(runs[1])
    assert sorted(a) == [0, 1] and len(a[0]) >= 6
    assert a == b  # exactly equal, every loss term, every iteration
    # ... and the same detections and metrics
    da, db = (json.load(open(os.path.join(r, "inference", "coco_instances_results.json")))
              for r in runs)
    assert da == db and len(da) > 0
    ra, rb = (json.load(open(os.path.join(r, "report.json"))) for r in runs)
    assert (ra["bbox"], ra["segm"]) == (rb["bbox"], rb["segm"])


@pytest.mark.slow
def test_two_cpu_processes_user_error_is_one_paragraph_and_stops_all(tiny_shapes, tmp_path):
    """A data error in one process: its paragraph (with its rank), the others stopped, exit 1."""
    json_file, root, broken = make_broken_dataset(tiny_shapes.json_file, tiny_shapes.image_root,
                                                  str(tmp_path / "broken"), "missing_image")
    env = cli_env(VB_CORPUS_JSON=json_file, VB_CORPUS_IMAGES=root, OMP_NUM_THREADS="1")
    # batch 4 over 2 processes: each maps 2 of the 4 images in iteration 0
    p = _train(str(tmp_path / "run"), env, "--num-gpus", "2", "--dist-url", "auto",
               opts=["dataloader.train.total_batch_size=4"])
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert "Traceback" not in p.stdout + p.stderr
    (line,) = [ln for ln in p.stderr.splitlines() if "Error (ImageFileError)" in ln]
    assert line.startswith("[rank ") and "] Error (ImageFileError): Image file missing: " in line
    assert broken["file_name"] in line and f"(image id {broken['image_id']})" in line
    assert "exited with code 1; the other processes were stopped." in p.stderr
    assert not os.path.exists(str(tmp_path / "run" / "last_checkpoint"))

"""A scheduler signal during the final evaluation: checkpointed, requeued, evaluated again.

The final evaluation starts after the last iteration's checkpoint (``model_final``) is
saved, so a deferred signal is handed over at once there (a marker file tells the
requeued job that the evaluation is left); a signal during the last iteration is left
to it. Tested three ways:

* the trainer's loop and hooks on a tiny model, with a real SIGUSR2 sent to this
  process and the job's DeferredSignal handler (its original handler stands in for
  submitit's, which requeues and exits);
* ``engine.run`` on the tiny ViT study config, the signal sent from the test set's
  mapper mid-evaluation, then ``run(resume=True)`` as the requeued job does;
* on a single-node SLURM (``tests/slurm_cluster.py``): the scheduler's USR2 (``scancel
  --signal=USR2``) while the run's final evaluation is going on; submitit requeues the
  job and the requeued job evaluates and finishes.
"""
import json
import logging
import os
import re
import signal

import pytest
import torch
from torch import nn

import vitdet_bench  # noqa: F401
from vitdet_bench.engine.checkpoint import AtomicCheckpointer
from vitdet_bench.engine.hooks import MetricsWriter, VitdetEvalHook
from vitdet_bench.engine.preemption import (FINAL_EVALUATION_PENDING, CheckpointOnSignalHook,
                                            final_evaluation_pending, requeue_at_once)
from vitdet_bench.engine.trainer import VitdetSimpleTrainer
from vitdet_bench.study.job import DeferredSignal

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CONFIG = os.path.join(REPO, "configs", "demo", "vit_tiny_study.py")
SLOW_EVAL_CONFIG = os.path.join(REPO, "tests", "engine_fixtures", "slow_eval_study.py")


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, batch):
        x = torch.stack([d["x"] for d in batch])
        return {"loss": (self.fc(x) ** 2).mean()}


class _Requeued(BaseException):
    """What submitit's handler does on rank 0: requeue, then leave (sys.exit)."""


@pytest.fixture
def deferred_usr2():
    seen = []

    def submitit_like(signum, frame):
        seen.append(signum)
        raise _Requeued()

    handler = DeferredSignal(submitit_like)
    previous = signal.signal(signal.SIGUSR2, handler)
    yield seen, handler
    signal.signal(signal.SIGUSR2, previous)


def _loader(signal_at_call=None):
    calls = 0
    while True:
        calls += 1
        if calls == signal_at_call:  # the signal lands inside an iteration
            os.kill(os.getpid(), signal.SIGUSR2)
        yield [{"x": torch.ones(4) * calls}]


def _trainer(out, evaluated, signal_at_call=None, signal_at_image=None):
    """The engine's hook order; the final evaluation maps 5 "images" under
    requeue_at_once, as the engine's does, recording each one it reaches."""
    from detectron2.engine import default_writers, hooks

    def evaluate(kind, iterations):
        with requeue_at_once(str(out), iterations):
            for image in range(5):
                if image == signal_at_image:
                    os.kill(os.getpid(), signal.SIGUSR2)
                evaluated.append(image)
        return {"bbox": {"AP": 12.5}}

    model = _Model()
    trainer = VitdetSimpleTrainer(model, _loader(signal_at_call),
                                  torch.optim.SGD(model.parameters(), lr=0.1))
    ckpt = AtomicCheckpointer(model, str(out), trainer=trainer)
    trainer.register_hooks([
        hooks.IterationTimer(),
        VitdetEvalHook(0, evaluate),
        hooks.PeriodicCheckpointer(ckpt, period=100),
        MetricsWriter(default_writers(str(out), 6), period=1),
        CheckpointOnSignalHook(ckpt),
    ])
    return trainer


def _final_checkpoint_only(out):
    assert open(out / "last_checkpoint").read().strip() == "model_final.pth"
    assert torch.load(out / "model_final.pth", weights_only=False)["iteration"] == 5
    assert not [f for f in os.listdir(out) if f.startswith("model_000")]


def test_signal_during_final_evaluation_requeues_at_once(tmp_path, deferred_usr2):
    seen, handler = deferred_usr2
    evaluated = []
    trainer = _trainer(tmp_path, evaluated, signal_at_image=2)
    with pytest.raises(_Requeued):
        trainer.train(0, 6)
    assert seen == [signal.SIGUSR2] and not handler.pending
    assert evaluated == [0, 1]  # handed over at once, not after the evaluation
    _final_checkpoint_only(tmp_path)
    marker = json.load(open(tmp_path / FINAL_EVALUATION_PENDING))
    assert marker == {"iterations": 6, "signals": "SIGUSR2"}
    assert final_evaluation_pending(str(tmp_path))
    assert signal.getsignal(signal.SIGUSR2) is handler  # the deferring handler is back


def test_signal_during_last_iteration_is_left_to_the_final_evaluation(tmp_path, deferred_usr2):
    seen, _ = deferred_usr2
    evaluated = []
    trainer = _trainer(tmp_path, evaluated, signal_at_call=6)  # during iteration 5 of 0..5
    with pytest.raises(_Requeued):
        trainer.train(0, 6)
    assert seen == [signal.SIGUSR2] and evaluated == []
    _final_checkpoint_only(tmp_path)  # no second checkpoint of iteration 5
    assert final_evaluation_pending(str(tmp_path))
    rows = [json.loads(line) for line in open(tmp_path / "metrics.json")]
    assert max(r["iteration"] for r in rows) == 5  # every iteration's metrics on file


def test_final_evaluation_without_signal_clears_the_marker(tmp_path, deferred_usr2):
    seen, _ = deferred_usr2
    (tmp_path / FINAL_EVALUATION_PENDING).write_text('{"iterations": 6}')  # a requeued job
    evaluated = []
    _trainer(tmp_path, evaluated).train(0, 6)
    assert seen == [] and evaluated == [0, 1, 2, 3, 4]
    assert not final_evaluation_pending(str(tmp_path))
    rows = [json.loads(line) for line in open(tmp_path / "metrics.json")]
    assert rows[-1]["iteration"] == 6 and rows[-1]["bbox/AP"] == 12.5


# ------------------------------------------------------------------ engine.run, in process
def _tiny_cfg(out, **mapper_kwargs):
    from detectron2.config import LazyCall as L
    from detectron2.config import LazyConfig
    from engine_fixtures.eval_signals import SignalDuringEvaluation

    cfg = LazyConfig.load(TINY_CONFIG)
    cfg = LazyConfig.apply_overrides(cfg, [f"train.output_dir={out}", "train.max_iter=2",
                                           "train.warmup_iters=0", "train.device=cpu"])
    if mapper_kwargs:
        cfg.dataloader.test.mapper = L(SignalDuringEvaluation)(
            mapper=cfg.dataloader.test.mapper, **mapper_kwargs)
    return cfg


def _rows(out):
    return [json.loads(line) for line in open(os.path.join(out, "metrics.json")) if line.strip()]


@pytest.mark.slow
def test_run_requeued_in_final_evaluation_evaluates_on_resume(tmp_path, deferred_usr2):
    from vitdet_bench.engine import run

    seen, _ = deferred_usr2
    out = str(tmp_path / "run")
    with pytest.raises(_Requeued):
        run(_tiny_cfg(out, at=3))
    assert seen == [signal.SIGUSR2]
    assert final_evaluation_pending(out) and not os.path.exists(os.path.join(out, "report.json"))
    assert open(os.path.join(out, "last_checkpoint")).read().strip() == "model_final.pth"
    assert [r["iteration"] for r in _rows(out)] == [0, 1]

    # the requeued job: tools/train_net.py --resume
    results = run(_tiny_cfg(out), resume=True)
    assert results == {"report_json": os.path.join(out, "report.json")}
    assert not final_evaluation_pending(out)
    assert "bbox" in json.load(open(os.path.join(out, "report.json")))
    rows = _rows(out)
    assert [r["iteration"] for r in rows] == [0, 1, 2] and "bbox/AP" in rows[-1]
    for handler in logging.getLogger("vitdet_bench").handlers:
        handler.flush()  # log.txt is block-buffered
    log = open(os.path.join(out, "log.txt")).read()
    assert "its final evaluation was interrupted: evaluating" in log
    assert "Training done (2 iterations)" in log

    # resumed once more: finished, nothing touched
    assert run(_tiny_cfg(out), resume=True)["finished"] is True
    assert len(_rows(out)) == 3


# ------------------------------------------------------------------ SLURM
@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    from slurm_cluster import SlurmUnavailable, start_cluster

    try:
        cluster = start_cluster(str(tmp_path_factory.mktemp("slurm")))
    except SlurmUnavailable as e:
        pytest.skip(f"a single-node SLURM cannot start on this machine: {e}")
    yield cluster
    cluster.stop()


def _launch_one_run(slurm, tmp_path, name, config, iterations):
    """A one-run study of ``config`` on SLURM (1 task, 15 minutes): (study file, root,
    job id, the run's folder)."""
    from test_study_slurm import job_ids, study_cli

    from vitdet_bench.study import expand, load_study

    path = tmp_path / f"{name}.py"
    path.write_text(f"""
from vitdet_bench.study import Resources, Study, Run
study = Study(name={name!r}, runs=[Run({config!r}, {{"train.max_iter": {iterations}}},
                                       name={name!r})],
              resources=Resources(nodes=1, gpus_per_node=1, cpus_per_task=1, mem="3G",
                                  time="15:00", request_gpus=False))
""")
    root = str(tmp_path / "root")
    ids = job_ids(study_cli(slurm, "launch", str(path), "--executor", "slurm", "--root",
                            root).stdout)
    assert len(ids) == 1
    return str(path), root, ids[0], expand(load_study(str(path)), root)[0].folder


@pytest.mark.slow
def test_slurm_signal_during_final_evaluation_requeues_and_finishes(slurm, tmp_path):
    from test_study_slurm import final_iteration, study_cli, wait_for

    # the job imports the config's test mapper from tests/
    slurm.env["PYTHONPATH"] = os.pathsep.join([REPO, os.path.join(REPO, "tests")])
    study, root, jid, folder = _launch_one_run(slurm, tmp_path, "signal_in_eval",
                                               SLOW_EVAL_CONFIG, 4)
    logs = os.path.join(root, "submitit", jid)
    out_log, err_log = (os.path.join(logs, f"{jid}_0_log.{ext}") for ext in ("out", "err"))
    wait_for(lambda: os.path.isfile(out_log) and "Final evaluation" in open(out_log).read(),
             300, "the final evaluation to start", every=0.2)
    slurm.run("scancel", "--signal=USR2", jid)  # what SLURM sends before a time limit
    wait_for(lambda: "  done  " in study_cli(slurm, "status", study, "--root", root).stdout,
             420, "the requeued run done", slurm=slurm, job_id=jid)
    text = open(out_log).read() + open(err_log).read()
    assert "SIGUSR2 during the final evaluation: the weights of all 4 iterations are saved; " \
        "handing over now" in text, text[-3000:]
    assert "Requeued job" in text, text[-3000:]
    assert "its final evaluation was interrupted: evaluating" in text, text[-3000:]
    assert final_iteration(folder) == 3
    assert os.path.isfile(os.path.join(folder, "report.json"))
    assert not final_evaluation_pending(folder)
    restarts = slurm.run("scontrol", "show", "job", "-o", jid)
    assert int(re.search(r"Restarts=(\d+)", restarts).group(1)) >= 1

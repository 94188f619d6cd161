"""A scheduler signal, deferred to the iteration boundary: checkpoint, then hand over.

The trainer's own loop and hooks (its MetricsWriter with detectron2's default writers,
AtomicCheckpointer) on a tiny model; the "scheduler" is a real SIGUSR2 sent
to this process mid-iteration, recorded by the job's DeferredSignal handler, whose
original handler stands in for submitit's (which requeues and exits).
"""
import json
import os
import signal

import pytest
import torch
from torch import nn

import vitdet_bench  # noqa: F401
from vitdet_bench.engine.checkpoint import AtomicCheckpointer
from vitdet_bench.engine.hooks import MetricsWriter
from vitdet_bench.engine.preemption import CheckpointOnSignalHook, pending_deferred_signals
from vitdet_bench.engine.trainer import VitdetSimpleTrainer
from vitdet_bench.study.job import DeferredSignal


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, batch):
        x = torch.stack([d["x"] for d in batch])
        return {"loss": (self.fc(x) ** 2).mean()}


class _Requeued(BaseException):
    """What submitit's handler does on rank 0: requeue, then leave (sys.exit)."""


def _loader(signal_at_call):
    calls = 0
    while True:
        calls += 1
        if calls == signal_at_call:  # the signal lands inside an iteration
            os.kill(os.getpid(), signal.SIGUSR2)
        yield [{"x": torch.ones(4) * calls}]


@pytest.fixture
def deferred_usr2():
    seen = []

    def submitit_like(signum, frame):
        seen.append(signum)
        raise _Requeued()

    previous = signal.signal(signal.SIGUSR2, DeferredSignal(submitit_like))
    yield seen
    signal.signal(signal.SIGUSR2, previous)


def _trainer(tmp_path, signal_at_call, log_period):
    from detectron2.engine import default_writers, hooks

    model = _Model()
    trainer = VitdetSimpleTrainer(model, _loader(signal_at_call),
                                  torch.optim.SGD(model.parameters(), lr=0.1))
    ckpt = AtomicCheckpointer(model, str(tmp_path), trainer=trainer)
    trainer.register_hooks([
        hooks.IterationTimer(),
        hooks.PeriodicCheckpointer(ckpt, period=100),
        MetricsWriter(default_writers(str(tmp_path), 20), period=log_period),
        CheckpointOnSignalHook(ckpt),
    ])
    return trainer


@pytest.mark.parametrize("log_period", [1, 4])
def test_signal_mid_iteration_checkpoints_that_iteration_then_hands_over(
        tmp_path, deferred_usr2, log_period):
    trainer = _trainer(tmp_path, signal_at_call=6, log_period=log_period)  # during iteration 5
    with pytest.raises(_Requeued):
        trainer.train(0, 20)
    assert deferred_usr2 == [signal.SIGUSR2]
    assert not pending_deferred_signals()
    assert open(tmp_path / "last_checkpoint").read().strip() == "model_0000005.pth"
    data = torch.load(tmp_path / "model_0000005.pth", weights_only=False)
    assert data["trainer"]["iteration"] == 5 and data["iteration"] == 5
    assert not (tmp_path / "model_final.pth").exists()
    # the metrics of every finished iteration are on file (resume appends from 6)
    rows = [json.loads(line) for line in open(tmp_path / "metrics.json")]
    assert max(r["iteration"] for r in rows) == 5


def test_no_deferring_handler_no_checkpoint(tmp_path):
    previous = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        trainer = _trainer(tmp_path, signal_at_call=3, log_period=1)
        trainer.train(0, 6)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert open(tmp_path / "last_checkpoint").read().strip() == "model_final.pth"
    assert not any(f.startswith("model_000") for f in os.listdir(tmp_path))

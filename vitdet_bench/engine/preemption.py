"""Checkpoint when the scheduler signals a job, at the next iteration boundary.

A cluster job runner (:class:`vitdet_bench.study.job.TrainJob`, under submitit)
replaces the handler of the scheduler's signal (submitit's "checkpoint and requeue",
run when SLURM signals a time limit or a preemption) by a *deferring handler*: an
object that only records the signal (``pending``) and runs the original handler when
asked (``deliver()``). After every iteration :class:`CheckpointOnSignalHook` looks at
the handlers of SIGUSR1/SIGUSR2: if one of them is a deferring handler with a pending
signal, it saves a checkpoint of the iteration that just finished (rank 0) and calls
``deliver()``, which requeues the job and exits. Saving from inside the signal handler
itself would catch the model and optimizer half-way through a step; deferring costs at
most the rest of one iteration. The requeued job resumes from that checkpoint like
``--resume``. (The handler is found through ``signal.getsignal`` rather than a shared
module so that the job can install it before importing anything heavy.)

Without a deferring handler (plain ``tools/train_net.py``) the hook does nothing.
"""
from __future__ import annotations

import logging
import signal

from detectron2.engine.train_loop import HookBase
from detectron2.utils import comm

__all__ = ["pending_deferred_signals", "CheckpointOnSignalHook"]

logger = logging.getLogger(__name__)
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGUSR1", "SIGUSR2") if hasattr(signal, n))


def pending_deferred_signals():
    """``[(signal, deferring handler)]`` for the installed handlers with a pending signal."""
    out = []
    for s in _SIGNALS:
        h = signal.getsignal(s)
        if getattr(h, "pending", None) and callable(getattr(h, "deliver", None)):
            out.append((s, h))
    return out


class CheckpointOnSignalHook(HookBase):
    """After each iteration: if a deferred signal came, save ``model_<iter>`` and hand over."""

    def __init__(self, checkpointer):
        self._checkpointer = checkpointer

    def after_step(self):
        pending = pending_deferred_signals()
        if not pending:
            return
        it = self.trainer.iter
        names = ", ".join(signal.Signals(s).name for s, _ in pending)
        if comm.is_main_process():
            self._checkpointer.save(f"model_{it:07d}", iteration=it)
            logger.warning(f"Checkpoint of iteration {it} saved on {names}")
        # the handler requeues and exits (rank 0) or returns (other ranks: they go on
        # until the requeue stops the job)
        self.trainer._stopping_on_signal = True
        for _, handler in pending:
            handler.deliver()
        self.trainer._stopping_on_signal = False

    def after_train(self):
        pending = pending_deferred_signals()
        if pending:
            # Training (and its final checkpoint / evaluation) is over: requeuing now
            # would only repeat the end. Let the job finish.
            logger.warning("Signal received after the last iteration: not requeuing, the run "
                           "is finishing")
            for _, handler in pending:
                handler.pending.clear()

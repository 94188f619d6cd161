"""Checkpoint when the scheduler signals a job, at the next iteration boundary.

A cluster job runner (:class:`vitdet_bench.study.job.TrainJob`, under submitit) calls
:func:`defer_signal` before training: the handler already installed for that signal
(submitit's "checkpoint and requeue", run when SLURM signals a time limit or a
preemption) is replaced by one that only records the signal. After every iteration
:class:`CheckpointOnSignalHook` looks: if a signal came, it saves a checkpoint of the
iteration that just finished (rank 0) and then runs the original handler, which
requeues the job and exits. Saving from inside the signal handler itself would catch
the model and optimizer half-way through a step; deferring it costs at most the rest
of one iteration. The requeued job resumes from that checkpoint like ``--resume``.

Without :func:`defer_signal` (plain ``tools/train_net.py``) the hook does nothing.
"""
from __future__ import annotations

import logging
import signal
from typing import Callable, Dict, List

from detectron2.engine.train_loop import HookBase
from detectron2.utils import comm

__all__ = ["defer_signal", "signals_pending", "deliver_deferred_signals", "CheckpointOnSignalHook"]

logger = logging.getLogger(__name__)
_original: Dict[int, Callable] = {}
_pending: List[int] = []


def _record(signum, frame) -> None:
    if signum not in _pending:
        _pending.append(signum)
    logger.warning(f"Received {signal.Signals(signum).name}: checkpointing at the end of this "
                   "iteration, then handing over to the job's requeue handler")


def defer_signal(signum: int) -> None:
    """Record ``signum`` instead of handling it; its current handler runs later, from
    :func:`deliver_deferred_signals` (called by the hook at an iteration boundary)."""
    current = signal.getsignal(signum)
    if current is _record:
        return
    _original[signum] = current
    signal.signal(signum, _record)


def signals_pending() -> List[int]:
    return list(_pending)


def deliver_deferred_signals() -> None:
    """Run the original handler of every recorded signal (it may requeue and exit)."""
    while _pending:
        signum = _pending.pop(0)
        handler = _original.get(signum)
        if callable(handler):
            handler(signum, None)


class CheckpointOnSignalHook(HookBase):
    """After each iteration: if a deferred signal came, save ``model_<iter>`` and hand over."""

    def __init__(self, checkpointer):
        self._checkpointer = checkpointer

    def after_step(self):
        if not _pending:
            return
        it = self.trainer.iter
        if comm.is_main_process():
            self._checkpointer.save(f"model_{it:07d}", iteration=it)
            logger.warning(f"Checkpoint of iteration {it} saved on "
                           f"{', '.join(signal.Signals(s).name for s in _pending)}")
        deliver_deferred_signals()

    def after_train(self):
        if _pending:
            # Training (and its final checkpoint / evaluation) is over: requeuing now
            # would only repeat the end. Let the job finish.
            logger.warning("Signal received after the last iteration: not requeuing, the run "
                           "is finishing")
            _pending.clear()

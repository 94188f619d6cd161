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

The final evaluation is different: it starts after the last iteration's checkpoint
(``model_final``) is saved, so there is nothing left to save and nothing to wait for.
Within :func:`requeue_at_once` a deferred signal (one pending when it starts, or one
that arrives) is handed over at once, after a marker file
(``final_evaluation_pending.json``) is written in the run folder; the requeued job's
``--resume`` finds the run trained and the marker there, and runs the final
evaluation again. A signal during the last iteration is left pending by
:class:`CheckpointOnSignalHook` for the same reason (its checkpoint is the final one).

Without a deferring handler (plain ``tools/train_net.py``) none of this does anything.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal

from detectron2.engine.train_loop import HookBase
from detectron2.utils import comm

from vitdet_bench.utils.io import atomic_write_json

__all__ = ["pending_deferred_signals", "CheckpointOnSignalHook", "requeue_at_once",
           "final_evaluation_pending", "FINAL_EVALUATION_PENDING"]

FINAL_EVALUATION_PENDING = "final_evaluation_pending.json"

logger = logging.getLogger(__name__)
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGUSR1", "SIGUSR2") if hasattr(signal, n))


def _is_deferring(handler) -> bool:
    return isinstance(getattr(handler, "pending", None), list) \
        and callable(getattr(handler, "deliver", None))


def _deferring_handlers():
    """``{signal: deferring handler}`` for the scheduler's signals."""
    handlers = {s: signal.getsignal(s) for s in _SIGNALS}
    return {s: h for s, h in handlers.items() if _is_deferring(h)}


def pending_deferred_signals():
    """``[(signal, deferring handler)]`` for the installed handlers with a pending signal."""
    return [(s, h) for s, h in _deferring_handlers().items() if h.pending]


class CheckpointOnSignalHook(HookBase):
    """After each iteration: if a deferred signal came, save ``model_<iter>`` and hand over."""

    def __init__(self, checkpointer):
        self._checkpointer = checkpointer

    def after_step(self):
        pending = pending_deferred_signals()
        it = self.trainer.iter
        if not pending or it >= self.trainer.max_iter - 1:
            # the last iteration's checkpoint is the final one (PeriodicCheckpointer, which
            # runs before this hook); the final evaluation hands the signal over
            return
        names = ", ".join(signal.Signals(s).name for s, _ in pending)
        if comm.is_main_process():
            self._checkpointer.save(f"model_{it:07d}", iteration=it)
            logger.warning(f"Checkpoint of iteration {it} saved on {names}")
        # the handler requeues and exits (rank 0) or returns (other ranks: they go on
        # until the requeue stops the job)
        for _, handler in pending:
            handler.deliver()

    def after_train(self):
        pending = pending_deferred_signals()
        if pending:
            # Training and its final evaluation are over (or there is none): requeuing
            # now would only repeat the end. Let the job finish.
            logger.warning("Signal received after the last iteration: not requeuing, the run "
                           "is finishing")
            for _, handler in pending:
                handler.pending.clear()


def final_evaluation_pending(output_dir: str) -> bool:
    """The final evaluation of the run in ``output_dir`` was cut by a scheduler signal."""
    return os.path.isfile(os.path.join(output_dir, FINAL_EVALUATION_PENDING))


@contextlib.contextmanager
def requeue_at_once(output_dir: str, iterations: int):
    """Within: the final evaluation of a run trained for ``iterations`` iterations, whose
    weights are saved. A deferred scheduler signal (pending on entry or arriving) is
    handed over at once, after ``<output_dir>/final_evaluation_pending.json`` is written
    (main process); on rank 0 the handler requeues the job and exits, the other ranks
    go on until the requeue stops the job. On a normal exit the marker is removed (an
    evaluation of a requeued job is done)."""
    deferring = _deferring_handlers()
    marker = os.path.join(output_dir, FINAL_EVALUATION_PENDING)

    def hand_over():
        names = ", ".join(signal.Signals(s).name for s, h in deferring.items() if h.pending)
        if comm.is_main_process():
            atomic_write_json(marker, {"iterations": int(iterations), "signals": names})
            logger.warning(f"{names} during the final evaluation: the weights of all "
                           f"{iterations} iterations are saved; handing over now (a requeued "
                           f"job evaluates them, {FINAL_EVALUATION_PENDING})")
        for handler in deferring.values():
            handler.deliver()

    def at_once(signum, frame):
        handler = deferring[signum]
        if signum not in handler.pending:
            handler.pending.append(signum)
        hand_over()

    for s in deferring:
        signal.signal(s, at_once)
    try:
        if any(h.pending for h in deferring.values()):  # came during the last iteration
            hand_over()
        yield
    finally:
        for s, handler in deferring.items():
            signal.signal(s, handler)
    if comm.is_main_process() and os.path.isfile(marker):
        os.remove(marker)

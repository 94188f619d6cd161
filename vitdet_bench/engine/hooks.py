"""Training hooks: evaluation to eval_<iter>/ and inference/ + report.json, the metric
writers, and the mapper's skip counts at the end of training.

Each hook decides for itself what its ``after_train`` does when training did not finish
(a failure, or a stop on a scheduler signal): detectron2 leaves ``trainer.iter ==
max_iter`` only when every iteration finished.
"""
from __future__ import annotations

import logging
from typing import Callable, Dict, Iterable

from detectron2.engine.train_loop import HookBase
from detectron2.evaluation.testing import flatten_results_dict
from detectron2.utils import comm

from .errors import NonFiniteLossError

__all__ = ["NonFiniteLossError", "VitdetEvalHook", "MetricsWriter", "MapperSkipCounts",
           "evaluation_scalars"]

logger = logging.getLogger("vitdet_bench.engine")


def _finished(trainer) -> bool:
    return trainer.iter >= trainer.max_iter


def evaluation_scalars(results: dict) -> Dict[str, float]:
    """The numbers of an evaluation's (nested) results, flattened as "bbox/AP" etc."""
    flat = {}
    for k, v in flatten_results_dict(results or {}).items():
        try:
            flat[k] = float(v)
        except (TypeError, ValueError):
            pass
    return flat


class VitdetEvalHook(HookBase):
    """Periodic evaluation every ``period`` iterations (``eval_<iter>``) and a final one
    once training has finished (not after a failure or a stop on a signal).

    ``eval_fn(kind, iteration)`` with kind "periodic" (iteration: the iterations done so
    far) or "final" (iteration: max_iter) returns a results dict; its numbers go to the
    event storage (metrics.json).
    """

    def __init__(self, period: int, eval_fn: Callable[[str, int], dict]):
        self._period = int(period or 0)
        self._fn = eval_fn

    def _put(self, results):
        flat = evaluation_scalars(results)
        if flat and comm.is_main_process():
            self.trainer.storage.put_scalars(**flat, smoothing_hint=False)
        comm.synchronize()

    def after_step(self):
        next_iter = self.trainer.iter + 1
        if self._period > 0 and next_iter % self._period == 0 \
                and next_iter != self.trainer.max_iter:
            self._put(self._fn("periodic", next_iter))

    def after_train(self):
        if _finished(self.trainer):
            logger.info("Final evaluation")
            self._put(self._fn("final", self.trainer.max_iter))


class MetricsWriter(HookBase):
    """Calls the event writers (metrics.json, TensorBoard, console) every ``period``
    iterations and after the last one, as detectron2's ``PeriodicWriter`` does; then, at
    the end, writes what is new (e.g. the final evaluation) and closes them.

    The difference: after a stop right after an iteration the writers had just written
    (a scheduler signal, checkpointed at that iteration), they are closed without
    another write, which would repeat that iteration's console line. detectron2's
    ``PeriodicWriter`` keeps its writers and period private, so this hook holds them.
    """

    def __init__(self, writers: Iterable, period: int = 20):
        self.writers = list(writers)
        self.period = int(period)
        self._written_at = None

    def after_step(self):
        it = self.trainer.iter
        if (it + 1) % self.period == 0 or it == self.trainer.max_iter - 1:
            for writer in self.writers:
                writer.write()
            self._written_at = it

    def after_train(self):
        nothing_new = not _finished(self.trainer) and self._written_at == self.trainer.iter
        for writer in self.writers:
            if not nothing_new:
                writer.write()
            writer.close()


class MapperSkipCounts(HookBase):
    """At the end of training, log what the training mapper dropped and counted
    (:attr:`vitdet_bench.data.RobustDatasetMapper.skip_counts`: this process's mapper;
    each data loader worker has its own copy and logs its own drops)."""

    def __init__(self, mapper, num_workers: int = 0):
        self._mapper = mapper
        self._workers = int(num_workers)

    def after_train(self):
        counts = dict(getattr(self._mapper, "skip_counts", None) or {})
        if not counts:
            return
        logger.warning(
            "Training data: annotations dropped and counted by the mapper: "
            + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
            + (f" (this process only; each of the {self._workers} data loader workers logs "
               "its own drops)" if self._workers else ""))

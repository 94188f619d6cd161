"""Training hooks: evaluation to eval_<iter>/ and inference/ + report.json."""
from __future__ import annotations

import logging
from typing import Callable

from detectron2.engine.train_loop import HookBase
from detectron2.evaluation.testing import flatten_results_dict
from detectron2.utils import comm

from .errors import NonFiniteLossError

__all__ = ["NonFiniteLossError", "VitdetEvalHook"]


class VitdetEvalHook(HookBase):
    """Periodic evaluation every ``period`` iterations (``eval_<iter>``) and a final one.

    ``eval_fn(kind, iteration)`` with kind "periodic" or "final" returns a results dict.
    """

    def __init__(self, period: int, eval_fn: Callable[[str, int], dict]):
        self._period = int(period or 0)
        self._fn = eval_fn

    def _put(self, results):
        if results and comm.is_main_process():
            flat = {}
            for k, v in flatten_results_dict(results).items():
                try:
                    flat[k] = float(v)
                except (TypeError, ValueError):
                    pass
            if flat:
                self.trainer.storage.put_scalars(**flat, smoothing_hint=False)
        comm.synchronize()

    def after_step(self):
        next_iter = self.trainer.iter + 1
        if self._period > 0 and next_iter % self._period == 0 and next_iter != self.trainer.max_iter:
            self._put(self._fn("periodic", next_iter))

    def after_train(self):
        if self.trainer.iter + 1 >= self.trainer.max_iter:
            logging.getLogger(__name__).info("Final evaluation")
            self._put(self._fn("final", self.trainer.iter + 1))

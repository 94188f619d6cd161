"""configs/demo/vit_tiny_study.py with an evaluation that takes ~2 s per image.

The 8 test images then take ~16 s: time for a scheduler signal sent from outside (the
SLURM test of tests/test_engine_preemption_final_eval.py) to land in the final
evaluation. tests/ must be on PYTHONPATH (the mapper is imported from there).
"""
import os

import vitdet_bench  # noqa: F401  (before detectron2: the compat bridges)

from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig

from engine_fixtures.eval_signals import SignalDuringEvaluation

_tiny = LazyConfig.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                     "configs", "demo", "vit_tiny_study.py"))
model, dataloader, optimizer = _tiny.model, _tiny.dataloader, _tiny.optimizer
lr_multiplier, train = _tiny.lr_multiplier, _tiny.train
dataloader.test.mapper = L(SignalDuringEvaluation)(mapper=dataloader.test.mapper, seconds=2.0)
train.output_dir = "./output/slow_eval_study"

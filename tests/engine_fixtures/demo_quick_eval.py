"""The demo config (configs/demo/vit_tiny_shapes.py) evaluated on the first 8 shapes_val images.

For tests that train it a few iterations on a device and evaluate: a barely trained detector
keeps up to 100 low-score detections per image, whose mask pasting makes the full
100-image evaluation take minutes on a CPU.
"""
import os

from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig

from engine_fixtures.helpers import first_n

_demo = LazyConfig.load(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "configs", "demo", "vit_tiny_shapes.py"))
model, dataloader, optimizer, lr_multiplier, train = (
    _demo.model, _demo.dataloader, _demo.optimizer, _demo.lr_multiplier, _demo.train)
dataloader.evaluator.dataset_name = dataloader.test.dataset.names
dataloader.test.dataset = L(first_n)(dicts=dataloader.test.dataset, n=8)
model.roi_heads.box_predictor.test_topk_per_image = 20
model.roi_heads.box_predictor.test_score_thresh = 0.0  # after 3 iterations every score is low

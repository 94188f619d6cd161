"""The embedded default (``vit_tiny_shapes.py``) as a Cascade Mask R-CNN (configs/common/cascade.py):
three BN 4conv1fc box heads at IoU 0.5/0.6/0.7, class-agnostic regression. A smoke test of
the cascade on CPU (tests/test_cascade.py), not a tuned recipe."""
from ..common.cascade import to_cascade
from .vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train

to_cascade(model)
train.output_dir = "./output/demo_vit_tiny_shapes_cascade"

"""``dinov2reg_tiny_shapes.py`` as a Cascade Mask R-CNN (``configs/common/cascade.py``): the CPU
smoke test of the cascade on a timm family (tests/test_cascade.py), not a tuned recipe."""
from ..common.cascade import to_cascade
from .dinov2reg_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train

to_cascade(model)
train.output_dir = "./output/families_dinov2reg_tiny_shapes_cascade"

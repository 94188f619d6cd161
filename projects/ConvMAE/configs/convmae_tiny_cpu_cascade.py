"""``convmae_tiny_cpu.py`` as a Cascade Mask R-CNN (``configs/common/cascade.py``): the CPU
smoke test of the cascade on the ConvMAE family (tests/test_cascade.py), not a tuned recipe."""
from ....configs.common.cascade import to_cascade
from .convmae_tiny_cpu import dataloader, lr_multiplier, model, optimizer, train

to_cascade(model)
train.output_dir = "./output/convmae_tiny_cpu_cascade"

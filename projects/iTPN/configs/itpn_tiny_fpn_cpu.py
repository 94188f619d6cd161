"""Tiny iTPN Mask R-CNN, design 2 (C2-C5 -> BN FPN), on the synthetic shapes data (CPU).

``itpn_tiny_cpu.py`` with the neck of ``itpn_pixel_b_fpn_mrcnn_1x.py`` (64-channel FPN).
"""

from .itpn_tiny_cpu import dataloader, lr_multiplier, model, optimizer, train
from itpn import bn_fpn_design  # the itpn package: projects/iTPN/itpn (setup.py)

model.backbone = bn_fpn_design(model.backbone, out_channels=64)
train.output_dir = "./output/itpn_tiny_fpn_cpu"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

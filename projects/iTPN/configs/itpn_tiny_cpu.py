"""Tiny iTPN Mask R-CNN (integral design) on the synthetic shapes data: a CPU smoke config.

The detector, losses and recipe of ``itpn_pixel_b_mrcnn_1x.py`` with a 64-d trunk (MLP
blocks 1/1, 2 global blocks, 2 heads), a 64-d integral pyramid and 64-channel heads, and
the official DETR-style augmentation scaled to the 256 px shapes images (short side
96-128, or 80/96/112 + a 72-112 crop first; test short side 128). Used by
tests/test_itpn_train.py; trains through the standard entry point:

    python tools/train_net.py --config-file projects/iTPN/configs/itpn_tiny_cpu.py

(40 iterations of batch 4, then COCO box + mask evaluation on shapes_val and a report).
Design 2 (BN FPN neck): ``itpn_tiny_fpn_cpu.py``.
"""
from ....configs.common.tiny import use_cpu_smoke_schedule, use_tiny_heads

from .itpn_pixel_b_mrcnn_1x import dataloader, lr_multiplier, model, optimizer, train

net = model.backbone
net.embed_dim, net.mlp_depths, net.depth, net.num_heads = 64, (1, 1), 2, 2
net.drop_path_rate = 0.0
net.fpn_dim = 64
net.pyramid_init = "random"  # no pre-trained file: trained from scratch
use_tiny_heads(model, channels=64, num_classes=5)

dataloader.train.dataset.names = "shapes_train"
dataloader.train.mapper.short_sides = (96, 112, 128)
dataloader.train.mapper.max_size = 171
dataloader.train.mapper.crop_short_sides = (80, 96, 112)
dataloader.train.mapper.crop_size = (72, 112)
dataloader.train.total_batch_size = 4
dataloader.train.num_workers = 0
dataloader.test.dataset.names = "shapes_val"
dataloader.test.mapper.short_side = 128
dataloader.test.mapper.max_size = 171
dataloader.test.num_workers = 0

optimizer.lr = 1e-3
optimizer.params.layer_decay = 1.0
optimizer.params.num_layers = None  # the model's own count (4)

use_cpu_smoke_schedule(train, output_dir="./output/itpn_tiny_cpu")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

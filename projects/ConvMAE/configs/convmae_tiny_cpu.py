"""Tiny ConvMAE Mask R-CNN (design 1) on the synthetic shapes data: a CPU smoke config.

Same detector and neck as ``convmae_b_mrcnn_25ep.py`` at 128x128 input with a
32/48/96-channel, 1/1/4-block ConvMAE (8x8 stage-3 grid, 4x4 windows, blocks 0 and 3
global). Used by tests/test_convmae_train.py; trains through the standard entry point:

    python tools/train_net.py --config-file projects/ConvMAE/configs/convmae_tiny_cpu.py

(40 iterations of batch 4, then COCO box + mask evaluation on shapes_val and a report).
"""
from ....configs.common.tiny import use_cpu_smoke_schedule, use_tiny_heads

from .convmae_b_mrcnn_100ep import dataloader, lr_multiplier, model, optimizer, train

image_size = 128

net = model.backbone.bottom_up
net.img_size = image_size
net.embed_dims, net.depths, net.num_heads, net.mlp_ratios = (32, 48, 96), (1, 1, 4), 4, (2, 2, 2)
net.drop_path_rate = 0.0
net.window_size = 4
net.global_block_indexes = (0, 3)
net.freeze_pos_embed = False
model.backbone.out_channels = 64
model.backbone.square_pad = image_size
use_tiny_heads(model, channels=64, num_classes=5)

dataloader.train.dataset.names = "shapes_train"
dataloader.train.mapper.image_size = image_size
dataloader.train.mapper.min_scale = 0.8
dataloader.train.mapper.max_scale = 1.2
dataloader.train.total_batch_size = 4
dataloader.train.num_workers = 0
dataloader.test.dataset.names = "shapes_val"
dataloader.test.mapper.image_size = image_size
dataloader.test.num_workers = 0

optimizer.lr = 1e-3
optimizer.weight_decay = 0.05

use_cpu_smoke_schedule(train, output_dir="./output/convmae_tiny_cpu")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

"""A tiny CLIP Mask R-CNN on the synthetic shapes, for the CPU tests.

The demo detector (``configs/demo/vit_tiny_shapes.py``) with its ViT replaced by the
timm trunk around timm's ``vit_base_patch16_clip_224`` (OpenAI CLIP ViT-B/16's image
tower) shrunk to 128-d, 8 blocks, 4 heads (patch 16 without bias, the class token
dropped before the first block, a pre-block LayerNorm, an absolute position table
with a class slot). The pre-training grid is 4x4 (64 px), the size of the small
official-layout files the tests write; the position table is resized to the 16x16
detection grid at load time. Initialize with ``train.init_checkpoint=FILE`` (OpenAI
CLIP / OpenCLIP ``visual.*`` layout, detected as "openai_clip").
"""
from ..common.tiny import use_tiny_timm_trunk
from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_tiny_timm_trunk(model, optimizer, "vit_base_patch16_clip_224", pretrain_img_size=64,
                    pos_embed_grid="detection")
# The demo's 1e-3 (from scratch) makes this trunk's loss climb back after ~15 iterations
# (measured, 30 iterations at batch 2 from a random-weight file: 3.4 -> 1.1 -> 2.3-3.2);
# mean loss of the last 8 over the first 8 iterations: 1e-3 0.70-0.76 (1-2 threads),
# 4e-4 0.63, 2e-4 0.69.
optimizer.lr = 4e-4
train.init_checkpoint = ""
train.init_format = "auto"   # no file: the trunk keeps timm's own initialization
train.output_dir = "./output/families_clip_tiny_shapes"
train.vitdet_bench = dict(init="clip", model_size="T", epochs=6.67)

"""A tiny AIMv2 Mask R-CNN on the synthetic shapes, for the CPU tests.

The demo detector (``configs/demo/vit_tiny_shapes.py``) with its ViT replaced by the
timm trunk around timm's ``aimv2_large_patch14_224`` shrunk to 128-d, 8 blocks,
4 heads (no class token, RMSNorm in the patch embedding and the blocks, SwiGLU MLP,
no attention biases, an absolute position table). The pre-training grid is 4x4
(56 px at patch 14), the size of the small official-layout files the tests write;
the patch kernel is resampled to 16 by timm's ``resample_patch_embed`` at load time,
the position table resized to the detection grid. Initialize with
``train.init_checkpoint=FILE`` (apple/ml-aim layout, detected as "aimv2").
"""
from ..common.tiny import use_tiny_timm_trunk
from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_tiny_timm_trunk(
    model, optimizer, "aimv2_large_patch14_224", pretrain_img_size=56,
    patch_route="resample16",
    pos_embed_grid="detection",
)
# The demo's 1e-3 (from scratch) makes this trunk's loss climb back after ~15 iterations
# (measured, 30 iterations at batch 2 from a random-weight file: 3.3 -> 1.3 -> 2.4-3.7);
# mean loss of the last 8 over the first 8 iterations: 1e-3 0.77,
# 4e-4 0.63-0.67 (1-2 threads), 2e-4 0.68.
optimizer.lr = 4e-4
train.init_checkpoint = ""
train.init_format = "auto"   # no file: the trunk keeps timm's own initialization
train.output_dir = "./output/families_aimv2_tiny_shapes"
train.vitdet_bench = dict(init="aimv2", model_size="T", epochs=6.67)

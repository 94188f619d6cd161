"""A tiny DINOv2 Mask R-CNN (without registers) on the synthetic shapes, for the CPU tests.

The demo detector (``configs/demo/vit_tiny_shapes.py``: multi-scale adaptor, BN FPN,
BN heads, 256x256 input) with its ViT replaced by the timm trunk around timm's
``vit_small_patch14_dinov2`` shrunk to 128-d, 8 blocks, 4 heads (LayerScale and the
class token as in DINOv2; the class token is dropped before the first block). The
pre-training grid is 4x4 (56 px at patch 14), the size of the small official-layout
files the tests write; the patch kernel is resampled to 16 by timm's
``resample_patch_embed`` at load time (16x16 tokens at 256), the position table
(class slot and 4x4 grid) resized to the detection grid. Initialize it from such a
file with ``train.init_checkpoint=FILE train.init_format=auto`` (detected as "dinov2").
The with-registers variant is ``dinov2reg_tiny_shapes.py``.
"""
from ..common.tiny import use_tiny_timm_trunk
from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_tiny_timm_trunk(
    model, optimizer, "vit_small_patch14_dinov2", pretrain_img_size=56,
    patch_route="resample16",           # 16x16 tokens at 256, as the patch-16 families
    pos_embed_grid="detection",
)
train.init_checkpoint = ""
train.init_format = "auto"   # no file: the trunk keeps timm's own initialization
train.output_dir = "./output/families_dinov2_tiny_shapes"
train.vitdet_bench = dict(init="dinov2", model_size="T", epochs=6.67)

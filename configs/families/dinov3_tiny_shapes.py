"""A tiny DINOv3 Mask R-CNN on the synthetic shapes, for the CPU tests.

The demo detector (``configs/demo/vit_tiny_shapes.py``) with its ViT replaced by the
timm trunk around timm's ``vit_small_patch16_dinov3_qkvb`` shrunk to 128-d, 8 blocks,
4 heads (patch 16, class + 4 storage tokens dropped before the first block,
LayerScale, RoPE on coordinates normalized to the whole grid, no absolute table).
Windowed blocks take the full grid's rotary table cut into windows. Initialize with
``train.init_checkpoint=FILE`` (detected as "dinov3").
"""
from ..common.tiny import use_tiny_timm_trunk
from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_tiny_timm_trunk(model, optimizer, "vit_small_patch16_dinov3_qkvb", pretrain_img_size=64,
                    rope_windows="partition")
train.init_checkpoint = ""
train.init_format = "auto"   # no file: the trunk keeps timm's own initialization
train.output_dir = "./output/families_dinov3_tiny_shapes"
train.vitdet_bench = dict(init="dinov3", model_size="T", epochs=6.67)

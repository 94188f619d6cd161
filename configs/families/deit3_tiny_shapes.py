"""A tiny DeiT III Mask R-CNN on the synthetic shapes, for the CPU tests.

The demo detector (``configs/demo/vit_tiny_shapes.py``) with its ViT replaced by the
timm trunk around timm's ``deit3_small_patch16_224`` shrunk to 128-d, 8 blocks,
4 heads (patch 16, LayerScale, the class token dropped before the first block, an
absolute position table without a class slot). The pre-training grid is 4x4 (64 px),
the size of the small official-layout files the tests write; the position table is
resized to the 16x16 detection grid at load time. Initialize with
``train.init_checkpoint=FILE`` (facebookresearch/deit layout, detected as "deit3").
"""
from ..common.tiny import use_tiny_timm_trunk
from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_tiny_timm_trunk(model, optimizer, "deit3_small_patch16_224", pretrain_img_size=64,
                    pos_embed_grid="detection")
train.init_checkpoint = ""
train.init_format = "auto"   # no file: the trunk keeps timm's own initialization
train.output_dir = "./output/families_deit3_tiny_shapes"
train.vitdet_bench = dict(init="deit3", model_size="T", epochs=6.67)

"""A tiny DINOv2-with-registers Mask R-CNN on the synthetic shapes, for the CPU tests.

The demo detector (``configs/demo/vit_tiny_shapes.py``: multi-scale adaptor, BN FPN,
BN heads, 256x256 input) with its ViT replaced by the timm trunk around timm's
``vit_small_patch14_reg4_dinov2`` shrunk to 128-d, 8 blocks, 4 heads (LayerScale,
4 registers and the class token as in DINOv2; the prefix tokens are dropped before
the first block). The pre-training grid is 4x4 (56 px at patch 14), the size of the
small official-layout files the tests write; the patch kernel is resampled to 16 by
timm's ``resample_patch_embed`` at load time (16x16 tokens at 256), the position
table resized to the detection grid. Initialize it from such a file with
``train.init_checkpoint=FILE train.init_format=auto`` (detected as "dinov2").
"""
from detectron2.config import LazyCall as L

from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk

from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

image_size = 256

model.backbone.bottom_up.net = L(TimmTrunk)(
    model_name="vit_small_patch14_reg4_dinov2",
    model_kwargs=dict(embed_dim=128, depth=8, num_heads=4),
    img_size=image_size,
    pretrain_img_size=56,
    patch_route="resample16",           # 16x16 tokens at 256, as the patch-16 families
    attention_strategy="window_global",  # blocks 1/3/5/7 global
    window_size=8,
    prefix_tokens="drop",
    pos_embed_grid="detection",
    rope_windows="partition",
    drop_path_rate=0.0,
)
model.backbone.bottom_up.in_features = ["block1", "block3", "block5", "block7"]

optimizer.params.num_layers = 8
train.init_checkpoint = ""
train.init_format = "auto"   # no file: the trunk keeps timm's own initialization
train.output_dir = "./output/families_dinov2_tiny_shapes"
train.vitdet_bench = dict(init="dinov2", model_size="T", epochs=6.67)

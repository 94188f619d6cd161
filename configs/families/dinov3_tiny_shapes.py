"""A tiny DINOv3 Mask R-CNN on the synthetic shapes, for the CPU tests.

The demo detector (``configs/demo/vit_tiny_shapes.py``) with its ViT replaced by the
timm trunk around timm's ``vit_small_patch16_dinov3_qkvb`` shrunk to 128-d, 8 blocks,
4 heads (patch 16, class + 4 storage tokens dropped before the first block,
LayerScale, RoPE on coordinates normalized to the whole grid, no absolute table).
Windowed blocks take the full grid's rotary table cut into windows. Initialize with
``train.init_checkpoint=FILE`` (detected as "dinov3").
"""
from detectron2.config import LazyCall as L

from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk

from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

image_size = 256

model.backbone.bottom_up.net = L(TimmTrunk)(
    model_name="vit_small_patch16_dinov3_qkvb",
    model_kwargs=dict(embed_dim=128, depth=8, num_heads=4),
    img_size=image_size,
    pretrain_img_size=64,
    attention_strategy="window_global",  # blocks 1/3/5/7 global
    window_size=8,
    prefix_tokens="drop",
    rope_windows="partition",
    drop_path_rate=0.0,
)
model.backbone.bottom_up.in_features = ["block1", "block3", "block5", "block7"]

optimizer.params.num_layers = 8
train.init_checkpoint = ""
train.init_format = "auto"   # no file: the trunk keeps timm's own initialization
train.output_dir = "./output/families_dinov3_tiny_shapes"
train.vitdet_bench = dict(init="dinov3", model_size="T", epochs=6.67)

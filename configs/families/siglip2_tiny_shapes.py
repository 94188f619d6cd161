"""A tiny SigLIP 2 Mask R-CNN on the synthetic shapes, for the CPU tests.

The demo detector (``configs/demo/vit_tiny_shapes.py``) with its ViT replaced by the
timm trunk around timm's ``vit_base_patch16_siglip_224`` (the tower of SigLIP 2 B/16)
shrunk to 128-d, 8 blocks, 4 heads (patch 16 with a bias, no class token, an
absolute position table without a class slot; the attention-pooling head is not part
of the trunk). The pre-training grid is 4x4 (64 px), the size of the small files the
tests write; the position table is resized to the 16x16 detection grid at load time.
Initialize it from a Hugging Face ``model.safetensors`` with
``train.init_checkpoint=FILE`` (detected as "siglip2_hf").
"""
from ..common.tiny import use_tiny_timm_trunk
from ..demo.vit_tiny_shapes import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

use_tiny_timm_trunk(model, optimizer, "vit_base_patch16_siglip_224", pretrain_img_size=64,
                    pos_embed_grid="detection")
train.init_checkpoint = ""
train.init_format = "auto"   # no file: the trunk keeps timm's own initialization
train.output_dir = "./output/families_siglip2_tiny_shapes"
train.vitdet_bench = dict(init="siglip2", model_size="T", epochs=6.67)

"""The Benchmarking detector (``mask_rcnn_vit.py``) on a timm-family trunk.

The same multi-scale adaptor (blocks d/4, d/2, 3d/4, d), BatchNorm FPN, 2-conv RPN
and BatchNorm heads as the paper's ViT detector; the ViT is replaced by
:class:`~vitdet_bench.modeling.backbone.timm_trunk.TimmTrunk` around a timm
``VisionTransformer`` / ``Eva`` (DINOv2/v3, EVA-02, SigLIP 2, PE, AIMv2, CLIP,
DeiT III, a user's own). A family config sets the timm model, its pre-training size,
the taps, the pixel statistics of its pre-training and the recipe values.

Defaults (one recipe for every family, as the paper's ViT-B): 1024 input, 14x14
windows with the last block of each quarter global, the patch kernel resampled to
16 (64x64 tokens, the compute of the patch-16 families), prefix tokens dropped,
the absolute table (if any) resized to the detection grid once at load, RoPE
tables partitioned with the tokens, drop path 0.1.
"""
from detectron2.config import LazyCall as L

from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk

from .mask_rcnn_vit import model

model.backbone.bottom_up.net = L(TimmTrunk)(
    model_name="vit_base_patch16_224",
    img_size=1024,
    pretrain_img_size=None,          # the timm model's own
    patch_route="resample16",
    attention_strategy="window_global",
    window_size=14,
    prefix_tokens="drop",
    pos_embed_grid="detection",
    rope_windows="partition",
    drop_path_rate=0.1,
)
model.backbone.bottom_up.in_features = ["block2", "block5", "block8", "block11"]

__all__ = ["model"]

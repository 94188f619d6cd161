"""The ViTDet detector (``mask_rcnn_vitdet.py``) on a timm-family trunk.

The same simple feature pyramid from the last block (channel LayerNorm), 2-conv RPN
and LayerNorm heads as detectron2's ``projects/ViTDet``; the ViT is replaced by
:class:`~vitdet_bench.modeling.backbone.timm_trunk.TimmTrunk`. As ViTDet: 14x14
windows with the last block of each quarter global, the absolute table (if any)
kept at the pre-training grid with its prefix slots and resized in every forward
(``pos_embed_grid="pretrain"``). ViTDet's decomposed relative positions are an
addition of the MAE ViT; the timm families keep their own positions (absolute
table, RoPE or both) and get none added.
"""
from detectron2.config import LazyCall as L

from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk

from .mask_rcnn_vitdet import model

model.backbone.net = L(TimmTrunk)(
    model_name="vit_base_patch16_224",
    img_size=1024,
    pretrain_img_size=None,          # the timm model's own
    patch_route="resample16",
    attention_strategy="window_global",
    window_size=14,
    prefix_tokens="drop",
    pos_embed_grid="pretrain",
    rope_windows="partition",
    out_block_indexes=[11],
    drop_path_rate=0.1,
)
model.backbone.in_feature = "block11"

__all__ = ["model"]

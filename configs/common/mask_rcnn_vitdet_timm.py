"""The ViTDet detector (``mask_rcnn_vitdet.py``) on a timm-family trunk.

The same simple feature pyramid from the last block (channel LayerNorm), 2-conv RPN
and LayerNorm heads as detectron2's ``projects/ViTDet``; the ViT is replaced by the
trunk of ``mask_rcnn_timm.py`` (:class:`~vitdet_bench.modeling.backbone.timm_trunk.TimmTrunk`:
1024 input, 14x14 windows with the last block of each quarter global, patch kernel
resampled to 16, prefix tokens dropped, drop path 0.1) with ViTDet's two differences:
the absolute table (if any) kept at the pre-training grid with its prefix slots and
resized in every forward (``pos_embed_grid="pretrain"``), and only the last block
tapped. ViTDet's decomposed relative positions are an addition of the MAE ViT; the
timm families keep their own positions (absolute table, RoPE or both) and get none
added.
"""
from .mask_rcnn_timm import model as _benchmarking
from .mask_rcnn_vitdet import model

model.backbone.net = _benchmarking.backbone.bottom_up.net
model.backbone.net.pos_embed_grid = "pretrain"
model.backbone.net.out_block_indexes = [11]
model.backbone.in_feature = "block11"

__all__ = ["model"]

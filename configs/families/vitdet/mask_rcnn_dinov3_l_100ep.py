"""DINOv3 ViT-L/16 Mask R-CNN, the ViTDet recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_vitdet_timm.py`` (simple feature pyramid,
LN heads, position table kept at the pre-training grid) on the timm trunk; data,
optimizer and schedule of ``configs/vitdet/mask_rcnn_vitdet_l_100ep.py``; family notes in
``configs/families/_dinov3.py``.

| setting                   | value                                                            | source                                                                  |
|---------------------------|------------------------------------------------------------------|-------------------------------------------------------------------------|
| trunk                     | timm vit_large_patch16_dinov3, 24 blocks, patch 16               | timm model registry                                                     |
| pre-training size         | 256                                                              | timm pretrained_cfg input size (reference only, see _dinov3.py)         |
| global blocks             | 5/11/17/23, 14x14 windows elsewhere                              | last block of each quarter (Benchmarking sec. 3.1, ViTDet)              |
| pyramid input             | block23 (simple feature pyramid)                                 | the last block (ViTDet)                                                 |
| pixel mean                | 123.675/116.28/103.53                                            | timm pretrained_cfg vit_large_patch16_dinov3.lvd1689m (ImageNet) x 255  |
| pixel std                 | 58.395/57.12/57.375                                              | idem                                                                    |
| lr                        | 1e-4                                                             | not published for B/L/H+ (see _dinov3.py): ViTDet's MAE ViT-L           |
| layer decay               | 0.8 over 24 blocks                                               | idem                                                                    |
| drop path                 | 0.4                                                              | idem                                                                    |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 184375 iters (100 ep)          | configs/vitdet/mask_rcnn_vitdet_l_100ep.py (detectron2 projects/ViTDet) |
| init                      | pretrained/dinov3_vitl16_pretrain_lvd1689m-8aa4cbdd.pth (dinov3) | facebookresearch/dinov3 dinov3/hub/backbones.py                         |
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_l_100ep import dataloader, lr_multiplier, optimizer, train
from .._dinov3 import apply_dinov3

apply_dinov3("l", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_dinov3_l_100ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

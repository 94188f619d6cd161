"""DeiT III ViT-L/16 Mask R-CNN, the ViTDet recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_vitdet_timm.py`` (simple feature pyramid,
LN heads, position table kept at the pre-training grid) on the timm trunk; data,
optimizer and schedule of ``configs/vitdet/mask_rcnn_vitdet_l_100ep.py``; family notes in
``configs/families/_deit3.py``.

| setting                   | value                                                              | source                                                                        |
|---------------------------|--------------------------------------------------------------------|-------------------------------------------------------------------------------|
| trunk                     | timm deit3_large_patch16_224.fb_in22k_ft_in1k, 24 blocks, patch 16 | timm model registry                                                           |
| pre-training size         | 224                                                                | the 224 px checkpoint's position table (no class slot)                        |
| global blocks             | 5/11/17/23, 14x14 windows elsewhere                                | last block of each quarter (Benchmarking sec. 3.1, ViTDet)                    |
| pyramid input             | block23 (simple feature pyramid)                                   | the last block (ViTDet)                                                       |
| pixel mean                | 123.675/116.28/103.53                                              | timm pretrained_cfg deit3_large_patch16_224.fb_in22k_ft_in1k (ImageNet) x 255 |
| pixel std                 | 58.395/57.12/57.375                                                | idem                                                                          |
| lr                        | 1e-4                                                               | not published (no DeiT III detection recipe): ViTDet's MAE ViT-L              |
| layer decay               | 0.8 over 24 blocks                                                 | idem                                                                          |
| drop path                 | 0.4                                                                | idem                                                                          |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 184375 iters (100 ep)            | configs/vitdet/mask_rcnn_vitdet_l_100ep.py (detectron2 projects/ViTDet)       |
| init                      | pretrained/deit_3_large_224_21k.pth (deit3)                        | facebookresearch/deit README_revenge.md (IN-21K, ft IN-1K)                    |
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_l_100ep import dataloader, lr_multiplier, optimizer, train
from .._deit3 import apply_deit3

apply_deit3("l", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_deit3_l_100ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

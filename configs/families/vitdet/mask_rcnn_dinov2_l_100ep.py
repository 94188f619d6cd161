"""DINOv2 ViT-L/14 Mask R-CNN, the ViTDet recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_vitdet_timm.py`` (simple feature pyramid,
LN heads, position table kept at the pre-training grid) on the timm trunk; data,
optimizer and schedule of ``configs/vitdet/mask_rcnn_vitdet_l_100ep.py``; family notes in
``configs/families/_dinov2.py``.

| setting                   | value                                                                      | source                                                                  |
|---------------------------|----------------------------------------------------------------------------|-------------------------------------------------------------------------|
| trunk                     | timm vit_large_patch14_dinov2, 24 blocks, patch 14, kernel resampled to 16 | timm model registry; patch_route resample16                             |
| pre-training size         | 518                                                                        | the file's 37x37 position table + class slot (timm img_size 518)        |
| global blocks             | 5/11/17/23, 14x14 windows elsewhere                                        | last block of each quarter (Benchmarking sec. 3.1, ViTDet)              |
| pyramid input             | block23 (simple feature pyramid)                                           | the last block (ViTDet)                                                 |
| pixel mean                | 123.675/116.28/103.53                                                      | timm pretrained_cfg vit_large_patch14_dinov2.lvd142m (ImageNet) x 255   |
| pixel std                 | 58.395/57.12/57.375                                                        | idem                                                                    |
| lr                        | 1e-4                                                                       | not published (no DINOv2 detection recipe): ViTDet's MAE ViT-L          |
| layer decay               | 0.8 over 24 blocks                                                         | idem                                                                    |
| drop path                 | 0.4                                                                        | idem                                                                    |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 184375 iters (100 ep)                    | configs/vitdet/mask_rcnn_vitdet_l_100ep.py (detectron2 projects/ViTDet) |
| init                      | pretrained/dinov2_vitl14_pretrain.pth (dinov2)                             | facebookresearch/dinov2 README (backbone only)                          |
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_l_100ep import dataloader, lr_multiplier, optimizer, train
from .._dinov2 import apply_dinov2

apply_dinov2("l", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_dinov2_l_100ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

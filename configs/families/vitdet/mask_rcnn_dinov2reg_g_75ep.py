"""DINOv2 with registers ViT-g/14 Mask R-CNN, the ViTDet recipe, 75 epochs.

The detector of ``configs/common/mask_rcnn_vitdet_timm.py`` (simple feature pyramid,
LN heads, position table kept at the pre-training grid) on the timm trunk; data,
optimizer and schedule of ``configs/vitdet/mask_rcnn_vitdet_h_75ep.py``; family notes in
``configs/families/_dinov2reg.py``.

| setting                   | value                                                                           | source                                                                          |
|---------------------------|---------------------------------------------------------------------------------|---------------------------------------------------------------------------------|
| trunk                     | timm vit_giant_patch14_reg4_dinov2, 40 blocks, patch 14, kernel resampled to 16 | timm model registry; patch_route resample16                                     |
| pre-training size         | 518                                                                             | the file's 37x37 position table (timm img_size 518)                             |
| global blocks             | 9/19/29/39, 14x14 windows elsewhere                                             | last block of each quarter (Benchmarking sec. 3.1, ViTDet)                      |
| pyramid input             | block39 (simple feature pyramid)                                                | the last block (ViTDet)                                                         |
| pixel mean                | 123.675/116.28/103.53                                                           | timm pretrained_cfg vit_giant_patch14_reg4_dinov2.lvd142m (ImageNet) x 255      |
| pixel std                 | 58.395/57.12/57.375                                                             | idem                                                                            |
| lr                        | 1e-4                                                                            | not published (no DINOv2 detection recipe): ViTDet's MAE ViT-H (no g in ViTDet) |
| layer decay               | 0.9 over 40 blocks                                                              | idem                                                                            |
| drop path                 | 0.5                                                                             | idem                                                                            |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 138281 iters (75 ep), wd on every parameter   | configs/vitdet/mask_rcnn_vitdet_h_75ep.py (detectron2 projects/ViTDet)          |
| init                      | pretrained/dinov2_vitg14_reg4_pretrain.pth (dinov2)                             | facebookresearch/dinov2 README (backbone only, with registers)                  |
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_h_75ep import dataloader, lr_multiplier, optimizer, train
from .._dinov2reg import apply_dinov2reg

apply_dinov2reg("g", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_dinov2reg_g_75ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

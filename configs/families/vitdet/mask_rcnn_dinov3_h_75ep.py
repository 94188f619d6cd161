"""DINOv3 ViT-H+/16 Mask R-CNN, the ViTDet recipe, 75 epochs.

The detector of ``configs/common/mask_rcnn_vitdet_timm.py`` (simple feature pyramid,
LN heads, position table kept at the pre-training grid) on the timm trunk; data,
optimizer and schedule of ``configs/vitdet/mask_rcnn_vitdet_h_75ep.py``; family notes in
``configs/families/_dinov3.py``.

| setting                   | value                                                                         | source                                                                     |
|---------------------------|-------------------------------------------------------------------------------|----------------------------------------------------------------------------|
| trunk                     | timm vit_huge_plus_patch16_dinov3, 32 blocks, patch 16                        | timm model registry                                                        |
| pre-training size         | 256                                                                           | timm pretrained_cfg input size (reference only, see _dinov3.py)            |
| global blocks             | 7/15/23/31, 14x14 windows elsewhere                                           | last block of each quarter (Benchmarking sec. 3.1, ViTDet)                 |
| pyramid input             | block31 (simple feature pyramid)                                              | the last block (ViTDet)                                                    |
| pixel mean                | 123.675/116.28/103.53                                                         | timm pretrained_cfg vit_huge_plus_patch16_dinov3.lvd1689m (ImageNet) x 255 |
| pixel std                 | 58.395/57.12/57.375                                                           | idem                                                                       |
| lr                        | 1e-4                                                                          | not published for B/L/H+ (see _dinov3.py): ViTDet's MAE ViT-H              |
| layer decay               | 0.9 over 32 blocks                                                            | idem                                                                       |
| drop path                 | 0.5                                                                           | idem                                                                       |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 138281 iters (75 ep), wd on every parameter | configs/vitdet/mask_rcnn_vitdet_h_75ep.py (detectron2 projects/ViTDet)     |
| init                      | pretrained/dinov3_vith16plus_pretrain_lvd1689m-7c1da9a5.pth (dinov3)          | facebookresearch/dinov3 dinov3/hub/backbones.py                            |
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_h_75ep import dataloader, lr_multiplier, optimizer, train
from .._dinov3 import apply_dinov3

apply_dinov3("h", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_dinov3_h_75ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

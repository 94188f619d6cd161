"""DINOv2 with registers ViT-L/14 Mask R-CNN, the Benchmarking recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_timm.py`` (multi-scale adaptor, BN FPN,
BN heads) on the timm trunk; data, optimizer and schedule of
``configs/mae_vitl_mrcnn.py``; family notes in ``configs/families/_dinov2reg.py``.

| setting                   | value                                                                           | source                                                                     |
|---------------------------|---------------------------------------------------------------------------------|----------------------------------------------------------------------------|
| trunk                     | timm vit_large_patch14_reg4_dinov2, 24 blocks, patch 14, kernel resampled to 16 | timm model registry; patch_route resample16                                |
| pre-training size         | 518                                                                             | the file's 37x37 position table (timm img_size 518)                        |
| global blocks             | 5/11/17/23, 14x14 windows elsewhere                                             | last block of each quarter (Benchmarking sec. 3.1, ViTDet)                 |
| taps                      | block5, block11, block17, block23 (multi-scale adaptor)                         | blocks d/4, d/2, 3d/4, d (Benchmarking paper sec. 3.2)                     |
| pixel mean                | 123.675/116.28/103.53                                                           | timm pretrained_cfg vit_large_patch14_reg4_dinov2.lvd142m (ImageNet) x 255 |
| pixel std                 | 58.395/57.12/57.375                                                             | idem                                                                       |
| lr                        | 1e-4                                                                            | not published (no DINOv2 detection recipe): ViTDet's MAE ViT-L             |
| layer decay               | 0.8 over 24 blocks                                                              | idem                                                                       |
| drop path                 | 0.4                                                                             | idem                                                                       |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 100 ep, 250-iter warm-up                      | configs/mae_vitl_mrcnn.py (Benchmarking paper sec. 3.3)                    |
| init                      | pretrained/dinov2_vitl14_reg4_pretrain.pth (dinov2)                             | facebookresearch/dinov2 README (backbone only, with registers)             |
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitl_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._dinov2reg import apply_dinov2reg

apply_dinov2reg("l", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/dinov2reg_vitl_mrcnn"

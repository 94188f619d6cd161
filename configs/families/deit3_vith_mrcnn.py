"""DeiT III ViT-H/14 Mask R-CNN, the Benchmarking recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_timm.py`` (multi-scale adaptor, BN FPN,
BN heads) on the timm trunk; data, optimizer and schedule of
``configs/mae_vitb_mrcnn.py``; family notes in ``configs/families/_deit3.py``.

| setting                   | value                                                                                     | source                                                                       |
|---------------------------|-------------------------------------------------------------------------------------------|------------------------------------------------------------------------------|
| trunk                     | timm deit3_huge_patch14_224.fb_in22k_ft_in1k, 32 blocks, patch 14, kernel resampled to 16 | timm model registry; patch_route resample16                                  |
| pre-training size         | 224                                                                                       | the 224 px checkpoint's position table (no class slot)                       |
| global blocks             | 7/15/23/31, 14x14 windows elsewhere                                                       | last block of each quarter (Benchmarking sec. 3.1, ViTDet)                   |
| taps                      | block7, block15, block23, block31 (multi-scale adaptor)                                   | blocks d/4, d/2, 3d/4, d (Benchmarking paper sec. 3.2)                       |
| pixel mean                | 123.675/116.28/103.53                                                                     | timm pretrained_cfg deit3_huge_patch14_224.fb_in22k_ft_in1k (ImageNet) x 255 |
| pixel std                 | 58.395/57.12/57.375                                                                       | idem                                                                         |
| lr                        | 1e-4                                                                                      | not published (no DeiT III detection recipe): ViTDet's MAE ViT-H             |
| layer decay               | 0.9 over 32 blocks                                                                        | idem                                                                         |
| drop path                 | 0.5                                                                                       | idem                                                                         |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 100 ep, 250-iter warm-up                                | configs/mae_vitb_mrcnn.py (Benchmarking paper sec. 3.3)                      |
| init                      | pretrained/deit_3_huge_224_21k_v1.pth (deit3)                                             | facebookresearch/deit README_revenge.md (IN-21K, ft IN-1K)                   |
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._deit3 import apply_deit3

apply_deit3("h", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/deit3_vith_mrcnn"

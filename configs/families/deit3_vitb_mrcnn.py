"""DeiT III ViT-B/16 Mask R-CNN, the Benchmarking recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_timm.py`` (multi-scale adaptor, BN FPN,
BN heads) on the timm trunk; data, optimizer and schedule of
``configs/mae_vitb_mrcnn.py``; family notes in ``configs/families/_deit3.py``.

| setting                   | value                                                             | source                                                                       |
|---------------------------|-------------------------------------------------------------------|------------------------------------------------------------------------------|
| trunk                     | timm deit3_base_patch16_224.fb_in22k_ft_in1k, 12 blocks, patch 16 | timm model registry                                                          |
| pre-training size         | 224                                                               | the 224 px checkpoint's position table (no class slot)                       |
| global blocks             | 2/5/8/11, 14x14 windows elsewhere                                 | last block of each quarter (Benchmarking sec. 3.1, ViTDet)                   |
| taps                      | block2, block5, block8, block11 (multi-scale adaptor)             | blocks d/4, d/2, 3d/4, d (Benchmarking paper sec. 3.2)                       |
| pixel mean                | 123.675/116.28/103.53                                             | timm pretrained_cfg deit3_base_patch16_224.fb_in22k_ft_in1k (ImageNet) x 255 |
| pixel std                 | 58.395/57.12/57.375                                               | idem                                                                         |
| lr                        | 1e-4                                                              | not published (no DeiT III detection recipe): ViTDet's MAE ViT-B             |
| layer decay               | 0.7 over 12 blocks                                                | idem                                                                         |
| drop path                 | 0.1                                                               | idem                                                                         |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 100 ep, 250-iter warm-up        | configs/mae_vitb_mrcnn.py (Benchmarking paper sec. 3.3)                      |
| init                      | pretrained/deit_3_base_224_21k.pth (deit3)                        | facebookresearch/deit README_revenge.md (IN-21K, ft IN-1K)                   |
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._deit3 import apply_deit3

apply_deit3("b", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/deit3_vitb_mrcnn"

"""DINOv3 ViT-B/16 Mask R-CNN, the Benchmarking recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_timm.py`` (multi-scale adaptor, BN FPN,
BN heads) on the timm trunk; data, optimizer and schedule of
``configs/mae_vitb_mrcnn.py``; family notes in ``configs/families/_dinov3.py``.

| setting                   | value                                                            | source                                                                |
|---------------------------|------------------------------------------------------------------|-----------------------------------------------------------------------|
| trunk                     | timm vit_base_patch16_dinov3, 12 blocks, patch 16                | timm model registry                                                   |
| pre-training size         | 256                                                              | timm pretrained_cfg input size (reference only, see _dinov3.py)       |
| global blocks             | 2/5/8/11, 14x14 windows elsewhere                                | last block of each quarter (Benchmarking sec. 3.1, ViTDet)            |
| taps                      | block2, block5, block8, block11 (multi-scale adaptor)            | blocks d/4, d/2, 3d/4, d (Benchmarking paper sec. 3.2)                |
| pixel mean                | 123.675/116.28/103.53                                            | timm pretrained_cfg vit_base_patch16_dinov3.lvd1689m (ImageNet) x 255 |
| pixel std                 | 58.395/57.12/57.375                                              | idem                                                                  |
| lr                        | 1e-4                                                             | not published for B/L/H+ (see _dinov3.py): ViTDet's MAE ViT-B         |
| layer decay               | 0.7 over 12 blocks                                               | idem                                                                  |
| drop path                 | 0.1                                                              | idem                                                                  |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 100 ep, 250-iter warm-up       | configs/mae_vitb_mrcnn.py (Benchmarking paper sec. 3.3)               |
| init                      | pretrained/dinov3_vitb16_pretrain_lvd1689m-73cec8be.pth (dinov3) | facebookresearch/dinov3 dinov3/hub/backbones.py                       |
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._dinov3 import apply_dinov3

apply_dinov3("b", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/dinov3_vitb_mrcnn"

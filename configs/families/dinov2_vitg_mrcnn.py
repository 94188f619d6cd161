"""DINOv2 ViT-g/14 Mask R-CNN, the Benchmarking recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_timm.py`` (multi-scale adaptor, BN FPN,
BN heads) on the timm trunk; data, optimizer and schedule of
``configs/mae_vitb_mrcnn.py``; family notes in ``configs/families/_dinov2.py``.

| setting                   | value                                                                      | source                                                                          |
|---------------------------|----------------------------------------------------------------------------|---------------------------------------------------------------------------------|
| trunk                     | timm vit_giant_patch14_dinov2, 40 blocks, patch 14, kernel resampled to 16 | timm model registry; patch_route resample16                                     |
| pre-training size         | 518                                                                        | the file's 37x37 position table + class slot (timm img_size 518)                |
| global blocks             | 9/19/29/39, 14x14 windows elsewhere                                        | last block of each quarter (Benchmarking sec. 3.1, ViTDet)                      |
| taps                      | block9, block19, block29, block39 (multi-scale adaptor)                    | blocks d/4, d/2, 3d/4, d (Benchmarking paper sec. 3.2)                          |
| pixel mean                | 123.675/116.28/103.53                                                      | timm pretrained_cfg vit_giant_patch14_dinov2.lvd142m (ImageNet) x 255           |
| pixel std                 | 58.395/57.12/57.375                                                        | idem                                                                            |
| lr                        | 1e-4                                                                       | not published (no DINOv2 detection recipe): ViTDet's MAE ViT-H (no g in ViTDet) |
| layer decay               | 0.9 over 40 blocks                                                         | idem                                                                            |
| drop path                 | 0.5                                                                        | idem                                                                            |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 100 ep, 250-iter warm-up                 | configs/mae_vitb_mrcnn.py (Benchmarking paper sec. 3.3)                         |
| init                      | pretrained/dinov2_vitg14_pretrain.pth (dinov2)                             | facebookresearch/dinov2 README (backbone only)                                  |
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._dinov2 import apply_dinov2

apply_dinov2("g", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/dinov2_vitg_mrcnn"

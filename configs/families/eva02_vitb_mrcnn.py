"""EVA-02 B/14 Mask R-CNN, the Benchmarking recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_timm.py`` (multi-scale adaptor, BN FPN,
BN heads) on the timm trunk; data, optimizer and schedule of
``configs/mae_vitb_mrcnn.py``; family notes in ``configs/families/_eva02.py``.

| setting                   | value                                                                    | source                                                                   |
|---------------------------|--------------------------------------------------------------------------|--------------------------------------------------------------------------|
| trunk                     | timm eva02_base_patch14_224, 12 blocks, patch 14, kernel resampled to 16 | timm model registry; patch_route resample16                              |
| pre-training size         | 196                                                                      | the p14to16 file's 14x14 table (EVA-02/det README)                       |
| global blocks             | 2/5/8/11, 14x14 windows elsewhere                                        | last block of each quarter (Benchmarking sec. 3.1, ViTDet)               |
| taps                      | block2, block5, block8, block11 (multi-scale adaptor)                    | blocks d/4, d/2, 3d/4, d (Benchmarking paper sec. 3.2)                   |
| RoPE in windows           | window_grid                                                              | EVA-02/det's window-grid RoPE (its published numbers)                    |
| pixel mean                | 122.7709/116.746/104.0937                                                | timm pretrained_cfg eva02_base_patch14_224.mim_in22k (OpenAI CLIP) x 255 |
| pixel std                 | 68.5005/66.6322/70.3232                                                  | idem                                                                     |
| lr                        | 5e-5                                                                     | EVA-02/det eva2_coco_cascade_mask_rcnn_vitdet_b_4attn_1024_lrd0p7.py     |
| layer decay               | 0.7 over 12 blocks                                                       | idem                                                                     |
| drop path                 | 0.1                                                                      | idem                                                                     |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 100 ep, 250-iter warm-up               | configs/mae_vitb_mrcnn.py (Benchmarking paper sec. 3.3)                  |
| init                      | pretrained/eva02_B_pt_in21k_p14to16.pt (eva02)                           | baaivision/EVA EVA-02/det README (MIM pre-trained, IN-21K)               |
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._eva02 import apply_eva02

apply_eva02("b", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/eva02_vitb_mrcnn"

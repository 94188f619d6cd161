"""EVA-02 L/14 Mask R-CNN, the ViTDet recipe, 100 epochs.

The detector of ``configs/common/mask_rcnn_vitdet_timm.py`` (simple feature pyramid,
LN heads, position table kept at the pre-training grid) on the timm trunk; data,
optimizer and schedule of ``configs/vitdet/mask_rcnn_vitdet_l_100ep.py``; family notes in
``configs/families/_eva02.py``.

| setting                   | value                                                                     | source                                                                    |
|---------------------------|---------------------------------------------------------------------------|---------------------------------------------------------------------------|
| trunk                     | timm eva02_large_patch14_224, 24 blocks, patch 14, kernel resampled to 16 | timm model registry; patch_route resample16                               |
| pre-training size         | 196                                                                       | the p14to16 file's 14x14 table (EVA-02/det README)                        |
| global blocks             | 5/11/17/23, 14x14 windows elsewhere                                       | last block of each quarter (Benchmarking sec. 3.1, ViTDet)                |
| pyramid input             | block23 (simple feature pyramid)                                          | the last block (ViTDet)                                                   |
| RoPE in windows           | window_grid                                                               | EVA-02/det's window-grid RoPE (its published numbers)                     |
| pixel mean                | 122.7709/116.746/104.0937                                                 | timm pretrained_cfg eva02_large_patch14_224.mim_in22k (OpenAI CLIP) x 255 |
| pixel std                 | 68.5005/66.6322/70.3232                                                   | idem                                                                      |
| lr                        | 6e-5                                                                      | EVA-02/det eva2_coco_cascade_mask_rcnn_vitdet_l_4attn_1024_lrd0p8.py      |
| layer decay               | 0.8 over 24 blocks                                                        | idem                                                                      |
| drop path                 | 0.4                                                                       | idem                                                                      |
| data, optimizer, schedule | LSJ 1024, batch 64, AdamW wd 0.1, 184375 iters (100 ep)                   | configs/vitdet/mask_rcnn_vitdet_l_100ep.py (detectron2 projects/ViTDet)   |
| init                      | pretrained/eva02_L_pt_in21k_p14to16.pt (eva02)                            | baaivision/EVA EVA-02/det README (MIM pre-trained, IN-21K)                |
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_l_100ep import dataloader, lr_multiplier, optimizer, train
from .._eva02 import apply_eva02

apply_eva02("l", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_eva02_l_100ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

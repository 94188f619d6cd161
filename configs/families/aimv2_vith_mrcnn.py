"""AIMv2 H/14 Mask R-CNN, the Benchmarking recipe (``configs/mae_vitl_mrcnn.py``) on the timm trunk.

| setting              | value                                                                              | source                                          |
|----------------------|------------------------------------------------------------------------------------|-------------------------------------------------|
| detector / data      | BN FPN Mask R-CNN with the multi-scale adaptor; LSJ 1024, batch 64                 | Li et al. 2021, as configs/mae_vitl_mrcnn.py    |
| schedule / optimizer | 100 epochs, 250-iter warm-up, x0.1 at 88.9% and 96.3%; AdamW wd 0.1                | Li et al. 2021, as configs/mae_vitl_mrcnn.py    |
| trunk                | timm aimv2_huge_patch14_224.apple_pt, 24 blocks                                    | configs/families/_aimv2.py                      |
| windows              | 14x14; global and tapped blocks 5/11/17/23                                         | Li et al. 2021 (last block of each quarter)     |
| patch                | 14, kernel resampled to 16 at load (64x64 tokens at 1024)                          | TimmTrunk patch_route="resample16"              |
| positions            | no class token; 16x16 table (224/14); table resized to the 64x64 grid once at load | timm model; Li et al. 2021 (interpolated table) |
| pixel mean / std     | 122.77 116.75 104.09 / 68.50 66.63 70.32 (OpenAI CLIP stats x 255)                 | timm pretrained_cfg (apple_pt)                  |
| lr                   | 1e-4                                                                               | not published for AIMv2: ViTDet MAE ViT-H       |
| layer decay          | 0.9 over 24 blocks                                                                 | not published for AIMv2: ViTDet MAE ViT-H       |
| drop path            | 0.5                                                                                | not published for AIMv2: ViTDet MAE ViT-H       |
| init                 | apple/aimv2-huge-patch14-224 model.safetensors (aimv2)                             | configs/families/_aimv2.py                      |

No published COCO result of this family in this recipe.
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitl_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._aimv2 import apply_aimv2

apply_aimv2("h", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/aimv2_vith_mrcnn"

"""SigLIP 2 SO400M/14 Mask R-CNN, the Benchmarking recipe (``configs/mae_vitl_mrcnn.py``) on the timm trunk.

| setting              | value                                                                              | source                                                                       |
|----------------------|------------------------------------------------------------------------------------|------------------------------------------------------------------------------|
| detector / data      | BN FPN Mask R-CNN with the multi-scale adaptor; LSJ 1024, batch 64                 | Li et al. 2021, as configs/mae_vitl_mrcnn.py                                 |
| schedule / optimizer | 100 epochs, 250-iter warm-up, x0.1 at 88.9% and 96.3%; AdamW wd 0.1                | Li et al. 2021, as configs/mae_vitl_mrcnn.py                                 |
| trunk                | timm vit_so400m_patch14_siglip_224.v2_webli, 27 blocks                             | configs/families/_siglip2.py                                                 |
| windows              | 14x14; global and tapped blocks 6/13/20/26                                         | 27 blocks: ends of quarters of 7, 7, 7, 6 (not published)                    |
| patch                | 14, kernel resampled to 16 at load (64x64 tokens at 1024)                          | TimmTrunk patch_route="resample16"                                           |
| positions            | no class token; 16x16 table (224/14); table resized to the 64x64 grid once at load | timm model; Li et al. 2021 (interpolated table)                              |
| pixel mean / std     | 127.5 / 127.5 (0.5 / 0.5 x 255)                                                    | timm pretrained_cfg (v2_webli)                                               |
| lr                   | 1e-4                                                                               | not published for SigLIP 2: ViTDet MAE ViT-H (sizes above L take H's values) |
| layer decay          | 0.9 over 27 blocks                                                                 | not published for SigLIP 2: ViTDet MAE ViT-H (sizes above L take H's values) |
| drop path            | 0.5                                                                                | not published for SigLIP 2: ViTDet MAE ViT-H (sizes above L take H's values) |
| init                 | google/siglip2-so400m-patch14-224 model.safetensors (siglip2_hf)                   | configs/families/_siglip2.py                                                 |

No published COCO result of this family in this recipe.
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitl_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._siglip2 import apply_siglip2

apply_siglip2("so400m", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/siglip2_vitso400m_mrcnn"

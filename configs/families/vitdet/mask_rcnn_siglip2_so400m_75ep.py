"""SigLIP 2 SO400M/14 Mask R-CNN, the ViTDet recipe (``configs/vitdet/mask_rcnn_vitdet_h_75ep.py``) on the timm trunk.

| setting              | value                                                                                                | source                                                                       |
|----------------------|------------------------------------------------------------------------------------------------------|------------------------------------------------------------------------------|
| detector / data      | ViTDet simple feature pyramid (LN), LN heads; LSJ 1024, batch 64                                     | ViTDet, as configs/vitdet/mask_rcnn_vitdet_h_75ep.py                         |
| schedule / optimizer | 75 epochs (138281 iters at batch 64), x0.1 at 122916 and 133159; weight decay 0.1 on every parameter | ViTDet, as configs/vitdet/mask_rcnn_vitdet_h_75ep.py                         |
| trunk                | timm vit_so400m_patch14_siglip_224.v2_webli, 27 blocks; the pyramid reads block 26                   | configs/families/_siglip2.py                                                 |
| windows              | 14x14; global blocks 6/13/20/26                                                                      | 27 blocks: ends of quarters of 7, 7, 7, 6 (not published)                    |
| patch                | 14, kernel resampled to 16 at load (64x64 tokens at 1024)                                            | TimmTrunk patch_route="resample16"                                           |
| positions            | no class token; 16x16 table (224/14); table kept at the pre-training grid, resized every forward     | timm model; ViTDet (pos_embed_grid="pretrain")                               |
| pixel mean / std     | 127.5 / 127.5 (0.5 / 0.5 x 255)                                                                      | timm pretrained_cfg (v2_webli)                                               |
| lr                   | 1e-4                                                                                                 | not published for SigLIP 2: ViTDet MAE ViT-H (sizes above L take H's values) |
| layer decay          | 0.9 over 27 blocks                                                                                   | not published for SigLIP 2: ViTDet MAE ViT-H (sizes above L take H's values) |
| drop path            | 0.5                                                                                                  | not published for SigLIP 2: ViTDet MAE ViT-H (sizes above L take H's values) |
| init                 | google/siglip2-so400m-patch14-224 model.safetensors (siglip2_hf)                                     | configs/families/_siglip2.py                                                 |

No published COCO result of this family in this recipe.
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_h_75ep import dataloader, lr_multiplier, optimizer, train
from .._siglip2 import apply_siglip2

apply_siglip2("so400m", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_siglip2_so400m_75ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

"""SigLIP 2 ViT-L/16 Mask R-CNN, the ViTDet recipe (``configs/vitdet/mask_rcnn_vitdet_l_100ep.py``) on the timm trunk.

| setting              | value                                                                                                      | source                                                |
|----------------------|------------------------------------------------------------------------------------------------------------|-------------------------------------------------------|
| detector / data      | ViTDet simple feature pyramid (LN), LN heads; LSJ 1024, batch 64                                           | ViTDet, as configs/vitdet/mask_rcnn_vitdet_l_100ep.py |
| schedule / optimizer | 100 epochs (184375 iters at batch 64), x0.1 at 163889 and 177546; no decay on pos_embed and torch.nn norms | ViTDet, as configs/vitdet/mask_rcnn_vitdet_l_100ep.py |
| trunk                | timm vit_large_patch16_siglip_256.v2_webli, 24 blocks; the pyramid reads block 23                          | configs/families/_siglip2.py                          |
| windows              | 14x14; global blocks 5/11/17/23                                                                            | ViTDet (last block of each quarter)                   |
| patch                | 16                                                                                                         | timm model                                            |
| positions            | no class token; 16x16 table (256/16); table kept at the pre-training grid, resized every forward           | timm model; ViTDet (pos_embed_grid="pretrain")        |
| pixel mean / std     | 127.5 / 127.5 (0.5 / 0.5 x 255)                                                                            | timm pretrained_cfg (v2_webli)                        |
| lr                   | 1e-4                                                                                                       | not published for SigLIP 2: ViTDet MAE ViT-L          |
| layer decay          | 0.8 over 24 blocks                                                                                         | not published for SigLIP 2: ViTDet MAE ViT-L          |
| drop path            | 0.4                                                                                                        | not published for SigLIP 2: ViTDet MAE ViT-L          |
| init                 | google/siglip2-large-patch16-256 model.safetensors (siglip2_hf)                                            | configs/families/_siglip2.py                          |

No published COCO result of this family in this recipe.
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_l_100ep import dataloader, lr_multiplier, optimizer, train
from .._siglip2 import apply_siglip2

apply_siglip2("l", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_siglip2_l_100ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

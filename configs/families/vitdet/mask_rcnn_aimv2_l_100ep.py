"""AIMv2 L/14 Mask R-CNN, the ViTDet recipe (``configs/vitdet/mask_rcnn_vitdet_l_100ep.py``) on the timm trunk.

| setting              | value                                                                                                                                          | source                                                |
|----------------------|------------------------------------------------------------------------------------------------------------------------------------------------|-------------------------------------------------------|
| detector / data      | ViTDet simple feature pyramid (LN), LN heads; LSJ 1024, batch 64                                                                               | ViTDet, as configs/vitdet/mask_rcnn_vitdet_l_100ep.py |
| schedule / optimizer | 100 epochs (184375 iters at batch 64), x0.1 at 163889 and 177546; no decay on pos_embed and torch.nn norms; timm's RmsNorm is not one: decayed | ViTDet, as configs/vitdet/mask_rcnn_vitdet_l_100ep.py |
| trunk                | timm aimv2_large_patch14_224.apple_pt, 24 blocks; the pyramid reads block 23                                                                   | configs/families/_aimv2.py                            |
| windows              | 14x14; global blocks 5/11/17/23                                                                                                                | ViTDet (last block of each quarter)                   |
| patch                | 14, kernel resampled to 16 at load (64x64 tokens at 1024)                                                                                      | TimmTrunk patch_route="resample16"                    |
| positions            | no class token; 16x16 table (224/14); table kept at the pre-training grid, resized every forward                                               | timm model; ViTDet (pos_embed_grid="pretrain")        |
| pixel mean / std     | 122.77 116.75 104.09 / 68.50 66.63 70.32 (OpenAI CLIP stats x 255)                                                                             | timm pretrained_cfg (apple_pt)                        |
| lr                   | 1e-4                                                                                                                                           | not published for AIMv2: ViTDet MAE ViT-L             |
| layer decay          | 0.8 over 24 blocks                                                                                                                             | not published for AIMv2: ViTDet MAE ViT-L             |
| drop path            | 0.4                                                                                                                                            | not published for AIMv2: ViTDet MAE ViT-L             |
| init                 | apple/aimv2-large-patch14-224 model.safetensors (aimv2)                                                                                        | configs/families/_aimv2.py                            |

No published COCO result of this family in this recipe.
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_l_100ep import dataloader, lr_multiplier, optimizer, train
from .._aimv2 import apply_aimv2

apply_aimv2("l", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_aimv2_l_100ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

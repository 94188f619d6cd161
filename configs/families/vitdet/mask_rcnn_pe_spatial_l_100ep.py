"""PE-Spatial L/14 Mask R-CNN, the ViTDet recipe (``configs/vitdet/mask_rcnn_vitdet_l_100ep.py``) on the timm trunk.

| setting              | value                                                                                                                                 | source                                                |
|----------------------|---------------------------------------------------------------------------------------------------------------------------------------|-------------------------------------------------------|
| detector / data      | ViTDet simple feature pyramid (LN), LN heads; LSJ 1024, batch 64                                                                      | ViTDet, as configs/vitdet/mask_rcnn_vitdet_l_100ep.py |
| schedule / optimizer | 100 epochs (184375 iters at batch 64), x0.1 at 163889 and 177546; no decay on pos_embed and torch.nn norms                            | ViTDet, as configs/vitdet/mask_rcnn_vitdet_l_100ep.py |
| trunk                | timm vit_pe_spatial_large_patch14_448.fb, 24 blocks; the pyramid reads block 23                                                       | configs/families/_pe_spatial.py                       |
| windows              | 14x14; global blocks 5/11/17/23                                                                                                       | ViTDet (last block of each quarter)                   |
| patch                | 14, kernel resampled to 16 at load (64x64 tokens at 1024)                                                                             | TimmTrunk patch_route="resample16"                    |
| positions            | 2D RoPE (partitioned with the windows) + 32x32 table; class token dropped; table kept at the pre-training grid, resized every forward | timm model; ViTDet (pos_embed_grid="pretrain")        |
| pixel mean / std     | 127.5 / 127.5 (0.5 / 0.5 x 255)                                                                                                       | timm pretrained_cfg (fb)                              |
| lr                   | 1e-4                                                                                                                                  | not published for PE-Spatial: ViTDet MAE ViT-L        |
| layer decay          | 0.8 over 24 blocks                                                                                                                    | not published for PE-Spatial: ViTDet MAE ViT-L        |
| drop path            | 0.4                                                                                                                                   | not published for PE-Spatial: ViTDet MAE ViT-L        |
| init                 | facebook/PE-Spatial-L14-448 PE-Spatial-L14-448.pt (pe)                                                                                | configs/families/_pe_spatial.py                       |

No published COCO result of this family in this recipe.
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_l_100ep import dataloader, lr_multiplier, optimizer, train
from .._pe_spatial import apply_pe_spatial

apply_pe_spatial("l", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_pe_spatial_l_100ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

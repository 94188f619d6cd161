"""PE-Spatial B/16 Mask R-CNN, the ViTDet recipe (``configs/vitdet/mask_rcnn_vitdet_b_100ep.py``) on the timm trunk.

| setting              | value                                                                                                                                 | source                                                |
|----------------------|---------------------------------------------------------------------------------------------------------------------------------------|-------------------------------------------------------|
| detector / data      | ViTDet simple feature pyramid (LN), LN heads; LSJ 1024, batch 64                                                                      | ViTDet, as configs/vitdet/mask_rcnn_vitdet_b_100ep.py |
| schedule / optimizer | 100 epochs (184375 iters at batch 64), x0.1 at 163889 and 177546; no decay on pos_embed and torch.nn norms                            | ViTDet, as configs/vitdet/mask_rcnn_vitdet_b_100ep.py |
| trunk                | timm vit_pe_spatial_base_patch16_512.fb, 12 blocks; the pyramid reads block 11                                                        | configs/families/_pe_spatial.py                       |
| windows              | 14x14; global blocks 2/5/8/11                                                                                                         | ViTDet (last block of each quarter)                   |
| patch                | 16                                                                                                                                    | timm model                                            |
| positions            | 2D RoPE (partitioned with the windows) + 32x32 table; class token dropped; table kept at the pre-training grid, resized every forward | timm model; ViTDet (pos_embed_grid="pretrain")        |
| pixel mean / std     | 127.5 / 127.5 (0.5 / 0.5 x 255)                                                                                                       | timm pretrained_cfg (fb)                              |
| lr                   | 1e-4                                                                                                                                  | not published for PE-Spatial: ViTDet MAE ViT-B        |
| layer decay          | 0.7 over 12 blocks                                                                                                                    | not published for PE-Spatial: ViTDet MAE ViT-B        |
| drop path            | 0.1                                                                                                                                   | not published for PE-Spatial: ViTDet MAE ViT-B        |
| init                 | facebook/PE-Spatial-B16-512 PE-Spatial-B16-512.pt (pe)                                                                                | configs/families/_pe_spatial.py                       |

No published COCO result of this family in this recipe.
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, optimizer, train
from .._pe_spatial import apply_pe_spatial

apply_pe_spatial("b", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_pe_spatial_b_100ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

"""PE-Spatial G/14 Mask R-CNN, the ViTDet recipe (``configs/vitdet/mask_rcnn_vitdet_h_75ep.py``) on the timm trunk.

| setting              | value                                                                                                                                        | source                                                                                                             |
|----------------------|----------------------------------------------------------------------------------------------------------------------------------------------|--------------------------------------------------------------------------------------------------------------------|
| detector / data      | ViTDet simple feature pyramid (LN), LN heads; LSJ 1024, batch 64                                                                             | ViTDet, as configs/vitdet/mask_rcnn_vitdet_h_75ep.py                                                               |
| schedule / optimizer | 75 epochs (138281 iters at batch 64), x0.1 at 122916 and 133159; weight decay 0.1 on every parameter                                         | ViTDet, as configs/vitdet/mask_rcnn_vitdet_h_75ep.py; PE-Spatial-G's own LVIS config is the same 75-epoch schedule |
| trunk                | timm vit_pe_spatial_gigantic_patch14_448.fb, 50 blocks; the pyramid reads block 49                                                           | configs/families/_pe_spatial.py                                                                                    |
| windows              | 14x14; global blocks 12/24/36/49                                                                                                             | PE's LVIS config mask_rcnn_PEspatial_G_lvis75ep.py (see _pe_spatial.py)                                            |
| patch                | 14, kernel resampled to 16 at load (64x64 tokens at 1024, as PE's detection configs)                                                         | TimmTrunk patch_route="resample16"                                                                                 |
| positions            | 2D RoPE (partitioned with the windows) + 32x32 table; no class token; LayerScale; table kept at the pre-training grid, resized every forward | timm model; ViTDet (pos_embed_grid="pretrain")                                                                     |
| pixel mean / std     | 127.5 / 127.5 (0.5 / 0.5 x 255)                                                                                                              | timm pretrained_cfg (fb)                                                                                           |
| lr                   | 5e-5                                                                                                                                         | PE's LVIS config mask_rcnn_PEspatial_G_lvis75ep.py (see _pe_spatial.py)                                            |
| layer decay          | 0.9 over 50 blocks                                                                                                                           | PE's LVIS config mask_rcnn_PEspatial_G_lvis75ep.py (see _pe_spatial.py)                                            |
| drop path            | 0.5                                                                                                                                          | PE's LVIS config mask_rcnn_PEspatial_G_lvis75ep.py (see _pe_spatial.py)                                            |
| init                 | facebook/PE-Spatial-G14-448 PE-Spatial-G14-448.pt (pe)                                                                                       | configs/families/_pe_spatial.py                                                                                    |

Published with PE's own detector (window 32, relative positions, tiled table; see _pe_spatial.py): 54.2 box / 49.3 mask AP on LVIS v1 val (75 ep), 57.8 / 50.3 on COCO val2017 (36 ep), facebookresearch/perception_models apps/detection README.
"""
from ...common.mask_rcnn_vitdet_timm import model
from ...vitdet.mask_rcnn_vitdet_h_75ep import dataloader, lr_multiplier, optimizer, train
from .._pe_spatial import apply_pe_spatial

apply_pe_spatial("g", model, optimizer, train, recipe="vitdet")
train.output_dir = "./output/mask_rcnn_pe_spatial_g_75ep"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

"""PE-Spatial G/14 Mask R-CNN, the Benchmarking recipe (``configs/mae_vitl_mrcnn.py``) on the timm trunk.

| setting              | value                                                                                                                          | source                                                                  |
|----------------------|--------------------------------------------------------------------------------------------------------------------------------|-------------------------------------------------------------------------|
| detector / data      | BN FPN Mask R-CNN with the multi-scale adaptor; LSJ 1024, batch 64                                                             | Li et al. 2021, as configs/mae_vitl_mrcnn.py                            |
| schedule / optimizer | 100 epochs, 250-iter warm-up, x0.1 at 88.9% and 96.3%; AdamW wd 0.1                                                            | Li et al. 2021, as configs/mae_vitl_mrcnn.py                            |
| trunk                | timm vit_pe_spatial_gigantic_patch14_448.fb, 50 blocks                                                                         | configs/families/_pe_spatial.py                                         |
| windows              | 14x14; global and tapped blocks 12/24/36/49                                                                                    | PE's LVIS config mask_rcnn_PEspatial_G_lvis75ep.py (see _pe_spatial.py) |
| patch                | 14, kernel resampled to 16 at load (64x64 tokens at 1024, as PE's detection configs)                                           | TimmTrunk patch_route="resample16"                                      |
| positions            | 2D RoPE (partitioned with the windows) + 32x32 table; no class token; LayerScale; table resized to the 64x64 grid once at load | timm model; Li et al. 2021 (interpolated table)                         |
| pixel mean / std     | 127.5 / 127.5 (0.5 / 0.5 x 255)                                                                                                | timm pretrained_cfg (fb)                                                |
| lr                   | 5e-5                                                                                                                           | PE's LVIS config mask_rcnn_PEspatial_G_lvis75ep.py (see _pe_spatial.py) |
| layer decay          | 0.9 over 50 blocks                                                                                                             | PE's LVIS config mask_rcnn_PEspatial_G_lvis75ep.py (see _pe_spatial.py) |
| drop path            | 0.5                                                                                                                            | PE's LVIS config mask_rcnn_PEspatial_G_lvis75ep.py (see _pe_spatial.py) |
| init                 | facebook/PE-Spatial-G14-448 PE-Spatial-G14-448.pt (pe)                                                                         | configs/families/_pe_spatial.py                                         |

No published COCO result of this family in this recipe.
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitl_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._pe_spatial import apply_pe_spatial

apply_pe_spatial("g", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/pe_spatial_vitg_mrcnn"

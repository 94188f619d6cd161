"""PE-Spatial B/16 Mask R-CNN, the Benchmarking recipe (``configs/mae_vitb_mrcnn.py``) on the timm trunk.

| setting              | value                                                                                                                   | source                                          |
|----------------------|-------------------------------------------------------------------------------------------------------------------------|-------------------------------------------------|
| detector / data      | BN FPN Mask R-CNN with the multi-scale adaptor; LSJ 1024, batch 64                                                      | Li et al. 2021, as configs/mae_vitb_mrcnn.py    |
| schedule / optimizer | 100 epochs, 250-iter warm-up, x0.1 at 88.9% and 96.3%; AdamW wd 0.1                                                     | Li et al. 2021, as configs/mae_vitb_mrcnn.py    |
| trunk                | timm vit_pe_spatial_base_patch16_512.fb, 12 blocks                                                                      | configs/families/_pe_spatial.py                 |
| windows              | 14x14; global and tapped blocks 2/5/8/11                                                                                | Li et al. 2021 (last block of each quarter)     |
| patch                | 16                                                                                                                      | timm model                                      |
| positions            | 2D RoPE (partitioned with the windows) + 32x32 table; class token dropped; table resized to the 64x64 grid once at load | timm model; Li et al. 2021 (interpolated table) |
| pixel mean / std     | 127.5 / 127.5 (0.5 / 0.5 x 255)                                                                                         | timm pretrained_cfg (fb)                        |
| lr                   | 1e-4                                                                                                                    | not published for PE-Spatial: ViTDet MAE ViT-B  |
| layer decay          | 0.7 over 12 blocks                                                                                                      | not published for PE-Spatial: ViTDet MAE ViT-B  |
| drop path            | 0.1                                                                                                                     | not published for PE-Spatial: ViTDet MAE ViT-B  |
| init                 | facebook/PE-Spatial-B16-512 PE-Spatial-B16-512.pt (pe)                                                                  | configs/families/_pe_spatial.py                 |

No published COCO result of this family in this recipe.
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._pe_spatial import apply_pe_spatial

apply_pe_spatial("b", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/pe_spatial_vitb_mrcnn"

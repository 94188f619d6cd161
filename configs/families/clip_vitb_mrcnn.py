"""OpenAI CLIP ViT-B/16 Mask R-CNN, the Benchmarking recipe (``configs/mae_vitb_mrcnn.py``) on the timm trunk.

| setting              | value                                                                                       | source                                          |
|----------------------|---------------------------------------------------------------------------------------------|-------------------------------------------------|
| detector / data      | BN FPN Mask R-CNN with the multi-scale adaptor; LSJ 1024, batch 64                          | Li et al. 2021, as configs/mae_vitb_mrcnn.py    |
| schedule / optimizer | 100 epochs, 250-iter warm-up, x0.1 at 88.9% and 96.3%; AdamW wd 0.1                         | Li et al. 2021, as configs/mae_vitb_mrcnn.py    |
| trunk                | timm vit_base_patch16_clip_quickgelu_224.openai, 12 blocks                                  | configs/families/_clip.py                       |
| windows              | 14x14; global and tapped blocks 2/5/8/11                                                    | Li et al. 2021 (last block of each quarter)     |
| patch                | 16                                                                                          | timm model                                      |
| positions            | 14x14 table + class slot; class token dropped; table resized to the 64x64 grid once at load | timm model; Li et al. 2021 (interpolated table) |
| pixel mean / std     | 122.77 116.75 104.09 / 68.50 66.63 70.32 (OpenAI CLIP stats x 255)                          | timm pretrained_cfg (openai)                    |
| lr                   | 1e-4                                                                                        | not published for OpenAI CLIP: ViTDet MAE ViT-B |
| layer decay          | 0.7 over 12 blocks                                                                          | not published for OpenAI CLIP: ViTDet MAE ViT-B |
| drop path            | 0.1                                                                                         | not published for OpenAI CLIP: ViTDet MAE ViT-B |
| init                 | openai/CLIP ViT-B/16 as a state dict, ViT-B-16.state_dict.pt (openai_clip; see _clip.py)    | configs/families/_clip.py                       |

No published COCO result of this family in this recipe.
"""
from ..common.mask_rcnn_timm import model
from ..mae_vitb_mrcnn import dataloader, lr_multiplier, optimizer, train
from ._clip import apply_clip

apply_clip("b", model, optimizer, train, recipe="benchmarking")
train.output_dir = "./output/clip_vitb_mrcnn"

"""ViTDet, ViT-H Mask R-CNN from MAE on LVIS v1, 100 epochs (``projects/ViTDet/configs/LVIS/mask_rcnn_vitdet_h_100ep.py``).

As ``mask_rcnn_vitdet_b_100ep.py`` here (LVIS data and its 100-epoch schedule: upstream
trains ViT-H 100 epochs on LVIS, 75 on COCO) but, each value from that upstream file:

| setting      | value                                                        |
|--------------|--------------------------------------------------------------|
| backbone     | ViT-H/16 (1280-d, 32 blocks, 16 heads), global 7/15/23/31, drop path 0.4 (COCO: 0.5) |
| lr           | 1e-4 (the LVIS ViT-B/L: 2e-4)                                |
| layer decay  | 0.9 over 32 blocks                                           |
| weight decay | 0.1 on everything (``overrides = {}``, ``weight_decay_norm = None``) |
| init         | ``mae_pretrain_vit_huge_p14to16.pth``                        |

Published (projects/ViTDet README, LVIS v1 val): 49.1 box / 46.0 mask AP.
"""
from ..common.mask_rcnn_vitdet import set_vit
from .mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, model, optimizer, train

set_vit(model, embed_dim=1280, depth=32, num_heads=16, drop_path_rate=0.4,
        global_blocks=(7, 15, 23, 31))
optimizer.lr = 1e-4
optimizer.params.layer_decay = 0.9
optimizer.params.num_layers = 32
optimizer.params.no_weight_decay_names = ()
optimizer.params.weight_decay_norm = None

train.init_checkpoint = "pretrained/mae_pretrain_vit_huge_p14to16.pth"
train.output_dir = "./output/lvis_mask_rcnn_vitdet_h_100ep"
train.vitdet_bench = dict(init="mae", model_size="H", epochs=100, recipe="vitdet",
                          dataset="lvis_v1")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

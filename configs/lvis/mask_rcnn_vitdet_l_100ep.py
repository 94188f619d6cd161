"""ViTDet, ViT-L Mask R-CNN from MAE on LVIS v1, 100 epochs (``projects/ViTDet/configs/LVIS/mask_rcnn_vitdet_l_100ep.py``).

As ``mask_rcnn_vitdet_b_100ep.py`` here (LVIS data, schedule, lr 2e-4) but ViT-L/16
(1024-d, 24 blocks, 16 heads), global blocks 5/11/17/23, drop path 0.4, layer decay 0.8
over 24 blocks, init ``mae_pretrain_vit_large.pth``: each value from that upstream file.

Published (projects/ViTDet README, LVIS v1 val): 46.1 box / 43.6 mask AP.
"""
from ..common.mask_rcnn_vitdet import set_vit
from .mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, model, optimizer, train

set_vit(model, embed_dim=1024, depth=24, num_heads=16, drop_path_rate=0.4,
        global_blocks=(5, 11, 17, 23))
optimizer.params.layer_decay = 0.8
optimizer.params.num_layers = 24

train.init_checkpoint = "pretrained/mae_pretrain_vit_large.pth"
train.output_dir = "./output/lvis_mask_rcnn_vitdet_l_100ep"
train.vitdet_bench = dict(init="mae", model_size="L", epochs=100, recipe="vitdet",
                          dataset="lvis_v1")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

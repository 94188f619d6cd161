"""ViTDet, ViT-H Mask R-CNN from MAE, 75 epochs (``projects/ViTDet/configs/COCO/mask_rcnn_vitdet_h_75ep.py``).

As mask_rcnn_vitdet_b_100ep.py but:

| setting      | value                                                        |
|--------------|--------------------------------------------------------------|
| backbone     | ViT-H/16 (1280-d, 32 blocks, 16 heads), global 7/15/23/31, drop path 0.5 |
| layer decay  | 0.9 over 32 blocks                                           |
| weight decay | 0.1 on everything: upstream clears the pos_embed override and sets weight_decay_norm=None |
| schedule     | 75 epochs: 138281 iters, x0.1 at 122916 and 133159 (3/4 of the 100-epoch values); warm-up fraction unchanged (250/184375, i.e. ~187 iters) |
| init         | MAE ViT-H is patch 14: upstream trains from ``mae_pretrain_vit_huge_p14to16.pth``. The MAE file ``mae_pretrain_vit_huge.pth`` loads too: the loader resizes the 14x14 patch kernel to 16x16 (bicubic) and the 16x16 position grid to 14x14, and reports both |

Published (projects/ViTDet README, 64 A100): 56.7 box / 50.2 mask AP; released
detector ``model_final_7224f1.pkl`` (model id 329145471).
"""
from ..common.mask_rcnn_vitdet import set_vit
from .mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, model, optimizer, train

set_vit(model, embed_dim=1280, depth=32, num_heads=16, drop_path_rate=0.5,
        global_blocks=(7, 15, 23, 31))
optimizer.params.layer_decay = 0.9
optimizer.params.num_layers = 32
optimizer.params.no_weight_decay_names = ()
optimizer.params.weight_decay_norm = None

train.max_iter = 184375 * 3 // 4  # 100ep -> 75ep
lr_multiplier.scheduler.milestones = [m * 3 // 4 for m in (163889, 177546)]
lr_multiplier.scheduler.num_updates = train.max_iter
# Upstream leaves warmup_length at 250 / 184375 of the now shorter schedule: ~187 iterations.
lr_multiplier.warmup_length = 250 / 184375
train.warmup_iters = None  # keep that fraction (the trainer would set 250 / max_iter)

train.init_checkpoint = "pretrained/mae_pretrain_vit_huge_p14to16.pth"
train.output_dir = "./output/mask_rcnn_vitdet_h_75ep"
train.vitdet_bench = dict(init="mae", model_size="H", epochs=75, recipe="vitdet")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

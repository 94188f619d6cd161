"""ViTDet, ViT-B Mask R-CNN from MAE on LVIS v1, 100 epochs: detectron2 ``projects/ViTDet``.

Reproduces ``projects/ViTDet/configs/LVIS/mask_rcnn_vitdet_b_100ep.py``: the COCO recipe of
``configs/vitdet/mask_rcnn_vitdet_b_100ep.py`` (backbone, LSJ 1024 data, batch 64, AdamW,
layer decay 0.7, AMP) with the LVIS changes of ``configs/common/lvis.py`` (1203 classes,
repeat-factor sampling at 0.001, federated loss, score threshold 0.02, 300 detections,
federated AP) and upstream's LVIS schedule:

| setting   | value                                                          | upstream source        |
|-----------|----------------------------------------------------------------|------------------------|
| schedule  | 156250 iters (100 ep = 156250 * 64 / 100k images); x0.1 at 138889 and 150463; 250-iter warm-up | LVIS/mask_rcnn_vitdet_b_100ep.py |
| lr        | 2e-4 (COCO: 1e-4)                                              | same file              |
| eval      | every 30000 iters                                              | same file              |

Published (projects/ViTDet README, LVIS v1 val): 40.2 box / 38.2 mask AP.
"""
from ..common.lvis import to_lvis
from ..vitdet.mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, model, optimizer, train

to_lvis(dataloader, model)

# Schedule: 100 ep = 156250 iters * 64 images/iter / 100000 images/ep (upstream's comment)
train.max_iter = 156250
train.eval_period = 30000
lr_multiplier.scheduler.milestones = [138889, 150463]
lr_multiplier.scheduler.num_updates = train.max_iter
lr_multiplier.warmup_length = 250 / train.max_iter

optimizer.lr = 2e-4

train.output_dir = "./output/lvis_mask_rcnn_vitdet_b_100ep"
train.vitdet_bench = dict(train.vitdet_bench, dataset="lvis_v1")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

"""ViTDet, ViT-H Cascade Mask R-CNN from MAE on LVIS v1, 100 epochs: detectron2 ``projects/ViTDet``.

Reproduces ``projects/ViTDet/configs/LVIS/cascade_mask_rcnn_vitdet_h_100ep.py``: the LVIS
Mask R-CNN recipe of ``mask_rcnn_vitdet_h_100ep.py`` here (data, schedule, optimizer,
federated loss, score threshold 0.02, 300 detections) with the cascade heads of
``configs/common/cascade.py`` (three stages at IoU 0.5/0.6/0.7, 4conv1fc LN box heads,
class-agnostic regression); every stage's predictor keeps the federated loss, as upstream's.
Published (projects/ViTDet README, LVIS v1 val): 51.5 box / 46.6 mask AP.
"""
from ..common.cascade import to_cascade
from .mask_rcnn_vitdet_h_100ep import dataloader, lr_multiplier, model, optimizer, train

to_cascade(model)
train.output_dir = "./output/lvis_cascade_mask_rcnn_vitdet_h_100ep"
train.vitdet_bench = dict(train.vitdet_bench, detector="cascade")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

"""ViTDet, ViT-B Cascade Mask R-CNN from MAE, 100 epochs: detectron2 ``projects/ViTDet``.

Reproduces ``projects/ViTDet/configs/COCO/cascade_mask_rcnn_vitdet_b_100ep.py``: the
Mask R-CNN recipe of ``mask_rcnn_vitdet_b_100ep.py`` (data, schedule, optimizer) with
the cascade heads of ``configs/common/cascade.py`` (three stages at IoU 0.5/0.6/0.7,
4conv1fc LN box heads, class-agnostic regression). Published (projects/ViTDet README):
54.0 box / 46.7 mask AP on COCO val2017.
"""
from ..common.cascade import to_cascade
from .mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, model, optimizer, train

to_cascade(model)
train.output_dir = "./output/cascade_mask_rcnn_vitdet_b_100ep"
train.vitdet_bench = dict(train.vitdet_bench, detector="cascade")

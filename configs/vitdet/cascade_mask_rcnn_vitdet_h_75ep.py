"""ViTDet, ViT-H Cascade Mask R-CNN from MAE, 75 epochs: detectron2 ``projects/ViTDet``.

Reproduces ``projects/ViTDet/configs/COCO/cascade_mask_rcnn_vitdet_h_75ep.py`` (ViT-H is
trained 75 epochs upstream, as its Mask R-CNN): the recipe of
``mask_rcnn_vitdet_h_75ep.py`` with the cascade heads of ``configs/common/cascade.py``.
Published (projects/ViTDet README): 58.7 box / 51.0 mask AP on COCO val2017.
"""
from ..common.cascade import to_cascade
from .mask_rcnn_vitdet_h_75ep import dataloader, lr_multiplier, model, optimizer, train

to_cascade(model)
train.output_dir = "./output/cascade_mask_rcnn_vitdet_h_75ep"
train.vitdet_bench = dict(train.vitdet_bench, detector="cascade")

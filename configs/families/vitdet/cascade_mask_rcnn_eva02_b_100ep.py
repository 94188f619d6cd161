"""EVA-02 B/14 Cascade Mask R-CNN, the ViTDet recipe, 100 epochs.

The Mask R-CNN of ``mask_rcnn_eva02_b_100ep.py`` (its recipe table holds every value and its
source) with ViTDet's cascade heads (``configs/common/cascade.py``: three stages at IoU
0.5 / 0.6 / 0.7, 4conv1fc LN box heads, class-agnostic regression), as
``configs/vitdet/cascade_mask_rcnn_vitdet_b_100ep.py`` does for MAE.

EVA-02's published COCO numbers are of this detector (baaivision/EVA ``EVA-02/det``
README, val2017, 1024 LSJ, ``eva2_coco_cascade_mask_rcnn_vitdet_b_4attn_1024_lrd0p7.py``):
55.5 box / 47.1 mask AP (``eva02_B_coco_bsl``, from ``eva02_B_pt_in21k_p14to16``, the
file of this config).
They were trained with EVA-02's own schedule (batch 128, 60k iterations, window size
16), which is not copied here: the schedule is ViTDet's 100 epochs at batch 64, as for
every family.
"""
from ...common.cascade import to_cascade
from .mask_rcnn_eva02_b_100ep import dataloader, lr_multiplier, model, optimizer, train

to_cascade(model)
train.output_dir = "./output/cascade_mask_rcnn_eva02_b_100ep"
train.vitdet_bench = dict(train.vitdet_bench, detector="cascade")

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]

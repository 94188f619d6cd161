"""Cascade Mask R-CNN from any family's Mask R-CNN config: one helper, no file per family.

ViTDet's cascade (detectron2 ``projects/ViTDet/configs/COCO/cascade_mask_rcnn_vitdet_*``),
built from detectron2's ``CascadeROIHeads``:

* three stages matched at IoU 0.5 / 0.6 / 0.7 (no low-quality matches), box
  regression weights (10, 10, 5, 5), (20, 20, 10, 10), (30, 30, 15, 15);
* class-agnostic box regression in every stage; each stage's loss gradient scaled
  by 1/3 into the shared features (CascadeROIHeads' stage weighting);
* each stage its own box head, a copy of the family's: 4conv1fc with LayerNorm
  for ViTDet, with BatchNorm for the Benchmarking detector (the paper's recipe);
* the family's mask head (4 convs) on the last stage's boxes, as CascadeROIHeads does.

Usage in a config, after the family's Mask R-CNN is complete (sizes, classes)::

    from ..common.cascade import to_cascade
    to_cascade(model)
"""
import copy

from detectron2.config import LazyCall as L
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.roi_heads import CascadeROIHeads

CASCADE_IOUS = (0.5, 0.6, 0.7)
CASCADE_BBOX_REG_WEIGHTS = ((10, 10, 5, 5), (20, 20, 10, 10), (30, 30, 15, 15))


def to_cascade(model, ious=CASCADE_IOUS, bbox_reg_weights=CASCADE_BBOX_REG_WEIGHTS):
    """Turn ``model`` (a LazyConfig Mask R-CNN with ``StandardROIHeads``) into its Cascade
    Mask R-CNN in place; returns it. The stages' heads and predictors are copies of the
    model's ``box_head`` / ``box_predictor`` (their norm, sizes and predictor class, e.g.
    the federated loss, carry over)."""
    rh = model.roi_heads
    for key in ("box_head", "box_predictor", "proposal_matcher"):
        if key not in rh:
            raise ValueError(f"to_cascade: model.roi_heads has no {key!r}; expected a Mask R-CNN "
                             "config with StandardROIHeads (is it a cascade already?).")
    if len(ious) != len(bbox_reg_weights):
        raise ValueError(f"to_cascade: {len(ious)} IoU thresholds but {len(bbox_reg_weights)} "
                         "box-regression weights; one of each per stage.")
    head, predictor = rh.pop("box_head"), rh.pop("box_predictor")
    rh.pop("proposal_matcher")
    predictors = []
    for w in bbox_reg_weights:
        p = copy.deepcopy(predictor)
        p.box2box_transform = L(Box2BoxTransform)(weights=tuple(w))
        p.cls_agnostic_bbox_reg = True
        p.num_classes = "${...num_classes}"      # roi_heads.num_classes, from inside the list
        predictors.append(p)
    rh._target_ = CascadeROIHeads
    rh.box_heads = [copy.deepcopy(head) for _ in ious]
    rh.box_predictors = predictors
    rh.proposal_matchers = [L(Matcher)(thresholds=[t], labels=[0, 1],
                                       allow_low_quality_matches=False) for t in ious]
    return model

"""LVIS v1 training and evaluation for any Mask R-CNN config: one helper, no file per family.

What ViTDet's LVIS configs (detectron2 ``projects/ViTDet/configs/LVIS/mask_rcnn_vitdet_b_100ep.py``)
change on top of the COCO ones, each value from that file:

| setting                  | value                                         |
|--------------------------|-----------------------------------------------|
| data                     | ``lvis_v1_train`` / ``lvis_v1_val``, 1203 classes |
| sampling                 | repeat-factor sampling, threshold 0.001 (``dataloader.train.repeat_threshold``; upstream sets ``dataloader.train.sampler``, which the engine's resumable loader replaces) |
| classification loss      | sigmoid CE with the federated loss, negatives weighted by ``image_count ** 0.5`` (``use_sigmoid_ce``, ``use_fed_loss``, ``get_fed_loss_cls_weights(names, 0.5)``) |
| inference                | score threshold 0.02, at most 300 detections per image |
| evaluation               | LVIS federated AP at 300 detections per image (detectron2's ``LVISEvaluator(max_dets_per_image=300)``; here :func:`vitdet_bench.evaluation.lvis_eval.build_evaluator`, equal to lvis-api) |

The box predictor is detectron2's ``FastRCNNOutputLayers`` when it has the federated loss
(detectron2 main), else the project's :class:`vitdet_bench.modeling.fed_loss.FederatedFastRCNNOutputLayers`
(detectron2 0.6). Call it before ``to_cascade`` (the stages copy the predictor)::

    from ..common.lvis import to_lvis
    to_lvis(dataloader, model)
"""
from detectron2.config import LazyCall as L

from vitdet_bench.data.lvis import LVIS_REPEAT_THRESHOLD
from vitdet_bench.evaluation.lvis_eval import MAX_DETS_PER_IMAGE, build_evaluator
from vitdet_bench.modeling.fed_loss import box_predictor_class, fed_loss_cls_weights_fn

LVIS_V1_NUM_CLASSES = 1203
LVIS_TEST_SCORE_THRESH = 0.02
FED_LOSS_FREQ_WEIGHT_POWER = 0.5


def to_lvis(dataloader, model, train_name="lvis_v1_train", test_name="lvis_v1_val",
            num_classes=LVIS_V1_NUM_CLASSES, repeat_threshold=LVIS_REPEAT_THRESHOLD):
    """Set ``dataloader`` and ``model`` (a Mask R-CNN with ``StandardROIHeads``) up for LVIS in
    place, as the table above says; returns both."""
    rh = model.roi_heads
    if "box_predictor" not in rh:
        raise ValueError("to_lvis: model.roi_heads has no 'box_predictor'; call to_lvis on the "
                         "Mask R-CNN config before to_cascade.")
    dataloader.train.dataset.names = train_name
    dataloader.train.repeat_threshold = repeat_threshold
    dataloader.train.pop("sampler", None)
    dataloader.test.dataset.names = test_name
    dataloader.evaluator = L(build_evaluator)(dataset_name="${..test.dataset.names}",
                                              max_dets_per_image=MAX_DETS_PER_IMAGE)
    rh.num_classes = num_classes
    bp = rh.box_predictor
    bp._target_ = box_predictor_class()
    bp.test_score_thresh = LVIS_TEST_SCORE_THRESH
    bp.test_topk_per_image = MAX_DETS_PER_IMAGE
    bp.use_sigmoid_ce = True
    bp.use_fed_loss = True
    # read when the model is built: the weights follow a training set given by override
    bp.get_fed_loss_cls_weights = L(fed_loss_cls_weights_fn)(
        dataset_names="${dataloader.train.dataset.names}",
        freq_weight_power=FED_LOSS_FREQ_WEIGHT_POWER)
    return dataloader, model

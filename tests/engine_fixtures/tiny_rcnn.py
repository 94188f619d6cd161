"""Tiny ResNet-18 Mask R-CNN (BN, 256px) on shapes_train / shapes_val, for engine tests.

Follows the vitdet_bench LazyConfig contract (model, dataloader, optimizer,
lr_multiplier, train). Evaluation runs on the first ``TEST_IMAGES`` of shapes_val.
"""
import torch
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_test_loader, build_detection_train_loader
from detectron2.data import get_detection_dataset_dicts
from detectron2.evaluation import COCOEvaluator
from detectron2.model_zoo import get_config
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler

import vitdet_bench  # noqa: F401
from vitdet_bench.data import build_lsj_train_mapper, build_test_mapper
from vitdet_bench.solver import get_param_groups

from engine_fixtures.helpers import first_n

model = get_config("common/models/mask_rcnn_fpn.py").model
model.backbone.bottom_up.stages.depth = 18
del model.backbone.bottom_up.stages.stride_in_1x1
model.backbone.bottom_up.stages.norm = "BN"
model.backbone.bottom_up.stem.norm = "BN"
model.backbone.bottom_up.freeze_at = 0
from vitdet_bench.data import SHAPE_CLASSES  # noqa: E402
model.roi_heads.num_classes = len(SHAPE_CLASSES)
model.roi_heads.batch_size_per_image = 64
model.roi_heads.mask_head.conv_dims = [256]
model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
model.input_format = "RGB"
model.proposal_generator.post_nms_topk = (200, 100)
model.proposal_generator.pre_nms_topk = (400, 200)

IMAGE_SIZE = 256
TEST_IMAGES = 4

dataloader = dict(
    train=L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names="shapes_train"),
        mapper=L(build_lsj_train_mapper)(image_size=IMAGE_SIZE),
        total_batch_size=2,
        num_workers=0,
    ),
    test=L(build_detection_test_loader)(
        dataset=L(first_n)(dicts=L(get_detection_dataset_dicts)(names="shapes_val",
                                                                 filter_empty=False),
                           n=TEST_IMAGES),
        mapper=L(build_test_mapper)(image_size=IMAGE_SIZE),
        num_workers=0,
    ),
    evaluator=L(COCOEvaluator)(dataset_name="shapes_val", use_fast_impl=False),
)

optimizer = L(torch.optim.AdamW)(
    params=L(get_param_groups)(model=None, base_lr=1e-4, weight_decay=0.1, layer_decay=0.7,
                               num_layers=12),
    lr=1e-4,
    betas=(0.9, 0.999),
)

lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(values=[1.0, 0.1, 0.01], milestones=[889, 963],
                                         num_updates=1000),
    warmup_length=0.25,
    warmup_factor=0.001,
)

train = dict(
    output_dir="./output/tiny_rcnn",
    init_checkpoint="",
    max_iter=4,
    amp=dict(enabled=False),
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
    checkpointer=dict(period=2, max_to_keep=10),
    eval_period=0,
    log_period=1,
    device="cuda",
    seed=42,
    vitdet_bench=dict(init="scratch", model_size="tiny-r18", epochs=None),
)

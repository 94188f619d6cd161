"""COCO data with large-scale jitter (LSJ) at 1024, as in the paper and ViTDet.

Train: horizontal flip, resize by a random scale in [0.1, 2.0] of 1024, fixed
1024x1024 crop (padded). Test: longer side 1024, padded to a 1024 square by the
model (``square_pad``). Set ``dataloader.train.dataset.names`` to any registered
dataset ("coco_2017_train" needs $DETECTRON2_DATASETS/coco).
"""
from detectron2.config import LazyCall as L
from detectron2.data import (
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.evaluation import COCOEvaluator

from vitdet_bench.data import build_lsj_train_mapper, build_test_mapper

image_size = 1024

dataloader = dict(
    train=L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names="coco_2017_train"),
        mapper=L(build_lsj_train_mapper)(image_size=image_size, min_scale=0.1, max_scale=2.0,
                                         image_format="RGB"),
        total_batch_size=64,
        num_workers=4,
    ),
    test=L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names="coco_2017_val", filter_empty=False),
        mapper=L(build_test_mapper)(image_size=image_size, image_format="RGB"),
        num_workers=4,
    ),
    # use_fast_impl needs detectron2's C++ COCOeval, absent from the registry install.
    evaluator=L(COCOEvaluator)(dataset_name="${..test.dataset.names}", use_fast_impl=False),
)

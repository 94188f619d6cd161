"""The official iTPN detection training augmentation, built from detectron2's augmentations.

``det/configs/itpn/*.py`` ("augmentation strategy originates from DETR / Sparse RCNN"):
horizontal flip, then with probability 1/2 either

* resize the short side to one of 480, 512, ..., 800 (step 32), long side <= 1333; or
* resize the short side to one of 400 / 500 / 600 (long side <= 1333), crop a random
  ``h x w`` window with h, w each uniform in [384, 600], then the first resize.

Both branches end in the same resize, so the policy is ``[flip, RandomApply([resize
400/500/600, crop], 0.5), resize 480-800]``. Test: short side 800, long side <= 1333.
"""
from __future__ import annotations

from typing import List, Optional

from detectron2.data import transforms as T

from vitdet_bench.data.mapper import RobustDatasetMapper

__all__ = ["TRAIN_SHORT_SIDES", "build_detr_augmentations", "build_detr_train_mapper", "build_itpn_test_mapper"]

TRAIN_SHORT_SIDES = tuple(range(480, 801, 32))


def build_detr_augmentations(short_sides=TRAIN_SHORT_SIDES, max_size: int = 1333,
                             crop_short_sides=(400, 500, 600), crop_size=(384, 600)) -> List[T.Augmentation]:
    crop_branch = T.AugmentationList([
        T.ResizeShortestEdge(list(crop_short_sides), max_size=max_size, sample_style="choice"),
        T.RandomCrop("absolute_range", tuple(crop_size)),
    ])
    return [
        T.RandomFlip(horizontal=True),
        T.RandomApply(crop_branch, prob=0.5),
        T.ResizeShortestEdge(list(short_sides), max_size=max_size, sample_style="choice"),
    ]


def build_detr_train_mapper(*, image_format: str = "RGB", short_sides=TRAIN_SHORT_SIDES,
                            max_size: int = 1333, crop_short_sides=(400, 500, 600),
                            crop_size=(384, 600), num_classes: Optional[int] = None) -> RobustDatasetMapper:
    """Training mapper: the policy above, instance masks, boxes recomputed from the cropped masks."""
    return RobustDatasetMapper(
        is_train=True,
        augmentations=build_detr_augmentations(short_sides, max_size, crop_short_sides, crop_size),
        image_format=image_format, use_instance_mask=True, instance_mask_format="polygon",
        recompute_boxes=True, num_classes=num_classes)


def build_itpn_test_mapper(*, short_side: int = 800, max_size: int = 1333,
                           image_format: str = "RGB") -> RobustDatasetMapper:
    """1333x800 testing (the mmdet ``img_scale=(1333, 800)`` of the official configs)."""
    return RobustDatasetMapper(
        is_train=False, augmentations=[T.ResizeShortestEdge(short_side, max_size=max_size)],
        image_format=image_format)

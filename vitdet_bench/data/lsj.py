"""Large-scale jitter (LSJ) augmentation and the train/test mappers of ViTDet.

LSJ (Ghiasi et al. 2021), as ViTDet's ``coco_loader_lsj.py`` uses it: flip, then
rescale the image so it fits a ``image_size * U(min_scale, max_scale)`` square
(aspect ratio kept), then take a random ``image_size`` x ``image_size`` crop,
padding on the right/bottom when the rescaled image is smaller. Every training
image therefore has the same size, which lets a plain ViT use absolute position
embeddings and fixed window partitions without per-batch resizing.

Cropping clips the polygon masks (shapely, inside fvcore's CropTransform), so the
mapper recomputes tight boxes from the clipped masks (``recompute_boxes=True``):
the box of a cropped triangle is not the crop of its box.

All builders are plain functions so LazyConfig can call them, e.g.::

    dataloader.train.mapper = L(build_lsj_train_mapper)(image_size=1024, image_format="RGB")
    dataloader.test.mapper = L(build_test_mapper)(image_size=1024, image_format="RGB")
"""
from __future__ import annotations

from typing import List, Optional

from detectron2.data import transforms as T

from .mapper import RobustDatasetMapper

__all__ = [
    "build_lsj_augmentations",
    "build_test_augmentations",
    "build_lsj_train_mapper",
    "build_test_mapper",
]

_FLIPS = {
    "horizontal": dict(horizontal=True, vertical=False),
    "vertical": dict(horizontal=False, vertical=True),
}


def build_lsj_augmentations(image_size: int = 1024, min_scale: float = 0.1,
                            max_scale: float = 2.0, random_flip: Optional[str] = "horizontal",
                            pad: bool = True, pad_value: float = 128.0) -> List[T.Augmentation]:
    """[RandomFlip, ResizeScale, FixedSizeCrop] as in ViTDet.

    Args:
        image_size: side of the square training crop.
        min_scale, max_scale: range of the random rescale, relative to ``image_size``.
        random_flip: "horizontal", "vertical", or None/"none" for no flip.
        pad: pad crops of small rescaled images up to ``image_size`` (ViTDet's default),
            so every output is exactly ``image_size`` x ``image_size``.
        pad_value: pixel value of the padding (ViTDet: 128, near the pixel mean).
    """
    if not (0 < min_scale <= max_scale):
        raise ValueError(f"LSJ needs 0 < min_scale <= max_scale, got {min_scale}, {max_scale}")
    augs: List[T.Augmentation] = []
    if random_flip not in (None, "none"):
        if random_flip not in _FLIPS:
            raise ValueError(f"random_flip must be 'horizontal', 'vertical' or None, "
                             f"got {random_flip!r}")
        # Flip first, as ViTDet does: it is cheaper on the smaller original image.
        augs.append(T.RandomFlip(**_FLIPS[random_flip]))
    augs.append(T.ResizeScale(min_scale=min_scale, max_scale=max_scale,
                              target_height=image_size, target_width=image_size))
    augs.append(T.FixedSizeCrop(crop_size=(image_size, image_size), pad=pad, pad_value=pad_value))
    return augs


def build_test_augmentations(image_size: int = 1024) -> List[T.Augmentation]:
    """Resize so the longer side is ``image_size`` (short edge capped at it too), as ViTDet tests."""
    return [T.ResizeShortestEdge(short_edge_length=image_size, max_size=image_size)]


def build_lsj_train_mapper(image_size: int = 1024, *, image_format: str = "RGB",
                           min_scale: float = 0.1, max_scale: float = 2.0,
                           random_flip: Optional[str] = "horizontal", pad: bool = True,
                           use_instance_mask: bool = True,
                           num_classes: Optional[int] = None) -> RobustDatasetMapper:
    """Training mapper: LSJ + instance masks + boxes recomputed from the cropped masks."""
    return RobustDatasetMapper(
        is_train=True,
        augmentations=build_lsj_augmentations(image_size, min_scale, max_scale, random_flip, pad),
        image_format=image_format,
        use_instance_mask=use_instance_mask,
        instance_mask_format="polygon",
        recompute_boxes=use_instance_mask,  # boxes can only be recomputed from masks
        num_classes=num_classes,
    )


def build_test_mapper(image_size: int = 1024, *, image_format: str = "RGB") -> RobustDatasetMapper:
    """Inference mapper: resize only; the model maps outputs back to the original size."""
    return RobustDatasetMapper(
        is_train=False,
        augmentations=build_test_augmentations(image_size),
        image_format=image_format,
    )

"""A DatasetMapper that fails with a clear message or drops-and-counts, never deep inside.

detectron2's ``DatasetMapper`` trusts its input. On broken data it either crashes
somewhere unhelpful (``KeyError``/``IndexError`` in the loss for a bad class
index, ``PIL.UnidentifiedImageError`` without the image id), or silently trains
on wrong labels (a negative-width XYWH box becomes a valid box after
``apply_box`` takes min/max of its corners). :class:`RobustDatasetMapper` is a
drop-in subclass with the same arguments plus ``num_classes``; per image it:

1. reads the image, turning a missing/unreadable file into :class:`ImageFileError`
   and a recorded-size mismatch into :class:`ImageSizeMismatchError` (both name
   the file and image id);
2. in training, drops (and counts, and logs the first few) annotations with an
   empty/negative/non-finite box, without a mask when masks are trained, and
   polygon masks with < 3 points or zero area (the rule of
   :mod:`vitdet_bench.data.annotation_rules`, shared with validation and evaluation),
   and raises :class:`AnnotationError` for a class index outside
   ``[0, num_classes)``;
3. then does exactly what ``DatasetMapper`` does (augment, tensor, transform
   annotations, recompute boxes from masks, ``filter_empty_instances``), except
   that an image left with no non-crowd annotation gets empty Instances (with an
   empty ``gt_masks``) instead of detectron2's AttributeError under
   ``recompute_boxes``.

It never returns None: detectron2 0.6's retry path for a None result
(``MapDataset``) calls ``random.sample`` on a set, which Python >= 3.11 rejects,
so whole-image skips belong before the loader
(:func:`vitdet_bench.data.validate.drop_images_with_bad_files`).

Skip counts live in ``mapper.skip_counts``; with ``num_workers > 0`` each worker
has its own copy and logs its own counts.
"""
from __future__ import annotations

import collections
import copy
import logging
from typing import List, Optional

import numpy as np
import torch

from detectron2.config import configurable
from detectron2.data import DatasetMapper
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import BitMasks, Boxes, BoxMode, Instances, PolygonMasks

from .annotation_rules import (
    DEGENERATE_POLYGON,
    INVALID_BOX,
    MISSING_SEGMENTATION,
    annotation_verdict,
)
from .validate import (
    AnnotationError,
    ImageFileError,
    ImageSizeMismatchError,
    missing_image_message,
    size_mismatch_message,
    unreadable_image_message,
)

__all__ = ["RobustDatasetMapper"]

logger = logging.getLogger(__name__)

# Box modes whose boxes the drop rule can check; relative modes pass unchecked.
_BOX_LAYOUTS = {BoxMode.XYWH_ABS: "xywh", BoxMode.XYXY_ABS: "xyxy"}


class RobustDatasetMapper(DatasetMapper):
    """``DatasetMapper`` with input validation; see the module docstring.

    Extra args:
        num_classes: if given, a ``category_id`` outside ``[0, num_classes)`` raises
            AnnotationError naming the image and annotation (instead of an index error
            or a CUDA assert in the loss).
        log_first_n: per problem kind, how many dropped annotations are logged with
            full detail; after that a summary is logged at each power of two.
    """

    @configurable
    def __init__(self, is_train: bool, *, augmentations, image_format: str,
                 use_instance_mask: bool = False, use_keypoint: bool = False,
                 instance_mask_format: str = "polygon", keypoint_hflip_indices=None,
                 precomputed_proposal_topk: Optional[int] = None, recompute_boxes: bool = False,
                 num_classes: Optional[int] = None, log_first_n: int = 5):
        super().__init__(
            is_train,
            augmentations=augmentations,
            image_format=image_format,
            use_instance_mask=use_instance_mask,
            use_keypoint=use_keypoint,
            instance_mask_format=instance_mask_format,
            keypoint_hflip_indices=keypoint_hflip_indices,
            precomputed_proposal_topk=precomputed_proposal_topk,
            recompute_boxes=recompute_boxes,
        )
        self.num_classes = num_classes
        self.log_first_n = log_first_n
        self.skip_counts: collections.Counter = collections.Counter()

    # ------------------------------------------------------------------ checks

    def _read_checked_image(self, dataset_dict: dict) -> np.ndarray:
        file_name = dataset_dict["file_name"]
        image_id = dataset_dict.get("image_id")
        try:
            image = utils.read_image(file_name, format=self.image_format)
        except FileNotFoundError:
            raise ImageFileError(missing_image_message(file_name, image_id)) from None
        except Exception as e:  # PIL/OS raise many types for corrupt files
            raise ImageFileError(unreadable_image_message(file_name, image_id, e)) from e
        actual_wh = (image.shape[1], image.shape[0])
        if "width" in dataset_dict and "height" in dataset_dict:
            recorded_wh = (dataset_dict["width"], dataset_dict["height"])
            if recorded_wh != actual_wh:
                raise ImageSizeMismatchError(
                    size_mismatch_message(file_name, image_id, recorded_wh, actual_wh))
        else:
            dataset_dict["width"], dataset_dict["height"] = actual_wh
        return image

    def _record_skip(self, kind: str, message: str) -> None:
        self.skip_counts[kind] += 1
        n = self.skip_counts[kind]
        if n <= self.log_first_n:
            logger.warning("%s [dropped %s #%d in this process]", message, kind, n)
        elif n & (n - 1) == 0:  # powers of two: bounded logging on big broken datasets
            logger.warning("RobustDatasetMapper: %d annotations dropped so far for %s "
                           "in this process", n, kind)

    def _clean_annotations(self, dataset_dict: dict) -> List[dict]:
        """Annotations that are safe to transform; drops and counts the unusable ones."""
        file_name, image_id = dataset_dict["file_name"], dataset_dict.get("image_id")
        kept = []
        for index, ann in enumerate(dataset_dict["annotations"]):
            label = f"id {ann['id']}" if "id" in ann else f"#{index}"
            where = f"annotation {label} of image id {image_id} ({file_name!r})"
            category_id = ann.get("category_id")
            if self.num_classes is not None and not (
                    isinstance(category_id, (int, np.integer))
                    and 0 <= category_id < self.num_classes):
                raise AnnotationError(
                    f"Unknown category: {where} has class index {category_id!r}, outside "
                    f"[0, {self.num_classes}) for this model. Dataset dicts must use "
                    "contiguous class indices (detectron2's load_coco_json maps COCO category "
                    "ids to them); check the json's categories and the dataset registration."
                )
            if ann.get("iscrowd", 0):
                # kept, as by the drop rule; checked first so a crowd region needs no
                # bbox_mode (DatasetMapper leaves crowd regions out of the targets anyway)
                kept.append(ann)
                continue
            if "bbox_mode" not in ann:
                raise AnnotationError(
                    f"Malformed dataset dict: {where} has no 'bbox_mode'. detectron2 dataset "
                    "dicts need it (BoxMode.XYWH_ABS for COCO); load the json with "
                    "detectron2's load_coco_json or set it when building the dicts."
                )
            verdict = annotation_verdict(ann, masks=self.use_instance_mask,
                                         box_layout=_BOX_LAYOUTS.get(BoxMode(ann["bbox_mode"])))
            if verdict.kind == INVALID_BOX:
                self._record_skip(INVALID_BOX,
                                  f"Invalid box: {where} {verdict.reasons[0]}; dropped.")
            elif verdict.kind == MISSING_SEGMENTATION:
                # annotations_to_instances needs a mask on every instance or on none.
                self._record_skip(MISSING_SEGMENTATION,
                                  f"Missing mask: {where} has no segmentation but the mapper "
                                  "trains masks; dropped.")
            elif verdict.kind == DEGENERATE_POLYGON:
                fate = "annotation dropped" if not verdict.keep else "those polygons dropped"
                self._record_skip(DEGENERATE_POLYGON,
                                  f"Degenerate polygon: {where}: {'; '.join(verdict.reasons)}; "
                                  f"{fate}.")
            ann = verdict.apply(ann)
            if ann is not None:
                kept.append(ann)
        return kept

    # ------------------------------------------------------------------ mapping

    def _empty_instances(self, image_shape) -> Instances:
        instances = Instances(image_shape)
        instances.gt_boxes = Boxes(torch.zeros((0, 4), dtype=torch.float32))
        instances.gt_classes = torch.zeros((0,), dtype=torch.int64)
        if self.use_instance_mask:
            if self.instance_mask_format == "polygon":
                instances.gt_masks = PolygonMasks([])
            else:
                instances.gt_masks = BitMasks(torch.zeros((0, *image_shape), dtype=torch.bool))
        return instances

    def _transform_annotations(self, dataset_dict, transforms, image_shape):
        if any(not a.get("iscrowd", 0) for a in dataset_dict["annotations"]):
            return super()._transform_annotations(dataset_dict, transforms, image_shape)
        # No training target left (all dropped, or crowd-only). detectron2's own path
        # would build Instances without gt_masks and then crash on recompute_boxes;
        # an empty image is a valid sample (all proposals are background).
        dataset_dict.pop("annotations")
        dataset_dict["instances"] = self._empty_instances(image_shape)

    def __call__(self, dataset_dict: dict) -> dict:
        dataset_dict = copy.deepcopy(dataset_dict)  # modified below
        image = self._read_checked_image(dataset_dict)

        sem_seg_gt = None
        if "sem_seg_file_name" in dataset_dict:
            sem_seg_gt = utils.read_image(dataset_dict.pop("sem_seg_file_name"), "L").squeeze(2)

        aug_input = T.AugInput(image, sem_seg=sem_seg_gt)
        transforms = self.augmentations(aug_input)
        image, sem_seg_gt = aug_input.image, aug_input.sem_seg
        image_shape = image.shape[:2]
        # Tensors, not numpy: the DataLoader moves them between processes via shared memory.
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if sem_seg_gt is not None:
            dataset_dict["sem_seg"] = torch.as_tensor(sem_seg_gt.astype("long"))
        if self.proposal_topk is not None:
            utils.transform_proposals(dataset_dict, image_shape, transforms,
                                      proposal_topk=self.proposal_topk)

        if not self.is_train:
            dataset_dict.pop("annotations", None)
            return dataset_dict
        if "annotations" in dataset_dict:
            dataset_dict["annotations"] = self._clean_annotations(dataset_dict)
            # DatasetMapper's own step: transform, recompute boxes, filter_empty_instances.
            self._transform_annotations(dataset_dict, transforms, image_shape)
        return dataset_dict

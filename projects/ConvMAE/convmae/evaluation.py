"""Evaluation as Alpha-VL/ConvMAE ``DET/`` does it (design 1 and its released detector).

Two details differ from vitdet_bench's default test path, and change the numbers of a
released model slightly:

* the test mapper pads each resized image to the full square *in the mapper*, with pixel
  value 128 (``T.FixedSizeCrop(crop_size=(1024, 1024))``, whose ``pad_value`` defaults to
  128), so the border the backbone sees is ``(128 - mean) / std`` after normalization;
  vitdet_bench pads inside the model after normalization (value 0, i.e. the mean);
* the model then sees a square image, so its outputs are mapped back by the longer
  side's scale (``lsj_postprocess=True`` in ``DET/configs/common.py``), not per axis.

``build_padded_test_mapper`` and ``PaddedInputRCNN`` reproduce both; the design-1
configs use them.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import detectron2.data.transforms as T
from detectron2.modeling import GeneralizedRCNN
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Instances

from vitdet_bench.data.lsj import build_test_augmentations
from vitdet_bench.data.mapper import RobustDatasetMapper

__all__ = ["build_padded_test_mapper", "PaddedInputRCNN", "postprocess_padded"]


def build_padded_test_mapper(image_size: int = 1024, pad_value: float = 128.0, *,
                             image_format: str = "RGB") -> RobustDatasetMapper:
    """Resize (longer side ``image_size``), then pad right/bottom to a square of raw
    pixel value ``pad_value`` (Alpha-VL's ``ResizeShortestEdge`` + ``FixedSizeCrop``)."""
    augs = build_test_augmentations(image_size)
    augs.append(T.FixedSizeCrop(crop_size=(image_size, image_size), pad=True, pad_value=pad_value))
    return RobustDatasetMapper(is_train=False, augmentations=augs, image_format=image_format)


def postprocess_padded(results: Instances, height: int, width: int) -> Instances:
    """Map one image's detections from the padded square back to ``height x width``: one
    scale, the longer side's (the padding sits right and bottom)."""
    in_h, in_w = results.image_size
    scale = max(width / in_w, height / in_h)
    # an input of exactly (height, width) / scale makes detector_postprocess scale both
    # axes by ``scale``, then clip and paste masks at the output size
    virtual = Instances((height / scale, width / scale), **results.get_fields())
    return detector_postprocess(virtual, height, width)


class PaddedInputRCNN(GeneralizedRCNN):
    """GeneralizedRCNN for inputs padded to a square by the mapper (``build_padded_test_mapper``)."""

    def inference(self, batched_inputs: List[Dict], detected_instances: Optional[list] = None,
                  do_postprocess: bool = True):
        results = super().inference(batched_inputs, detected_instances, do_postprocess=False)
        if not do_postprocess:
            return results
        out = []
        for r, inp in zip(results, batched_inputs):
            h, w = inp.get("height", r.image_size[0]), inp.get("width", r.image_size[1])
            out.append({"instances": postprocess_padded(r, h, w)})
        return out

"""detectron2's ROIPooler, with a faster CPU path for ROIAlign.

Same constructor, same level assignment (FPN's canonical 224 px box on level 4),
same result: on CPU, ``ROIAlign``/``ROIAlignV2`` pool every ROI from every level in
one weighted gather (:func:`vitdet_bench.layers.roi_align.roi_align_levels`) instead
of one torchvision call per level plus a scatter into the output. Other devices,
other pooler types and TorchScript use detectron2's implementation unchanged.
"""
from __future__ import annotations

from typing import List

import torch
from detectron2.modeling import poolers as d2_poolers
from detectron2.structures import Boxes

from ..layers.roi_align import roi_align_levels

__all__ = ["ROIPooler"]


class ROIPooler(d2_poolers.ROIPooler):
    def __init__(self, output_size, scales, sampling_ratio, pooler_type,
                 canonical_box_size=224, canonical_level=4):
        super().__init__(output_size, scales, sampling_ratio, pooler_type,
                         canonical_box_size=canonical_box_size, canonical_level=canonical_level)
        self.scales = [float(s) for s in scales]
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = pooler_type == "ROIAlignV2"
        self.gather_on_cpu = pooler_type in ("ROIAlign", "ROIAlignV2")

    def forward(self, x: List[torch.Tensor], box_lists: List[Boxes]):
        use_gather = (self.gather_on_cpu and not torch.jit.is_scripting()
                      and isinstance(x, list) and len(x) == len(self.level_poolers)
                      and x[0].device.type == "cpu"
                      and x[0].dtype in (torch.float32, torch.float64)
                      and len(box_lists) == x[0].shape[0] and len(box_lists) > 0)
        if not use_gather:
            return super().forward(x, box_lists)
        rois = d2_poolers.convert_boxes_to_pooler_format(box_lists)
        if len(x) == 1:
            levels = torch.zeros(rois.shape[0], dtype=torch.int64)
        else:
            levels = d2_poolers.assign_boxes_to_levels(
                box_lists, self.min_level, self.max_level, self.canonical_box_size,
                self.canonical_level)
        return roi_align_levels(x, rois, levels, self.scales, tuple(self.output_size),
                                self.sampling_ratio, self.aligned)

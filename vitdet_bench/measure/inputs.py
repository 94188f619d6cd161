"""Synthetic inputs for timing a detector's training step."""
from __future__ import annotations

from typing import Dict, List

import torch

__all__ = ["synthetic_batch"]


def synthetic_batch(size: int, batch_size: int, num_classes: int = 80, seed: int = 0) -> List[Dict]:
    """``batch_size`` detector inputs of ``size`` x ``size`` random pixels, each with 4 boxes
    and their box-shaped masks (detectron2's ``list[dict]`` format; tensors on the CPU, as
    a data loader delivers them)."""
    from detectron2.structures import BitMasks, Boxes, Instances

    g = torch.Generator().manual_seed(seed)
    batch = []
    for _ in range(batch_size):
        inst = Instances((size, size))
        xy = torch.rand(4, 2, generator=g) * size * 0.6
        wh = torch.rand(4, 2, generator=g) * size * 0.3 + 16
        boxes = torch.cat([xy, xy + wh], 1)
        inst.gt_boxes = Boxes(boxes)
        inst.gt_classes = torch.randint(0, num_classes, (4,), generator=g)
        masks = torch.zeros(4, size, size, dtype=torch.bool)
        for i, (x0, y0, x1, y1) in enumerate(boxes.long().tolist()):
            masks[i, y0:y1, x0:x1] = True
        inst.gt_masks = BitMasks(masks)
        batch.append({"image": torch.randint(0, 255, (3, size, size), generator=g).float(),
                      "instances": inst, "height": size, "width": size})
    return batch

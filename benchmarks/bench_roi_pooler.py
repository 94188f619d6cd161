"""ROI pooling on CPU: detectron2's ROIPooler (torchvision per level) vs the one-gather pooler.

Shapes are those of the demo's training step (``configs/demo/vit_tiny_shapes.py``):
4 images, a 64-channel FPN at 256 px (P2-P5), 128 box ROIs pooled to 7x7 and 64
mask ROIs to 14x14, sampling ratio 2 (and 0, adaptive, the COCO configs' setting).
Prints the median forward and backward milliseconds of each. Not a test: the numbers
depend on the machine's load.

    python benchmarks/bench_roi_pooler.py [--repeats 15]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import vitdet_bench  # noqa: F401  (compat before detectron2)
from detectron2.modeling.poolers import ROIPooler as D2ROIPooler
from detectron2.structures import Boxes

from vitdet_bench.modeling.poolers import ROIPooler

SCALES = [1 / 4, 1 / 8, 1 / 16, 1 / 32]


def _boxes(n, gen, size=256):
    xy = torch.rand(n, 2, generator=gen) * size * 0.6
    wh = torch.rand(n, 2, generator=gen) * 66 + 41    # the demo's shapes: 41-107 px
    return Boxes(torch.cat([xy, (xy + wh).clamp(max=size)], 1))


def time_pooler(pooler, feats, boxes, repeats):
    fwd, bwd = [], []
    for i in range(repeats + 2):  # two warm-up rounds
        for f in feats:
            f.grad = None
        t0 = time.perf_counter()
        out = pooler(feats, boxes)
        t1 = time.perf_counter()
        out.backward(torch.ones_like(out))
        t2 = time.perf_counter()
        if i >= 2:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
    return statistics.median(fwd) * 1e3, statistics.median(bwd) * 1e3


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args(argv)
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(4, 64, 256 // s, 256 // s, generator=gen, requires_grad=True)
             for s in (4, 8, 16, 32)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| ROIs | output | sampling | pooler | forward (ms) | backward (ms) |")
    print("|---|---|---|---|---|---|")
    for per_image, size in [(32, 7), (16, 14)]:
        boxes = [_boxes(per_image, gen) for _ in range(4)]
        for ratio in (2, 0):
            for name, cls in [("detectron2 (torchvision)", D2ROIPooler),
                              ("vitdet_bench gather", ROIPooler)]:
                pooler = cls(size, SCALES, ratio, "ROIAlignV2")
                f, b = time_pooler(pooler, feats, boxes, args.repeats)
                print(f"| {4 * per_image} | {size}x{size} | {ratio} | {name} | {f:.1f} | {b:.1f} |")


if __name__ == "__main__":
    main()

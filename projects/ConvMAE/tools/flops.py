#!/usr/bin/env python
"""FLOPs of a ConvMAE Mask R-CNN on real images, as detectron2's tools/analyze_model.py counts.

The whole detector runs in inference mode on images from a registered dataset
(default: coco128, resized by the config's test mapper to longer side 1024 and padded
by the model to 1024x1024); ``vitdet_bench.measure.count_detector_flops`` traces it and
the total and the per-module breakdown are printed and written as JSON.

fvcore counts one fused multiply-add as one "flop" (a conv or linear layer of
``M`` multiply-adds reports ``M``), so its figures are MACs; the published ViTDet /
ConvMAE "FLOPs" are the same fvcore counts. Element-wise ops, softmax, batch norm,
max pool and NMS are not counted (detectron2's list). Attention is counted as its two
matmuls (``2*B*heads*N*N*d`` multiply-adds) on either attention path.

The box and mask heads' work depends on the number of proposals and detections;
a model without trained weights scores classes near uniformly, so the count is
given for each ``--score-thresh`` (0.0: every image keeps the top
``test_topk_per_image`` = 100 detections, the mask head's upper bound).

    DETECTRON2_DATASETS=path/to/datasets python projects/ConvMAE/tools/flops.py \\
        --config-file projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py --num-inputs 1 \\
        --score-thresh 0.05 0.0 --output runs/convmae_flops.json
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

import vitdet_bench  # noqa: F401  (compat patches before detectron2)
import vitdet_bench.data  # noqa: F401  (registers coco128 / shapes)
from detectron2.config import LazyConfig, instantiate
from vitdet_bench.measure import count_detector_flops
from vitdet_bench.utils.io import atomic_write_json


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config-file", default="projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py")
    p.add_argument("--dataset", default="coco128_val", help="registered dataset to take images from")
    p.add_argument("--num-inputs", type=int, default=1)
    p.add_argument("--score-thresh", type=float, nargs="+", default=[0.05],
                   help="box_predictor.test_score_thresh values to count with (one trace each)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--output", default="", help="write the results as JSON here")
    p.add_argument("opts", nargs="*", help="LazyConfig overrides key=value")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = LazyConfig.apply_overrides(LazyConfig.load(args.config_file), args.opts)
    net = cfg.model.backbone.get("bottom_up", None) or cfg.model.backbone.get("net")
    net.drop_path_rate = 0.0
    cfg.dataloader.test.dataset.names = args.dataset
    cfg.dataloader.test.num_workers = 0

    model = instantiate(cfg.model).eval()
    loader = instantiate(cfg.dataloader.test)
    inputs = []
    for i, batch in enumerate(loader):
        if i >= args.num_inputs:
            break
        inputs.append(batch)

    results = {"config": args.config_file, "dataset": args.dataset,
               "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
               "unit": "fvcore flops = multiply-adds (one MAC counted as one flop)", "runs": []}
    seen = {}

    def count_detections(module, inp, out):  # roi_heads returns (list[Instances], {})
        seen["n"] = [len(x) for x in out[0]]

    model.roi_heads.register_forward_hook(count_detections)
    for thresh in args.score_thresh:
        model.roi_heads.box_predictor.test_score_thresh = thresh
        per_input = []
        for batch in inputs:
            im = batch[0]
            t0 = time.perf_counter()
            count = count_detector_flops(model, im["image"], im.get("height"), im.get("width"))
            g = lambda k: count.by_module.get(k, 0) / 1e9  # noqa: E731  (the model's own names)
            row = {
                "file_name": os.path.basename(im.get("file_name", "")),
                "input_hw": list(im["image"].shape[-2:]),
                "padded_hw": [int(cfg.model.backbone.get("square_pad", 0))] * 2,
                "detections": seen.get("n"),
                "total_G": count.total / 1e9,
                "backbone_bottom_up_G": g("backbone.bottom_up") or g("backbone.net"),
                "backbone_with_neck_G": g("backbone"),
                "proposal_generator_G": g("proposal_generator"),
                "roi_heads_G": g("roi_heads"),
                "box_head_G": g("roi_heads.box_head") + g("roi_heads.box_predictor"),
                "mask_head_G": g("roi_heads.mask_head"),
                "by_operator_G": {k: v / 1e9 for k, v in sorted(count.by_operator.items(),
                                                                 key=lambda kv: -kv[1])},
                "seconds": time.perf_counter() - t0,
            }
            per_input.append(row)
            print(json.dumps({"score_thresh": thresh, **row}), flush=True)
        totals = [r["total_G"] for r in per_input]
        results["runs"].append({"score_thresh": thresh, "inputs": per_input,
                                "total_G_mean": float(np.mean(totals)), "total_G_std": float(np.std(totals))})
        print(f"score_thresh={thresh}: Total GFlops: {np.mean(totals):.1f}±{np.std(totals):.1f} "
              f"over {len(totals)} image(s)", flush=True)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        atomic_write_json(args.output, results, indent=1)
    return results


if __name__ == "__main__":
    main()

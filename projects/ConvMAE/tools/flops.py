#!/usr/bin/env python
"""fvcore FLOPs of a ConvMAE Mask R-CNN on real images, as detectron2's tools/analyze_model.py.

The whole detector runs in inference mode on images from a registered dataset
(default: coco128, resized by the config's test mapper to longer side 1024 and padded
by the model to 1024x1024); ``detectron2.utils.analysis.FlopCountAnalysis`` (fvcore
wrapped for models that take ``list[dict]``) traces it and the total and the
per-module breakdown are printed and written as JSON.

fvcore counts one fused multiply-add as one "flop" (a conv or linear layer of
``M`` multiply-adds reports ``M``), so its figures are MACs; the published ViTDet /
ConvMAE "FLOPs" are the same fvcore counts. detectron2's wrapper ignores element-wise
ops, softmax, batch norm, max pool and NMS.

Attention: the library's reference attention path (``use_sdpa=False``: two explicit
matmuls, ``2*B*heads*N*N*d`` multiply-adds) is used for counting, because on CPU the
fused path is a custom autograd function (``prim::PythonOp``) that fvcore cannot see.
Both paths compute the same thing.

The box and mask heads' work depends on the number of proposals and detections;
a model without trained weights scores classes near uniformly, so the count is
given for each ``--score-thresh`` (0.0: every image keeps the top
``test_topk_per_image`` = 100 detections, the mask head's upper bound).

    DETECTRON2_DATASETS=/work/shared/datasets python projects/ConvMAE/tools/flops.py \\
        --config-file projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py --num-inputs 1 \\
        --score-thresh 0.05 0.0 --output runs/convmae_flops.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "projects", "ConvMAE"))

import vitdet_bench  # noqa: E402,F401  (compat patches before detectron2)
import vitdet_bench.data  # noqa: E402,F401  (registers coco128 / shapes)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config-file",
                   default=os.path.join(REPO, "projects", "ConvMAE", "configs", "convmae_b_mrcnn_25ep.py"))
    p.add_argument("--dataset", default="coco128_val", help="registered dataset to take images from")
    p.add_argument("--num-inputs", type=int, default=1)
    p.add_argument("--score-thresh", type=float, nargs="+", default=[0.05],
                   help="box_predictor.test_score_thresh values to count with (one trace each)")
    p.add_argument("--sdpa", action="store_true",
                   help="keep the fused attention path (its attention matmuls are then not counted on CPU)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--output", default="", help="write the results as JSON here")
    p.add_argument("opts", nargs="*", help="LazyConfig overrides key=value")
    return p.parse_args(argv)


def _flop_count_analysis():
    """``detectron2.utils.analysis.FlopCountAnalysis``.

    The registry sdist of detectron2 0.6 cannot import ``detectron2.export`` (its
    ``api`` module needs caffe2), which ``utils.analysis`` imports only for
    ``TracingAdapter``; in that case ``detectron2.export`` is bound to a bare package
    holding just ``export/flatten.py`` (where ``TracingAdapter`` lives).
    """
    try:
        from detectron2.utils.analysis import FlopCountAnalysis
        return FlopCountAnalysis
    except ModuleNotFoundError as e:
        if "caffe2" not in str(e):
            raise
    import importlib
    import types

    import detectron2

    for name in [m for m in sys.modules if m.startswith("detectron2.export") or m == "detectron2.utils.analysis"]:
        del sys.modules[name]
    pkg = types.ModuleType("detectron2.export")
    pkg.__path__ = [os.path.join(os.path.dirname(detectron2.__file__), "export")]
    sys.modules["detectron2.export"] = pkg
    pkg.TracingAdapter = importlib.import_module("detectron2.export.flatten").TracingAdapter
    from detectron2.utils.analysis import FlopCountAnalysis
    return FlopCountAnalysis


def _group(by_module, prefix):
    return by_module.get(prefix, 0)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    import torch
    from detectron2.config import LazyConfig, instantiate

    FlopCountAnalysis = _flop_count_analysis()

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = LazyConfig.load(args.config_file)
    cfg = LazyConfig.apply_overrides(cfg, args.opts)
    net = cfg.model.backbone.get("bottom_up", None) or cfg.model.backbone.get("net")
    net.use_sdpa = bool(args.sdpa)
    net.drop_path_rate = 0.0
    cfg.dataloader.test.dataset.names = args.dataset
    cfg.dataloader.test.num_workers = 0

    model = instantiate(cfg.model)
    model.eval()
    loader = instantiate(cfg.dataloader.test)
    inputs = []
    for i, batch in enumerate(loader):
        if i >= args.num_inputs:
            break
        inputs.append(batch)

    results = {"config": os.path.relpath(os.path.abspath(args.config_file), REPO), "dataset": args.dataset,
               "attention_path": "sdpa" if args.sdpa else "reference (explicit matmuls)",
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
            t0 = time.perf_counter()
            with torch.no_grad():
                flops = FlopCountAnalysis(model, batch)
                flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
                total = flops.total()
                by_module = flops.by_module()
                by_op = flops.by_operator()
            n_det = seen.get("n")
            im = batch[0]
            g = lambda k: _group(by_module, "model." + k) / 1e9  # noqa: E731
            row = {
                "file_name": os.path.basename(im.get("file_name", "")),
                "input_hw": list(im["image"].shape[-2:]),
                "padded_hw": [int(cfg.model.backbone.get("square_pad", 0))] * 2,
                "detections": n_det,
                "total_G": total / 1e9,
                "backbone_bottom_up_G": g("backbone.bottom_up") or g("backbone.net"),
                "backbone_with_neck_G": g("backbone"),
                "proposal_generator_G": g("proposal_generator"),
                "roi_heads_G": g("roi_heads"),
                "box_head_G": g("roi_heads.box_head") + g("roi_heads.box_predictor"),
                "mask_head_G": g("roi_heads.mask_head"),
                "by_operator_G": {k: v / 1e9 for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])},
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
        from vitdet_bench.utils.io import atomic_write_json

        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        atomic_write_json(args.output, results, indent=1)
    return results


if __name__ == "__main__":
    main()

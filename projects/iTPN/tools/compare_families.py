#!/usr/bin/env python
"""Parameters, FLOPs and CPU training-step cost of whole detectors, family next to family.

For each ``NAME=CONFIG:NET_PATH:STRATEGY`` (default: ViT-B, ConvMAE-B and iTPN-B in both
designs), in one run and one fresh subprocess per measurement:

* parameters of the detector and of ``model.backbone``;
* FLOPs of the whole detector in inference mode on one 1024x1024 image (the first
  coco128 image resized to 1024x1024, a fixed random image without coco128), counted as
  detectron2's analyze_model counts (one multiply-add = one flop; attention as its two
  matmuls; ``vitdet_bench.measure``), at box score thresholds 0.05 and 0.0 (upper bound:
  100 detections);
* one forward + backward of the whole detector's training step on a 1024x1024 synthetic
  batch (the timing cell of ``tools/benchmark.py --target model``), its time and peak RSS.

    python projects/iTPN/tools/compare_families.py --output runs/itpn_compare.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

import vitdet_bench  # noqa: F401  (before detectron2)
import vitdet_bench.data  # noqa: F401  (registers coco128)
from vitdet_bench.measure import benchmark_cell, count_detector_flops, report_cell, run_cell_subprocess
from vitdet_bench.utils.io import atomic_write_json

DEFAULTS = [
    "ViT-B=configs/mae_vitb_mrcnn.py:model.backbone.bottom_up.net:window_global",
    "ConvMAE-B=projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py:model.backbone.bottom_up:window_global",
    "iTPN-B integral=projects/iTPN/configs/itpn_pixel_b_mrcnn_1x.py:model.backbone:global",
    "iTPN-B BN FPN=projects/iTPN/configs/itpn_pixel_b_fpn_mrcnn_1x.py:model.backbone.bottom_up:global",
]
TIMED = ("train_fwd_bwd_s", "train_step_s", "fwd_bwd_peak_GB", "train_peak_GB", "status")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", default=DEFAULTS, help="NAME=CONFIG:NET_PATH:STRATEGY")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--no-flops", action="store_true")
    p.add_argument("--no-time", action="store_true")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per measurement")
    p.add_argument("--output", default="")
    p.add_argument("--cell", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _image(size):
    """The first coco128 val image resized to ``size`` x ``size`` (a fixed random one without
    coco128), and its name."""
    from detectron2.data import DatasetCatalog
    from detectron2.data import detection_utils as utils

    try:
        d = DatasetCatalog.get("coco128_val")[0]
        img, name = utils.read_image(d["file_name"], format="RGB"), os.path.basename(d["file_name"])
    except Exception:  # noqa: BLE001  no coco128 here
        img, name = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype("uint8"), "random 480x640"
    t = torch.nn.functional.interpolate(torch.as_tensor(img).permute(2, 0, 1)[None].float(),
                                        size=(size, size), mode="bilinear", align_corners=False)[0]
    return t, name


def flops_cell(spec):
    """Parameters and FLOPs of one config's detector (the config's own attention layout)."""
    from detectron2.config import LazyConfig, instantiate

    cfg = LazyConfig.load(spec["config"])
    net = cfg
    for part in spec["net_path"].split("."):
        net = net[part]
    net.drop_path_rate = 0.0
    torch.manual_seed(0)
    model = instantiate(cfg.model).eval()
    image, name = _image(spec["size"])
    res = {"params_M": sum(p.numel() for p in model.parameters()) / 1e6,
           "backbone_params_M": sum(p.numel() for p in model.backbone.parameters()) / 1e6,
           "image": name}
    for thresh in (0.05, 0.0):
        model.roi_heads.box_predictor.test_score_thresh = thresh
        count = count_detector_flops(model, image, spec["size"], spec["size"])
        res[f"gflops_thresh_{thresh}"] = count.total / 1e9
        res[f"backbone_gflops_thresh_{thresh}"] = count.by_child["backbone"] / 1e9
    res["status"] = "ok"
    return res


def time_cell(spec):
    """One training step (forward + backward + AdamW) of the whole detector on the CPU."""
    return benchmark_cell(dict(config_file=spec["config"], vit_path=spec["net_path"], target="model",
                               strategy=spec["strategy"], size=spec["size"], path="sdpa", device="cpu",
                               steps=1, warmup=0, no_flops=True, no_infer=True, opts=[]))


def main(argv=None):
    args = parse_args(argv)
    if args.cell:
        spec = json.loads(args.cell)
        report_cell(flops_cell if spec["kind"] == "flops" else time_cell, spec)
        return 0
    rows = []
    for item in args.models:
        name, rest = item.split("=", 1)
        config, net_path, strategy = rest.split(":")
        row = {"name": name, "config": config, "strategy": strategy, "size": args.size}
        spec = {"config": config, "net_path": net_path, "strategy": strategy, "size": args.size}
        if not args.no_flops:
            res = run_cell_subprocess(__file__, dict(spec, kind="flops"), args.timeout)
            if res.get("status") == "ok":
                row.update({k: v for k, v in res.items() if k not in ("status", "wall_s")})
            else:
                row["flops_error"] = res.get("error", res.get("status"))
            row["flops_wall_s"] = res["wall_s"]
        if not args.no_time:
            res = run_cell_subprocess(__file__, dict(spec, kind="time"), args.timeout)
            row.update({k: res.get(k) for k in TIMED})
            if res.get("status") != "ok":
                row["time_error"] = res.get("error", res.get("status"))
            row["time_wall_s"] = res["wall_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    cols = ("name", "params_M", "backbone_params_M", "gflops_thresh_0.05", "gflops_thresh_0.0",
            "backbone_gflops_thresh_0.05", "train_fwd_bwd_s", "fwd_bwd_peak_GB")
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r.get(c):.2f}" if isinstance(r.get(c), float) else str(r.get(c, "-"))
                                for c in cols) + " |")
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        atomic_write_json(args.output, {"rows": rows, "time": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Parameters, fvcore FLOPs and CPU training-step cost of whole detectors, family next to family.

For each ``NAME=CONFIG:NET_PATH:STRATEGY`` (default: ViT-B, ConvMAE-B and iTPN-B in both
designs), in one run and one fresh subprocess per measurement:

* parameters of the detector and of ``model.backbone``;
* fvcore FLOPs of the whole detector in inference mode on one 1024x1024 image (the first
  coco128 image resized to 1024x1024; detectron2's ``FlopCountAnalysis``, which counts one
  multiply-add as one flop; attention through the explicit reference path so its matmuls
  are seen), at box score thresholds 0.05 and 0.0 (upper bound: 100 detections);
* one forward + backward of the whole detector's training step on a 1024x1024 synthetic
  batch (``tools/benchmark.py --target model``), its time and peak RSS.

    flock /tmp/vitdet_heavy.lock timeout 1800 python projects/iTPN/tools/compare_families.py \\
        --output runs/itpn_compare.json

The FLOPs counter is ``projects/ConvMAE/tools/flops.py``'s (its detectron2 0.6 workaround).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)

DEFAULTS = [
    "ViT-B=configs/mae_vitb_mrcnn.py:model.backbone.bottom_up.net:window_global",
    "ConvMAE-B=projects/ConvMAE/configs/convmae_b_mrcnn_25ep.py:model.backbone.bottom_up:window_global",
    "iTPN-B integral=projects/iTPN/configs/itpn_pixel_b_mrcnn_1x.py:model.backbone:global",
    "iTPN-B BN FPN=projects/iTPN/configs/itpn_pixel_b_fpn_mrcnn_1x.py:model.backbone.bottom_up:global",
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", default=DEFAULTS, help="NAME=CONFIG:NET_PATH:STRATEGY")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--no-flops", action="store_true")
    p.add_argument("--no-time", action="store_true")
    p.add_argument("--output", default="")
    p.add_argument("--flops-cell", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _flops_cell(spec):
    """In a subprocess: params and FLOPs of one config's detector."""
    path = os.path.join(REPO, "projects", "ConvMAE", "tools", "flops.py")
    mod_spec = importlib.util.spec_from_file_location("convmae_flops_tool", path)
    flops_tool = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(flops_tool)
    FlopCountAnalysis = flops_tool._flop_count_analysis()

    import numpy as np
    import torch
    from detectron2.config import LazyConfig, instantiate
    from detectron2.data import DatasetCatalog
    from detectron2.data import detection_utils as utils

    size = spec["size"]
    cfg = LazyConfig.load(os.path.join(REPO, spec["config"]))
    net = cfg
    for part in spec["net_path"].split("."):
        net = net[part]
    net.use_sdpa = False  # explicit matmuls: visible to fvcore
    from detectron2.modeling.poolers import ROIPooler

    for pooler in ("box_pooler", "mask_pooler"):  # the one-gather CPU ROIAlign cannot be traced;
        cfg.model.roi_heads[pooler]._target_ = ROIPooler  # detectron2's computes the same
    net.drop_path_rate = 0.0
    torch.manual_seed(0)
    model = instantiate(cfg.model).eval()
    res = {"params_M": sum(p.numel() for p in model.parameters()) / 1e6,
           "backbone_params_M": sum(p.numel() for p in model.backbone.parameters()) / 1e6}
    try:
        d = DatasetCatalog.get("coco128_val")[0]
        img = utils.read_image(d["file_name"], format="RGB")
        res["image"] = os.path.basename(d["file_name"])
    except Exception:  # noqa: BLE001  no coco128: a fixed random image
        img = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype("uint8")
        res["image"] = "random 480x640"
    t = torch.nn.functional.interpolate(torch.as_tensor(img).permute(2, 0, 1)[None].float(), size=(size, size),
                                        mode="bilinear", align_corners=False)[0]
    batch = [{"image": t, "height": size, "width": size}]
    for thresh in (0.05, 0.0):
        model.roi_heads.box_predictor.test_score_thresh = thresh
        with torch.no_grad():
            fca = FlopCountAnalysis(model, batch)
            fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            total, by_module = fca.total(), fca.by_module()
        res[f"gflops_thresh_{thresh}"] = total / 1e9
        res[f"backbone_gflops_thresh_{thresh}"] = by_module.get("model.backbone", 0) / 1e9  # TracingAdapter wraps it
    return res


def _run(cmd, timeout=3600):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    return p, time.perf_counter() - t0


def main(argv=None):
    args = parse_args(argv)
    if args.flops_cell:
        import vitdet_bench  # noqa: F401
        import vitdet_bench.data  # noqa: F401

        print("@@FLOPS " + json.dumps(_flops_cell(json.loads(args.flops_cell))), flush=True)
        return 0
    rows = []
    for item in args.models:
        name, rest = item.split("=", 1)
        config, net_path, strategy = rest.split(":")
        row = {"name": name, "config": config, "strategy": strategy, "size": args.size}
        if not args.no_flops:
            spec = {"config": config, "net_path": net_path, "size": args.size}
            p, wall = _run([sys.executable, os.path.abspath(__file__), "--flops-cell", json.dumps(spec)])
            line = [x for x in p.stdout.splitlines() if x.startswith("@@FLOPS ")]
            row.update(json.loads(line[-1][8:]) if line else {"flops_error": p.stderr[-500:]})
            row["flops_wall_s"] = wall
        if not args.no_time:
            with tempfile.TemporaryDirectory() as out:
                p, wall = _run([sys.executable, os.path.join(REPO, "tools", "benchmark.py"), "--config-file", config,
                                "--vit-path", net_path, "--target", "model", "--strategies", strategy,
                                "--sizes", str(args.size), "--steps", "1", "--warmup", "0", "--no-flops",
                                "--no-infer", "--device", "cpu", "--output-dir", out])
                bench = os.path.join(out, "benchmark.json")
                if os.path.isfile(bench):
                    cell = json.load(open(bench))["rows"][0]
                    row.update({k: cell.get(k) for k in ("train_fwd_bwd_s", "train_step_s", "fwd_bwd_peak_GB",
                                                           "train_peak_GB", "status")})
                else:
                    row["time_error"] = p.stderr[-500:]
            row["time_wall_s"] = wall
        rows.append(row)
        print(json.dumps(row), flush=True)
    cols = ("name", "params_M", "backbone_params_M", "gflops_thresh_0.05", "gflops_thresh_0.0",
            "backbone_gflops_thresh_0.05", "train_fwd_bwd_s", "fwd_bwd_peak_GB")
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r.get(c):.2f}" if isinstance(r.get(c), float) else str(r.get(c, "-"))
                                for c in cols) + " |")
    if args.output:
        from vitdet_bench.utils.io import atomic_write_json

        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        atomic_write_json(args.output, {"rows": rows, "time": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

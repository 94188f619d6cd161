#!/usr/bin/env python
"""The model-complexity table (Li et al. 2021): ResNet against ViT in one Mask R-CNN.

For each config (default: R50, R101, ViT-B, ViT-L, ConvMAE-B), in a fresh subprocess so
that peaks do not contaminate each other, on the machine at hand:

* parameters of the whole detector;
* FLOPs per 1024x1024 image: the whole detector's inference forward, counted as
  detectron2's ``tools/analyze_model.py`` counts (fvcore, one FLOP per multiply-add,
  element-wise ops / BN / NMS not counted), attention as its two matmuls on every path
  (``vitdet_bench.measure.flops``); the box head on the RPN's 1000 proposals and the
  mask head on 100 detections for every model (score threshold 0: a random-weight
  model would otherwise keep anywhere from none to 100), BatchNorm statistics taken
  from one forward on the image (eval-mode BN of a random model is mean 0 / var 1);
  also per top-level module of the detector (``gflops_by_module``: backbone,
  proposal_generator, roi_heads);
* training step time (forward + backward + AdamW on one synthetic image with 4
  instances) and its peak memory; inference time per image, postprocessing 100
  detections (the same score threshold 0) as a trained model on COCO does. Timing and
  memory are ``vitdet_bench.measure.timing``'s (median over ``--steps`` after
  ``--warmup``; peak RSS on CPU, max allocated on CUDA).

Writes ``complexity.json`` (atomic), ``complexity.md`` and ``complexity.png`` into
``--output-dir`` and prints the table.

    python tools/complexity.py --output-dir runs/complexity              # the five defaults
    python tools/complexity.py --preset families --output-dir runs/complexity_families
    python tools/complexity.py --configs R50=configs/resnet/r50_mrcnn_scratch.py \\
        ViT-B=configs/mae_vitb_mrcnn.py --steps 3 --warmup 1
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time

import torch

import vitdet_bench  # noqa: F401  (before detectron2)
from vitdet_bench.measure import (COMPLEXITY_COLUMNS, complexity_cell, complexity_table,
                                  limit_address_space, report_cell, run_cell_subprocess)
from vitdet_bench.utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIGS = (
    ("R50", "configs/resnet/r50_mrcnn_scratch.py"),
    ("R101", "configs/resnet/r101_mrcnn_scratch.py"),
    ("ViT-B", "configs/mae_vitb_mrcnn.py"),
    ("ViT-L", "configs/mae_vitl_mrcnn.py"),
    ("ConvMAE-B", "projects/ConvMAE/configs/convmae_b_mrcnn_100ep.py"),
)
# The timm pre-training families at B (AIMv2's smallest is L) in the Benchmarking
# detector, next to ViT-B MAE: SwiGLU widths, patch 14 resampled to 16, RoPE and
# prefix tokens change compute. DINOv2 with registers is DINOv2's row (the registers
# are dropped before the first detection block: the same trunk).
FAMILY_CONFIGS = (
    ("ViT-B MAE", "configs/mae_vitb_mrcnn.py"),
    ("DINOv2-B", "configs/families/dinov2_vitb_mrcnn.py"),
    ("DINOv3-B", "configs/families/dinov3_vitb_mrcnn.py"),
    ("EVA-02-B", "configs/families/eva02_vitb_mrcnn.py"),
    ("DeiT III-B", "configs/families/deit3_vitb_mrcnn.py"),
    ("SigLIP 2-B", "configs/families/siglip2_vitb_mrcnn.py"),
    ("PE-Spatial-B", "configs/families/pe_spatial_vitb_mrcnn.py"),
    ("CLIP-B", "configs/families/clip_vitb_mrcnn.py"),
    ("AIMv2-L", "configs/families/aimv2_vitl_mrcnn.py"),
)
PRESETS = {"paper": DEFAULT_CONFIGS, "families": FAMILY_CONFIGS}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="+", default=None,
                   help="LABEL=CONFIG (or CONFIG: labelled by its file name); default: the preset's")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="paper: R50, R101, ViT-B, ViT-L, ConvMAE-B; families: ViT-B MAE and each "
                        "timm pre-training family at B (default: paper)")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--no-flops", action="store_true")
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--no-infer", action="store_true")
    p.add_argument("--mem-limit-gb", type=float, default=None,
                   help="address-space cap of each cell (CPU): a cell that needs more is reported "
                        "as OOM instead of pushing the machine into swap; default: no cap")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per config")
    p.add_argument("--output-dir", default="runs/complexity")
    p.add_argument("--opts", nargs="*", default=[], help="LazyConfig overrides key=value for every config")
    p.add_argument("--cell", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.configs is not None and args.preset is not None:
        p.error("--preset and --configs both choose the rows; give one of them")
    if args.configs is None:
        args.configs = [f"{k}={v}" for k, v in PRESETS[args.preset or "paper"]]
    return args


def parse_configs(items):
    out = []
    for item in items:
        label, _, path = item.rpartition("=")
        path = path if os.path.isabs(path) else os.path.join(REPO, path)
        if not os.path.isfile(path):
            raise SystemExit(f"error: config {item!r}: {path} does not exist "
                             "(expected LABEL=path/to/config.py)")
        out.append((label or os.path.splitext(os.path.basename(path))[0], path))
    return out


def table(rows):
    return complexity_table(rows)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = [c for c in COMPLEXITY_COLUMNS if any(isinstance(r.get(c[0]), (int, float)) for r in rows)]
    if not keys:
        return False
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.4), squeeze=False)
    for ax, (key, title, _) in zip(axes[0], keys):
        labels = [r["label"] for r in rows]
        vals = [r.get(key) if isinstance(r.get(key), (int, float)) else 0 for r in rows]
        ax.bar(labels, vals, color=["#4c72b0" if r["backbone"] == "ResNet" else "#dd8452"
                                    for r in rows])
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.grid(axis="y", alpha=.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return True


def main(argv=None):
    args = parse_args(argv)
    if args.cell:
        spec = json.loads(args.cell)
        if spec.get("mem_limit_gb"):
            limit_address_space(spec["mem_limit_gb"])
        report_cell(complexity_cell, spec)
        return 0
    configs = parse_configs(args.configs)
    os.makedirs(args.output_dir, exist_ok=True)
    rows = []
    for label, path in configs:
        spec = dict(config_file=path, device=args.device, size=args.size, steps=args.steps,
                    warmup=args.warmup, no_flops=args.no_flops, no_train=args.no_train,
                    no_infer=args.no_infer, mem_limit_gb=args.mem_limit_gb, opts=args.opts)
        row = dict(label=label, config=os.path.relpath(path, REPO),
                   **run_cell_subprocess(__file__, spec, args.timeout))
        row.setdefault("backbone", "-")
        rows.append(row)
        print(json.dumps(row), flush=True)
    meta = dict(size=args.size, device=args.device, steps=args.steps, warmup=args.warmup,
                batch_size=1, cpu_count=os.cpu_count(), loadavg=os.getloadavg(),
                platform=platform.platform(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                torch=torch.__version__)
    md = table(rows)
    atomic_write_json(os.path.join(args.output_dir, "complexity.json"), {"meta": meta, "rows": rows}, indent=1)
    atomic_write_text(os.path.join(args.output_dir, "complexity.md"),
                      f"Model complexity at {args.size}x{args.size}, {args.device}, {meta['date']}\n\n{md}\n")
    print(md)
    if plot(rows, os.path.join(args.output_dir, "complexity.png")):
        print("plot:", os.path.join(args.output_dir, "complexity.png"))
    print("json:", os.path.join(args.output_dir, "complexity.json"))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

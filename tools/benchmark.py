#!/usr/bin/env python
"""Speed and memory of the paper's attention-strategy ablation (Li et al. 2021, table 2 style).

For a LazyConfig (ViT-B/L Mask R-CNN, ConvMAE-B, ...), on CPU or CUDA, for every
attention strategy x input size x attention path, in a *fresh subprocess per cell*
(so peaks do not contaminate each other):

* parameters of the measured module; FLOPs per image of an inference forward at that
  size, counted as detectron2's analyze_model counts (fvcore: one multiply-add = one flop;
  attention as its two matmuls, ``2*B*heads*N*N*d``, on either path; softmax, bias and
  BatchNorm not counted; ``vitdet_bench.measure.flops``);
* training step time: forward + backward + optimizer (AdamW), median over
  ``--steps`` after ``--warmup`` steps;
* inference time per image (eval, no grad), median;
* peak memory: CUDA max allocated (GPU) / peak RSS = VmHWM (CPU; reset between
  the inference and training phases through /proc/self/clear_refs).

Targets: ``backbone`` (ViT + neck: ``model.backbone``; loss = sum of outputs) or
``model`` (the full detector training step on synthetic instances).
Out of memory (CUDA OOM, or the child killed by the kernel) is reported as "OOM".
The measurements are ``vitdet_bench.measure``'s; this script parses arguments, runs the
cells and writes the table.

    python tools/benchmark.py --config-file configs/common/mask_rcnn_vit.py \\
        --sizes 512 768 1024 --strategies window window_global global_checkpoint global \\
        --device cpu --steps 2 --warmup 1 --output-dir runs/benchmark
    # GPU: --device cuda --amp bf16 --target model --batch-size 2 --sizes 1024
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import torch

import vitdet_bench  # noqa: F401  (before detectron2)
from vitdet_bench.measure import (REFERENCE, aggregate, benchmark_cell, benchmark_table, format_relative,
                                  measure_model, relative_to_reference, report_cell, run_cell_subprocess)
from vitdet_bench.measure.timing import CellSettings
from vitdet_bench.modeling.backbone import ATTENTION_STRATEGIES, quarter_block_indexes
from vitdet_bench.utils.io import atomic_write_json

STRATEGIES = ATTENTION_STRATEGIES


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and every option's default in --help."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _device(text: str) -> str:
    if text == "cpu" or text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument("--config-file", default="configs/common/mask_rcnn_vit.py",
                   help="LazyConfig whose model is measured")
    p.add_argument("--vit-path", default="model.backbone.bottom_up.net",
                   help="dotted path of the backbone family's node in the config (it receives the "
                        "attention_strategy / img_size / use_sdpa of each cell; a family that does "
                        "not support one is refused)")
    p.add_argument("--target", choices=["backbone", "model"], default="backbone",
                   help="backbone: ViT + neck (model.backbone); model: the whole detector's "
                        "training step on synthetic instances")
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES,
                   metavar="STRATEGY",
                   help=f"attention strategies to measure, any of: {', '.join(STRATEGIES)}")
    p.add_argument("--sizes", nargs="+", type=_positive_int, default=[512, 768, 1024, 1280],
                   metavar="PX", help="square input sizes (multiples of the patch size)")
    p.add_argument("--paths", nargs="+", default=["sdpa"], choices=["sdpa", "plain"],
                   help="attention path: sdpa (fused / query-blocked on CPU) or plain (reference)")
    p.add_argument("--device", type=_device, default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cpu, cuda or cuda:N; cuda when available")
    p.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none",
                   help="autocast dtype of the forward passes")
    p.add_argument("--batch-size", type=_positive_int, default=1, help="images per step")
    p.add_argument("--steps", type=_positive_int, default=5,
                   help="timed steps per cell (the median is reported)")
    p.add_argument("--warmup", type=_non_negative_int, default=2,
                   help="untimed steps before the timed ones")
    p.add_argument("--no-flops", action="store_true", help="skip the fvcore FLOP count")
    p.add_argument("--no-train", action="store_true", help="skip the training-step timing")
    p.add_argument("--no-infer", action="store_true", help="skip the inference timing")
    p.add_argument("--timeout", type=_positive_int, default=3600, help="seconds per cell")
    p.add_argument("--output-dir", default="runs/benchmark",
                   help="where benchmark.json and benchmark.png are written")
    p.add_argument("--opts", nargs="*", default=[], help="extra LazyConfig overrides key=value")
    p.add_argument("--reference", action="store_true",
                   help="also time detectron2's ViTDet backbone + simple feature pyramid of the "
                        "same width/depth (tools/reference_vitdet.py), in the same run, and print "
                        "each cell's speed and memory relative to it (backbone target only)")
    p.add_argument("--repeats", type=_positive_int, default=1,
                   help="run the whole list of cells this many times, interleaved, and report "
                        "per-cell medians (the machine's speed drifts; ratios stay comparable)")
    p.add_argument("--cell", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_cell(spec):
    """In the child process: one cell (the reference row is built here, from
    tools/reference_vitdet.py, next to this script)."""
    if spec["strategy"] != REFERENCE:
        return benchmark_cell(spec)
    from detectron2.config import LazyConfig

    from reference_vitdet import build_reference  # tools/, this script's folder

    cfg = LazyConfig.apply_overrides(LazyConfig.load(spec["config_file"]), spec["opts"])
    vit = cfg
    for part in spec["vit_path"].split("."):
        vit = vit[part]
    depth = int(vit.get("depth", 12))
    model, origin = build_reference(img_size=spec["size"], embed_dim=int(vit.get("embed_dim", 768)),
                                    depth=depth, num_heads=int(vit.get("num_heads", 12)),
                                    global_blocks=quarter_block_indexes(depth))
    return measure_model(model.to(spec["device"]), CellSettings.from_dict(spec), {"reference": origin})


# ------------------------------------------------------------------ driver
def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key, ax, lab in (("train_step_s", axes[0], "train step (s)"),
                         ("train_peak_GB", axes[1], "train peak memory (GB)")):
        for (s, pth) in sorted({(r["strategy"], r["path"]) for r in rows}):
            pts = [(r["size"], r.get(key)) for r in rows
                   if r["strategy"] == s and r["path"] == pth and r["status"] == "ok" and r.get(key)]
            if pts:
                ax.plot(*zip(*sorted(pts)), marker="o", label=f"{s} ({pth})")
            oom = [r["size"] for r in rows if r["strategy"] == s and r["path"] == pth
                   and r["status"] == "OOM"]
            for sz in oom:
                ax.annotate("OOM", (sz, 0), color="red")
        ax.set_xlabel("input size (px)"); ax.set_ylabel(lab); ax.grid(alpha=.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)
    return True


def main(argv=None):
    args = parse_args(argv)
    if args.cell:
        report_cell(run_cell, json.loads(args.cell))
        return 0
    os.makedirs(args.output_dir, exist_ok=True)
    if args.reference and args.target != "backbone":
        print("--reference times a backbone + neck; use it with --target backbone", file=sys.stderr)
        return 2
    cells = [(size, strategy, path) for size in args.sizes for strategy in args.strategies
             for path in args.paths]
    if args.reference:
        cells += [(size, REFERENCE, "plain") for size in args.sizes]
        cells.sort(key=lambda c: args.sizes.index(c[0]))
    runs = []
    for rep in range(max(1, args.repeats)):
        for size, strategy, path in cells:
            spec = dict(config_file=args.config_file, vit_path=args.vit_path, target=args.target,
                        strategy=strategy, size=size, path=path, device=args.device,
                        amp=args.amp, batch_size=args.batch_size, steps=args.steps,
                        warmup=args.warmup, no_flops=args.no_flops, no_train=args.no_train,
                        no_infer=args.no_infer, opts=args.opts)
            row = dict(strategy=strategy, size=size, path=path, repeat=rep,
                       **run_cell_subprocess(__file__, spec, args.timeout))
            runs.append(row)
            print(json.dumps(row), flush=True)
    rows = aggregate(runs, cells)
    meta = dict(config=args.config_file, target=args.target, device=args.device, amp=args.amp,
                batch_size=args.batch_size, steps=args.steps, warmup=args.warmup,
                cpu_count=os.cpu_count(), loadavg=os.getloadavg(), platform=platform.platform())
    meta["torch"] = torch.__version__
    if args.device.startswith("cuda"):
        meta["gpu"] = torch.cuda.get_device_name()
    out = os.path.join(args.output_dir, "benchmark.json")
    rel = relative_to_reference(rows)
    atomic_write_json(out, {"meta": meta, "rows": rows, "runs": runs,
                            "relative_to_reference": rel}, indent=1)
    print(benchmark_table(rows))
    if rel:
        print(format_relative(rel))
    measured = [r for r in rows if r["status"] in ("ok", "OOM")]
    if measured and plot(rows, os.path.join(args.output_dir, "benchmark.png")):
        print("plot:", os.path.join(args.output_dir, "benchmark.png"))
    print("json:", out)
    if not measured:
        print(f"benchmark: none of the {len(rows)} cells could be measured (every cell is an "
              "error or a timeout; see the error column and benchmark.json): no plot written.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

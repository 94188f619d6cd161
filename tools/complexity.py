#!/usr/bin/env python
"""The model-complexity table (Li et al. 2021): ResNet against ViT in one Mask R-CNN.

For each config (default: R50, R101, ViT-B, ViT-L, ConvMAE-B), in a fresh subprocess so
that peaks do not contaminate each other, on the machine at hand:

* parameters of the whole detector;
* FLOPs per 1024x1024 image: the whole detector's inference forward, counted as
  detectron2's ``tools/analyze_model.py`` counts (``detectron2.utils.analysis.FlopCountAnalysis``:
  fvcore, one FLOP per multiply-add, element-wise ops / BN / NMS not counted), with
  fused attention counted as its two matmuls (``tools/benchmark.py``'s handle) and
  global attention traced through SDPA; the box head on the RPN's 1000 proposals and the
  mask head on 100 detections for every model (score threshold 0: a random-weight
  model would otherwise keep anywhere from none to 100), BatchNorm statistics taken
  from one forward on the image (eval-mode BN of a random model is mean 0 / var 1);
* training step time (forward + backward + AdamW on one synthetic image with 4
  instances) and its peak memory; inference time per image, postprocessing 100
  detections (the same score threshold 0) as a trained model on COCO does. Timing and memory are
  ``tools/benchmark.py``'s (``_measure``: median over ``--steps`` after ``--warmup``;
  peak RSS on CPU, max allocated on CUDA).

Writes ``complexity.json`` (atomic), ``complexity.md`` and ``complexity.png`` into
``--output-dir`` and prints the table.

    python tools/complexity.py --output-dir runs/complexity              # the five defaults
    python tools/complexity.py --configs R50=configs/resnet/r50_mrcnn_scratch.py \\
        ViT-B=configs/mae_vitb_mrcnn.py --steps 3 --warmup 1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, REPO)

import benchmark  # noqa: E402  (tools/benchmark.py: timing, memory and the attention FLOP handle)

DEFAULT_CONFIGS = (
    ("R50", "configs/resnet/r50_mrcnn_scratch.py"),
    ("R101", "configs/resnet/r101_mrcnn_scratch.py"),
    ("ViT-B", "configs/mae_vitb_mrcnn.py"),
    ("ViT-L", "configs/mae_vitl_mrcnn.py"),
    ("ConvMAE-B", "projects/ConvMAE/configs/convmae_b_mrcnn_100ep.py"),
)
COLUMNS = (("params_M", "params (M)", "{:.1f}"), ("gflops_per_image", "GFLOPs / image", "{:.0f}"),
           ("train_step_s", "train step (s)", "{:.2f}"), ("train_peak_GB", "train peak (GB)", "{:.2f}"),
           ("infer_s_per_image", "inference (s / image)", "{:.2f}"), ("infer_peak_GB", "inference peak (GB)", "{:.2f}"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="+", default=[f"{k}={v}" for k, v in DEFAULT_CONFIGS],
                   help="LABEL=CONFIG (or CONFIG: labelled by its file name)")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--device", default="cuda" if benchmark._cuda() else "cpu")
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
    return p.parse_args(argv)


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


# ------------------------------------------------------------------ one cell
# detectron2.utils.analysis._IGNORED_OPS: what analyze_model leaves uncounted. Used only where
# that module cannot be imported (detectron2 0.6's export package needs caffe2).
_D2_IGNORED_OPS = (
    "aten::add", "aten::add_", "aten::argmax", "aten::argsort", "aten::batch_norm",
    "aten::constant_pad_nd", "aten::div", "aten::div_", "aten::exp", "aten::log2",
    "aten::max_pool2d", "aten::meshgrid", "aten::mul", "aten::mul_", "aten::neg",
    "aten::nonzero_numpy", "aten::reciprocal", "aten::rsub",
    "aten::sigmoid", "aten::sigmoid_", "aten::softmax", "aten::sort", "aten::sqrt", "aten::sub",
    "torchvision::nms",
)


def _detector_flop_analysis(model, image):
    """detectron2's FlopCountAnalysis; on detectron2 0.6 (no caffe2) the same counting with
    a small tracing wrapper: image tensor in, the detections' tensors out."""
    try:
        from detectron2.utils.analysis import FlopCountAnalysis

        return FlopCountAnalysis(model, [{"image": image}])
    except ImportError:
        import torch
        from fvcore.nn import FlopCountAnalysis as FvcoreFlops

        class Traced(torch.nn.Module):
            def __init__(self, detector):
                super().__init__()
                self.detector = detector

            def forward(self, x):
                inst = self.detector([{"image": x}])[0]["instances"]
                return tuple(inst.get(k).tensor if hasattr(inst.get(k), "tensor") else inst.get(k)
                             for k in ("pred_boxes", "scores", "pred_classes", "pred_masks") if inst.has(k))

        fca = FvcoreFlops(Traced(model), (image,))
        fca.set_op_handle(**{k: None for k in _D2_IGNORED_OPS})
        return fca


def calibrate_batchnorm(model, image):
    """Running statistics of every BatchNorm from one inference forward on ``image``.

    A random-weight model's BatchNorm in eval mode normalizes with mean 0 / variance 1:
    a from-scratch ResNet-101's features reach ~1e5, every RPN box degenerates and the
    ROI heads see no proposal (their FLOPs would count as 0). With the statistics of the
    image itself the detector runs its full inference path, as a trained one does.
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: exactly this forward's statistics
        m.train()
    with torch.no_grad():
        model([{"image": image}])
    for m, (momentum, training) in zip(norms, saved):
        m.momentum = momentum
        m.train(training)


def keep_all_detections(model):
    """Score threshold 0 in every box predictor: the mask head and the postprocessing run on
    the full ``test_topk_per_image`` (100) detections, as for a trained model on COCO. A
    random-weight model would otherwise keep anywhere from none to 100. Returns the
    previous thresholds (for :func:`restore_thresholds`)."""
    predictors = [m for m in model.modules() if hasattr(m, "test_score_thresh")]
    saved = [(m, m.test_score_thresh) for m in predictors]
    for m in predictors:
        m.test_score_thresh = 0.0
    return saved


def restore_thresholds(saved):
    for m, t in saved:
        m.test_score_thresh = t


def count_flops(model, size, device, calibrate: bool = True):
    """Whole-detector inference FLOPs for one ``size`` x ``size`` image, as analyze_model
    counts, with every model keeping 100 detections (BatchNorm statistics taken from the
    image first unless ``calibrate=False``: the caller has done it)."""
    import torch

    model.eval()
    image = torch.rand(3, size, size, device=device) * 255
    if calibrate:
        calibrate_batchnorm(model, image)
    # the one-gather CPU ROIAlign does not trace; detectron2's path computes the same numbers
    # (ROIAlign is uncounted either way)
    poolers = [m for m in model.modules() if getattr(m, "gather_on_cpu", False)]
    for m in poolers:
        m.gather_on_cpu = False
    thresholds = keep_all_detections(model)
    try:
        with torch.no_grad(), benchmark.traceable_attention():
            fca = _detector_flop_analysis(model, image)
            fca.set_op_handle("aten::scaled_dot_product_attention", benchmark._sdpa_flop_handle)
            fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            total = fca.total()
            parts = {k.split("detector.", 1)[-1]: v / 1e9 for k, v in fca.by_module().items()}
            by_module = {k: parts[k] for k in ("backbone", "proposal_generator", "roi_heads") if k in parts}
    finally:
        # a failed count must not leave the timing that follows on the slow ROIAlign path
        for m in poolers:
            m.gather_on_cpu = True
        restore_thresholds(thresholds)
    return total / 1e9, by_module


def run_cell(spec):
    import vitdet_bench  # noqa: F401  (before detectron2)
    import torch
    from detectron2.config import LazyConfig, instantiate

    torch.manual_seed(0)
    cfg = LazyConfig.apply_overrides(LazyConfig.load(spec["config_file"]), spec.get("opts", []))
    model = instantiate(cfg.model).to(spec["device"])
    # the trunk's class: ResNet, or the ViT / ConvMAE inside its multi-scale adaptor
    trunk = getattr(model.backbone, "bottom_up", model.backbone)
    res = {"backbone": type(getattr(trunk, "net", trunk)).__name__}
    # every row measured on the same terms: BatchNorm statistics of a real forward, 100
    # detections to postprocess (inference time), 1000 proposals / 100 detections (FLOPs)
    model.eval()
    calibrate_batchnorm(model, torch.rand(3, spec["size"], spec["size"], device=spec["device"]) * 255)
    keep_all_detections(model)
    if not spec["no_flops"]:
        try:
            res["gflops_per_image"], res["gflops_by_module"] = count_flops(
                model, spec["size"], spec["device"], calibrate=False)
        except Exception as e:  # noqa: BLE001
            res["gflops_error"] = repr(e)[:300]
    measure = dict(spec, target="model", amp="none", batch_size=1, no_flops=True)
    return benchmark._measure(measure, model, res)


def _limit_memory(gb):
    import resource

    cap = int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def run_cell_subprocess(spec, timeout):
    return benchmark.run_cell_subprocess(spec, timeout, script=__file__)


# ------------------------------------------------------------------ outputs
def table(rows):
    lines = ["| model | backbone | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for r in rows:
        bad = r["status"] if r["status"] != "ok" else None
        cells = []
        for key, _, fmt in COLUMNS:
            v = r.get(key)
            cells.append(fmt.format(v) if isinstance(v, (int, float)) else (bad or "-"))
        lines.append(f"| {r['label']} | {r.get('backbone', '-')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = [c for c in COLUMNS if any(isinstance(r.get(c[0]), (int, float)) for r in rows)]
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
    from vitdet_bench.utils.io import atomic_write_bytes
    import io

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
            _limit_memory(spec["mem_limit_gb"])
        try:
            res = run_cell(spec)
        except Exception as e:  # noqa: BLE001
            msg = str(e).lower()
            oom = "out of memory" in msg or "can't allocate memory" in msg or isinstance(e, MemoryError)
            res = {"status": "OOM" if oom else "error", "error": repr(e)[:500]}
        print("@@CELL " + json.dumps(res), flush=True)
        return 0
    configs = parse_configs(args.configs)
    os.makedirs(args.output_dir, exist_ok=True)
    rows = []
    for label, path in configs:
        spec = dict(config_file=path, device=args.device, size=args.size, steps=args.steps,
                    warmup=args.warmup, no_flops=args.no_flops, no_train=args.no_train,
                    no_infer=args.no_infer, mem_limit_gb=args.mem_limit_gb, opts=args.opts)
        row = dict(label=label, config=os.path.relpath(path, REPO), **run_cell_subprocess(spec, args.timeout))
        row.setdefault("backbone", "-")
        rows.append(row)
        print(json.dumps(row), flush=True)
    meta = dict(size=args.size, device=args.device, steps=args.steps, warmup=args.warmup,
                batch_size=1, cpu_count=os.cpu_count(), loadavg=os.getloadavg(),
                platform=platform.platform(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    try:
        import torch
        meta["torch"] = torch.__version__
    except Exception:  # noqa: BLE001
        pass
    from vitdet_bench.utils.io import atomic_write_json, atomic_write_text

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

#!/usr/bin/env python
"""Speed and memory of the paper's attention-strategy ablation (Li et al. 2021, table 2 style).

For a LazyConfig (ViT-B/L Mask R-CNN, ConvMAE-B, ...), on CPU or CUDA, for every
attention strategy x input size x attention path, in a *fresh subprocess per cell*
(so peaks do not contaminate each other):

* parameters of the measured module; fvcore FLOPs per image (inference forward
  at that size; attention counted as 2 matmuls = 4*B*heads*N*N*d, softmax/bias not counted);
* training step time: forward + backward + optimizer (AdamW), median over
  ``--steps`` after ``--warmup`` steps;
* inference time per image (eval, no grad), median;
* peak memory: CUDA max allocated (GPU) / peak RSS = VmHWM (CPU; reset between
  the inference and training phases through /proc/self/clear_refs).

Targets: ``backbone`` (ViT + neck: ``model.backbone``; loss = sum of outputs) or
``model`` (the full detector training step on synthetic instances).
Out of memory (CUDA OOM, or the child killed by the kernel) is reported as "OOM".

    python tools/benchmark.py --config-file configs/common/mask_rcnn_vit.py \\
        --sizes 512 768 1024 --strategies window window_global global_checkpoint global \\
        --device cpu --steps 2 --warmup 1 --output-dir runs/benchmark
    # GPU: --device cuda --amp bf16 --target model --batch-size 2 --sizes 1024
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

STRATEGIES = ("window", "window_global", "global_checkpoint", "global")
REFERENCE = "reference"  # detectron2's ViTDet backbone + SFP (tools/reference_vitdet.py)
NUMERIC = ("params_M", "gflops_per_image", "train_fwd_bwd_s", "train_step_s", "infer_s_per_image",
           "fwd_bwd_peak_GB", "train_peak_GB", "infer_peak_GB", "train_first_step_s",
           "rss_after_build_GB", "wall_s")


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
                   help="dotted path of the ViT in the config (for strategy/size/sdpa overrides)")
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
    p.add_argument("--device", type=_device, default="cuda" if _cuda() else "cpu",
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


def _cuda():
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:  # pragma: no cover
        return False


# ------------------------------------------------------------------ one cell
def _vmhwm_gb():
    from vitdet_bench.utils.memory import peak_rss_gb
    return peak_rss_gb()


def _reset_peak(device):
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    else:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
        except OSError:
            pass


def _peak_gb(device):
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**30
    return _vmhwm_gb()


@contextlib.contextmanager
def traceable_attention():
    """Global attention through SDPA (counted by :func:`_sdpa_flop_handle`) instead of the
    query-blocked CPU kernel, an autograd Function the JIT tracer cannot follow. Same
    numbers, more memory: for FLOP counting only."""
    from vitdet_bench.layers import attention

    saved = attention.CPU_CHUNKED_MIN_TOKENS
    attention.CPU_CHUNKED_MIN_TOKENS = 0
    try:
        yield
    finally:
        attention.CPU_CHUNKED_MIN_TOKENS = saved


def _sdpa_flop_handle(inputs, outputs):
    # q, k, v: (B, heads, N, d) -> QK^T and PV: 2 matmuls of B*heads*N*Nk*d MACs.
    from fvcore.nn.jit_handles import get_shape
    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    b = 1
    for s in q[:-2]:
        b *= s
    return 2 * b * q[-2] * k[-2] * q[-1]


def _synthetic_batch(size, bs, device, num_classes=80):
    import torch
    from detectron2.structures import Boxes, Instances, BitMasks
    g = torch.Generator().manual_seed(0)
    batch = []
    for _ in range(bs):
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


def run_cell(spec):
    import vitdet_bench  # noqa: F401  (before detectron2)
    import torch
    from detectron2.config import LazyConfig, instantiate

    device, size, bs = spec["device"], spec["size"], spec["batch_size"]
    cfg = LazyConfig.load(spec["config_file"])
    cfg = LazyConfig.apply_overrides(cfg, spec["opts"])
    vit = cfg
    for part in spec["vit_path"].split("."):
        vit = vit[part]
    if spec["strategy"] == REFERENCE:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from reference_vitdet import build_reference
        from vitdet_bench.modeling.backbone.vit import quarter_block_indexes

        depth = int(vit.get("depth", 12))
        model, origin = build_reference(img_size=size, embed_dim=int(vit.get("embed_dim", 768)),
                                        depth=depth, num_heads=int(vit.get("num_heads", 12)),
                                        global_blocks=quarter_block_indexes(depth))
        return _measure(spec, model.to(device), {"reference": origin})
    # Only the options the family declares (ViT / ConvMAE / iTPN supported_benchmark_options).
    options = getattr(vit.get("_target_"), "supported_benchmark_options",
                      ("attention_strategy", "img_size", "use_sdpa"))
    for key, value in (("attention_strategy", spec["strategy"]), ("img_size", size),
                       ("use_sdpa", spec["path"] == "sdpa")):
        if key in options:
            vit[key] = value
    if "drop_path_rate" in vit:
        vit.drop_path_rate = 0.0  # deterministic work per step
    for k in ("square_pad",):
        for node in (cfg.model.backbone, cfg.model.backbone.get("bottom_up", {})):
            if hasattr(node, "get") and k in node:
                node[k] = size
    if spec["target"] == "backbone":
        model = instantiate(cfg.model.backbone)
    else:
        model = instantiate(cfg.model)
    return _measure(spec, model.to(device), {})


def _measure(spec, model, res):
    import torch

    device, size, bs = spec["device"], spec["size"], spec["batch_size"]
    res["params_M"] = sum(p.numel() for p in model.parameters()) / 1e6
    amp = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[spec["amp"]]
    dev_type = "cuda" if device.startswith("cuda") else "cpu"

    def autocast():
        return torch.autocast(dev_type, dtype=amp, enabled=amp is not None)

    if spec["target"] == "backbone":
        def make_input():
            return torch.randn(bs, 3, size, size, device=device)

        def loss_fn(out):
            return sum(o.float().mean() for o in out.values())

        def infer(x):
            return model(x)
    else:
        roi_heads = getattr(model, "roi_heads", None)
        batch = _synthetic_batch(size, bs, device, int(getattr(roi_heads, "num_classes", 80)))

        def make_input():
            return batch

        def loss_fn(out):
            return sum(out.values())

        def infer(x):
            return model([{"image": d["image"], "height": size, "width": size} for d in x])

    def sync():
        if dev_type == "cuda":
            torch.cuda.synchronize()

    res["rss_after_build_GB"] = _vmhwm_gb()
    if not spec["no_flops"]:
        try:
            from fvcore.nn import FlopCountAnalysis
            model.eval()
            x1 = torch.randn(1, 3, size, size, device=device)
            arg = (x1,) if spec["target"] == "backbone" else ([{"image": x1[0]}],)
            fca = FlopCountAnalysis(model, arg).set_op_handle(
                "aten::scaled_dot_product_attention", _sdpa_flop_handle)
            fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            with torch.no_grad(), traceable_attention():
                res["gflops_per_image"] = fca.total() / 1e9
        except Exception as e:  # noqa: BLE001
            res["gflops_error"] = repr(e)[:200]

    if not spec["no_infer"]:
        model.eval()
        _reset_peak(device)
        times = []
        with torch.no_grad(), autocast():
            x = make_input()
            for i in range(spec["warmup"] + spec["steps"]):
                sync(); t = time.perf_counter()
                infer(x)
                sync(); times.append(time.perf_counter() - t)
        times = times[spec["warmup"]:]
        res["infer_s_per_image"] = statistics.median(times) / bs
        res["infer_peak_GB"] = _peak_gb(device)

    if not spec["no_train"]:
        # detectron2's detector logs training statistics to the current event storage
        from detectron2.utils.events import EventStorage

        with EventStorage(0):
            _time_training(spec, model, res, make_input, loss_fn, autocast, sync)
    res["status"] = "ok"
    return res


def _time_training(spec, model, res, make_input, loss_fn, autocast, sync):
    """Training steps (fwd + bwd + AdamW): median times and peak memory into ``res``."""
    import torch

    device = spec["device"]
    dev_type = "cuda" if device.startswith("cuda") else "cpu"
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    scaler = torch.amp.GradScaler(dev_type, enabled=spec["amp"] == "fp16")
    x = make_input()
    _reset_peak(device)
    times, fb = [], []
    for i in range(spec["warmup"] + spec["steps"]):
        sync(); t = time.perf_counter()
        with autocast():
            loss = loss_fn(model(x))
        scaler.scale(loss).backward()
        sync(); fb.append(time.perf_counter() - t)
        if i == 0:
            # Forward + backward alone (gradients allocated, no optimizer state yet):
            # the quantity upstream forward/backward memory figures quote.
            res["fwd_bwd_peak_GB"] = _peak_gb(device)
        scaler.step(opt); scaler.update()
        opt.zero_grad(set_to_none=True)
        sync(); times.append(time.perf_counter() - t)
        if i == 0:
            res["train_first_step_s"] = times[0]
    times = times[spec["warmup"]:] or times
    res["train_fwd_bwd_s"] = statistics.median(fb[spec["warmup"]:] or fb)
    res["train_step_s"] = statistics.median(times)
    res["train_steps_timed"] = len(times)
    res["train_peak_GB"] = _peak_gb(device)


# ------------------------------------------------------------------ driver
def _fmt(v, f="{:.2f}"):
    return v if isinstance(v, str) else ("-" if v is None else f.format(v))


def table(rows):
    hdr = ["strategy", "size", "path", "params(M)", "GFLOPs/img", "fwd+bwd(s)", "train step(s)",
           "infer(s/img)", "fwd+bwd peak(GB)", "train peak(GB)", "infer peak(GB)"]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for r in rows:
        bad = r["status"] if r["status"] != "ok" else None
        lines.append("| " + " | ".join([
            r["strategy"], str(r["size"]), r["path"], _fmt(r.get("params_M"), "{:.1f}"),
            _fmt(r.get("gflops_per_image"), "{:.0f}"),
            bad or _fmt(r.get("train_fwd_bwd_s")), bad or _fmt(r.get("train_step_s")),
            bad or _fmt(r.get("infer_s_per_image")), bad or _fmt(r.get("fwd_bwd_peak_GB")),
            bad or _fmt(r.get("train_peak_GB")), bad or _fmt(r.get("infer_peak_GB"))]) + " |")
    return "\n".join(lines)


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


def run_cell_subprocess(spec, timeout, script=__file__):
    """One cell in a fresh interpreter (``script --cell SPEC``, which prints one ``@@CELL``
    JSON line): its result dict (status ok / OOM / error / timeout)."""
    t0 = time.time()
    try:
        p = subprocess.run([sys.executable, os.path.abspath(script), "--cell", json.dumps(spec)],
                           capture_output=True, text=True, timeout=timeout)
        line = [ln for ln in p.stdout.splitlines() if ln.startswith("@@CELL ")]
        if line:
            res = json.loads(line[-1][7:])
        elif p.returncode in (-9, 137):  # killed by the kernel's OOM killer
            res = {"status": "OOM", "error": "killed (SIGKILL)"}
        else:
            res = {"status": "error", "error": p.stderr[-500:]}
    except subprocess.TimeoutExpired:
        res = {"status": "timeout"}
    res["wall_s"] = time.time() - t0
    return res


def aggregate(runs, cells):
    """One row per cell: medians of the numeric fields over its repeats that succeeded."""
    rows = []
    for size, strategy, path in cells:
        mine = [r for r in runs if (r["size"], r["strategy"], r["path"]) == (size, strategy, path)]
        ok = [r for r in mine if r.get("status") == "ok"]
        if not ok:
            rows.append({k: v for k, v in mine[-1].items() if k != "repeat"})
            continue
        row = {k: v for k, v in ok[0].items() if k not in NUMERIC and k != "repeat"}
        for k in NUMERIC:
            vals = [r[k] for r in ok if isinstance(r.get(k), (int, float))]
            if vals:
                row[k] = statistics.median(vals)
        row["repeats"] = len(ok)
        rows.append(row)
    return rows


def relative_to_reference(rows):
    """Per size, each cell's time and peak memory against the reference cell of that size."""
    out = []
    for ref in [r for r in rows if r["strategy"] == REFERENCE and r["status"] == "ok"]:
        for r in rows:
            if r is ref or r["size"] != ref["size"] or r["status"] != "ok":
                continue
            rel = dict(strategy=r["strategy"], path=r["path"], size=r["size"])
            for k in ("train_fwd_bwd_s", "infer_s_per_image", "fwd_bwd_peak_GB", "infer_peak_GB"):
                if r.get(k) and ref.get(k):
                    rel[k] = dict(ours=r[k], reference=ref[k], less_pct=100 * (1 - r[k] / ref[k]))
            out.append(rel)
    return out


def format_relative(rel):
    lines = ["", "Against the reference (detectron2 ViTDet backbone + SFP), same run "
             "(positive = faster / less memory):",
             "| strategy | size | path | fwd+bwd | infer | fwd+bwd peak | infer peak |",
             "|---|---|---|---|---|---|---|"]
    for r in rel:
        cells = []
        for k in ("train_fwd_bwd_s", "infer_s_per_image", "fwd_bwd_peak_GB", "infer_peak_GB"):
            v = r.get(k)
            cells.append("-" if v is None else
                         f"{v['ours']:.2f} vs {v['reference']:.2f} ({v['less_pct']:+.0f}%)")
        lines.append(f"| {r['strategy']} | {r['size']} | {r['path']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.cell:
        spec = json.loads(args.cell)
        try:
            res = run_cell(spec)
        except Exception as e:  # noqa: BLE001
            import torch
            msg = str(e).lower()
            # CUDA: OutOfMemoryError; CPU allocator: "DefaultCPUAllocator: can't allocate memory"
            oom = isinstance(e, torch.OutOfMemoryError) or "out of memory" in msg or \
                "can't allocate memory" in msg
            res = {"status": "OOM" if oom else "error", "error": repr(e)[:500]}
        print("@@CELL " + json.dumps(res), flush=True)
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
                       **run_cell_subprocess(spec, args.timeout))
            runs.append(row)
            print(json.dumps(row), flush=True)
    rows = aggregate(runs, cells)
    meta = dict(config=args.config_file, target=args.target, device=args.device, amp=args.amp,
                batch_size=args.batch_size, steps=args.steps, warmup=args.warmup,
                cpu_count=os.cpu_count(), loadavg=os.getloadavg(), platform=platform.platform())
    try:
        import torch
        meta["torch"] = torch.__version__
        if args.device.startswith("cuda"):
            meta["gpu"] = torch.cuda.get_device_name()
    except Exception:  # noqa: BLE001
        pass
    from vitdet_bench.utils.io import atomic_write_json

    out = os.path.join(args.output_dir, "benchmark.json")
    rel = relative_to_reference(rows)
    atomic_write_json(out, {"meta": meta, "rows": rows, "runs": runs,
                            "relative_to_reference": rel}, indent=1)
    print(table(rows))
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

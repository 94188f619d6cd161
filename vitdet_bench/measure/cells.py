"""Cells: one measurement of one configured model, each in a fresh interpreter.

A fresh process per cell keeps one cell's peak memory out of the next one's. A command
line runs itself with ``--cell SPEC`` (:func:`run_cell_subprocess`); the child measures
and prints one ``@@CELL`` JSON line (:func:`report_cell`); out of memory (CUDA OOM, a
failed CPU allocation, or the child killed by the kernel) is the status "OOM".
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

__all__ = ["BENCHMARK_OPTIONS", "BenchmarkOptionError", "NUMERIC", "REFERENCE", "configure_backbone",
           "build_benchmark_model", "benchmark_cell", "complexity_cell", "is_out_of_memory",
           "report_cell", "run_cell_subprocess", "aggregate", "relative_to_reference"]

CELL_PREFIX = "@@CELL "
REFERENCE = "reference"  # detectron2's ViTDet backbone + simple feature pyramid, as a row
# The backbone constructor arguments a benchmark cell sets (its strategy, size and path axes).
BENCHMARK_OPTIONS = ("attention_strategy", "img_size", "use_sdpa")
NUMERIC = ("params_M", "gflops_per_image", "train_fwd_bwd_s", "train_step_s", "infer_s_per_image",
           "fwd_bwd_peak_GB", "train_peak_GB", "infer_peak_GB", "train_first_step_s",
           "rss_after_build_GB", "wall_s")


class BenchmarkOptionError(ValueError):
    """A cell asks a backbone family for an option it does not have."""


# ------------------------------------------------------------------ building
def _node(cfg, path: str):
    node = cfg
    for part in path.split("."):
        try:
            node = node[part]
        except (KeyError, TypeError) as e:
            raise BenchmarkOptionError(
                f"the config has no node {path!r} (missing {part!r}); pass the dotted path of the "
                "backbone family's node, e.g. model.backbone.bottom_up.net for the ViT") from e
    return node


def _target_class(node):
    target = node.get("_target_") if hasattr(node, "get") else None
    if isinstance(target, str):
        from detectron2.utils.registry import locate

        target = locate(target)
    return target


def configure_backbone(node, path: str, **options) -> None:
    """Set benchmark ``options`` (names in :data:`BENCHMARK_OPTIONS`) on a config node.

    A family states the options it supports as ``supported_benchmark_options`` on its
    class; one it does not support is refused (never set and ignored). A class that
    states nothing gets them all.
    """
    cls = _target_class(node)
    supported = getattr(cls, "supported_benchmark_options", None)
    if supported is not None:
        refused = [k for k in options if k not in supported]
        if refused:
            name = getattr(cls, "__qualname__", str(cls))
            raise BenchmarkOptionError(
                f"{path} ({name}) does not support the benchmark option(s) "
                f"{', '.join(refused)}: it supports {', '.join(sorted(supported)) or 'none'}. "
                "Measure it without that axis (e.g. only the strategy its config uses).")
    for k, v in options.items():
        node[k] = v
    if "drop_path_rate" in node:
        node.drop_path_rate = 0.0  # the same work every step


def build_benchmark_model(spec: Dict):
    """The model of one benchmark cell: ``spec`` names ``config_file``, ``opts``,
    ``vit_path`` (the backbone family's node), ``strategy``, ``size``, ``path``
    ("sdpa" or "plain") and ``target``."""
    import vitdet_bench  # noqa: F401  (before detectron2)
    from detectron2.config import LazyConfig, instantiate

    cfg = LazyConfig.apply_overrides(LazyConfig.load(spec["config_file"]), spec.get("opts", []))
    node = _node(cfg, spec["vit_path"])
    cls = _target_class(node)
    strategies = getattr(cls, "supported_attention_strategies", None)
    if strategies is not None and spec["strategy"] not in strategies:
        raise BenchmarkOptionError(
            f"{spec['vit_path']} ({getattr(cls, '__qualname__', cls)}) does not support "
            f"attention_strategy={spec['strategy']!r}: it supports {', '.join(strategies)}. "
            "Measure it with --strategies " + " ".join(strategies) + ".")
    options = dict(attention_strategy=spec["strategy"], use_sdpa=spec["path"] == "sdpa")
    supported = getattr(cls, "supported_benchmark_options", None)
    # img_size is a build-time grid size; a family without one follows its input's size.
    if supported is None or "img_size" in supported:
        options["img_size"] = spec["size"]
    configure_backbone(node, spec["vit_path"], **options)
    for node in (cfg.model.backbone, cfg.model.backbone.get("bottom_up", {})):
        if hasattr(node, "get") and "square_pad" in node:
            node["square_pad"] = spec["size"]
    return instantiate(cfg.model.backbone if spec["target"] == "backbone" else cfg.model)


def benchmark_cell(spec: Dict) -> Dict:
    """One cell of the attention-strategy benchmark (``tools/benchmark.py``)."""
    from .timing import CellSettings, measure_model

    settings = CellSettings.from_dict(spec)
    model = build_benchmark_model(spec).to(settings.device)
    return measure_model(model, settings)


def complexity_cell(spec: Dict) -> Dict:
    """One row of the model-complexity table (``tools/complexity.py``): the whole detector of
    ``spec["config_file"]`` at ``spec["size"]``, every row on the same terms: BatchNorm
    statistics from a forward on the image, 100 detections kept (FLOPs: 1000 proposals and
    100 detections; inference time: 100 detections postprocessed)."""
    import torch

    import vitdet_bench  # noqa: F401  (before detectron2)
    from detectron2.config import LazyConfig, instantiate

    from .flops import calibrate_batchnorm, detector_flops, keep_all_detections
    from .timing import CellSettings, measure_model

    torch.manual_seed(0)
    cfg = LazyConfig.apply_overrides(LazyConfig.load(spec["config_file"]), spec.get("opts", []))
    model = instantiate(cfg.model).to(spec["device"])
    # the trunk's class: ResNet, or the ViT / ConvMAE inside its multi-scale adaptor
    trunk = getattr(model.backbone, "bottom_up", model.backbone)
    res = {"backbone": type(getattr(trunk, "net", trunk)).__name__}
    model.eval()
    calibrate_batchnorm(model, torch.rand(3, spec["size"], spec["size"], device=spec["device"]) * 255)
    keep_all_detections(model)
    if not spec.get("no_flops"):
        try:
            res["gflops_per_image"], res["gflops_by_module"] = detector_flops(
                model, spec["size"], spec["device"], calibrate=False)
        except Exception as e:  # noqa: BLE001  reported in the row; the timing still runs
            res["gflops_error"] = repr(e)[:300]
    settings = CellSettings.from_dict(dict(spec, target="model", amp="none", batch_size=1, no_flops=True))
    return measure_model(model, settings, res)


# ------------------------------------------------------------------ processes
def is_out_of_memory(error: BaseException) -> bool:
    """CUDA's OutOfMemoryError, the CPU allocator's failure, or Python's MemoryError."""
    import torch

    msg = str(error).lower()
    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in msg \
        or "can't allocate memory" in msg


def report_cell(measure: Callable[[Dict], Dict], spec: Dict) -> Dict:
    """In the child: ``measure(spec)``, any failure as a status, printed as one ``@@CELL`` line."""
    try:
        res = measure(spec)
    except Exception as e:  # noqa: BLE001  every failure is a cell's status, not a crash
        res = {"status": "OOM" if is_out_of_memory(e) else "error", "error": repr(e)[:500]}
    print(CELL_PREFIX + json.dumps(res), flush=True)
    return res


def run_cell_subprocess(script: str, spec: Dict, timeout: float, cwd: Optional[str] = None) -> Dict:
    """``python script --cell SPEC`` in a fresh interpreter: its result dict (status ok / OOM /
    error / timeout) with the cell's wall time."""
    t0 = time.time()
    try:
        p = subprocess.run([sys.executable, os.path.abspath(script), "--cell", json.dumps(spec)],
                           capture_output=True, text=True, timeout=timeout, cwd=cwd)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith(CELL_PREFIX)]
        if lines:
            res = json.loads(lines[-1][len(CELL_PREFIX):])
        elif p.returncode in (-9, 137):  # killed by the kernel's OOM killer
            res = {"status": "OOM", "error": "killed (SIGKILL)"}
        else:
            res = {"status": "error", "error": p.stderr[-500:]}
    except subprocess.TimeoutExpired:
        res = {"status": "timeout"}
    res["wall_s"] = time.time() - t0
    return res


# ------------------------------------------------------------------ results
def aggregate(runs: List[Dict], cells: Sequence[tuple]) -> List[Dict]:
    """One row per ``(size, strategy, path)`` cell: medians of the numeric fields over its
    repeats that succeeded (the last failure's row where none did)."""
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


def relative_to_reference(rows: List[Dict]) -> List[Dict]:
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

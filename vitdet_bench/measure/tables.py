"""Markdown tables of the measurements (benchmark cells, the complexity table)."""
from __future__ import annotations

from typing import Dict, List

__all__ = ["benchmark_table", "format_relative", "COMPLEXITY_COLUMNS", "complexity_table"]

COMPLEXITY_COLUMNS = (
    ("params_M", "params (M)", "{:.1f}"), ("gflops_per_image", "GFLOPs / image", "{:.0f}"),
    ("train_step_s", "train step (s)", "{:.2f}"), ("train_peak_GB", "train peak (GB)", "{:.2f}"),
    ("infer_s_per_image", "inference (s / image)", "{:.2f}"),
    ("infer_peak_GB", "inference peak (GB)", "{:.2f}"))


def _fmt(v, f="{:.2f}"):
    return v if isinstance(v, str) else ("-" if v is None else f.format(v))


def benchmark_table(rows: List[Dict]) -> str:
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


def format_relative(rel: List[Dict]) -> str:
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


def complexity_table(rows: List[Dict]) -> str:
    lines = ["| model | backbone | " + " | ".join(h for _, h, _ in COMPLEXITY_COLUMNS) + " |",
             "|---|---|" + "---|" * len(COMPLEXITY_COLUMNS)]
    for r in rows:
        bad = r["status"] if r["status"] != "ok" else None
        cells = []
        for key, _, fmt in COMPLEXITY_COLUMNS:
            v = r.get(key)
            cells.append(fmt.format(v) if isinstance(v, (int, float)) else (bad or "-"))
        lines.append(f"| {r['label']} | {r.get('backbone', '-')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

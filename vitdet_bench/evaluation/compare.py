"""Comparing runs: the grouped error chart, and the benchmark table over run folders.

* :func:`compare_reports` puts several ``report.json`` (e.g. MAE, BEiT, MoCo v3,
  supervised, random) into one table and one grouped bar chart of dAP per
  error type, like the paper's error-analysis figure.
* :func:`collect_runs` reads run folders (``config.yaml`` from
  ``LazyConfig.save``, ``report.json``, ``eval_<iter>/report.json``,
  ``metrics.json``), identifies each run from its saved config and writes the
  paper-style table (APbox / APmask per initialization x model size x epochs) as
  markdown and CSV, plus a convergence plot (AP vs fine-tuning epochs).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
from dataclasses import asdict, dataclass, field

from ..utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .inputs import EvaluationInputError
from .report import ERROR_COLORS, ERROR_LABELS, _png
from .tide import MAIN_ERRORS, SPECIAL_ERRORS

__all__ = ["load_report", "compare_reports", "RunInfo", "read_run", "find_runs",
           "collect_runs", "INIT_ORDER", "SIZE_DIMS"]

logger = logging.getLogger(__name__)
INIT_ORDER = ("random", "supervised", "mocov3", "beit", "mae")
INIT_LABELS = {"random": "random", "supervised": "supervised", "mocov3": "MoCo v3",
               "beit": "BEiT", "mae": "MAE"}
SIZE_DIMS = {192: "T", 384: "S", 768: "B", 1024: "L"}
SIZE_ORDER = ("T", "S", "B", "L")


class RunFolderError(EvaluationInputError):
    pass


# --------------------------------------------------------------------------- compare mode
def load_report(path: str) -> dict:
    """A report.json, or a folder holding one."""
    p = os.path.join(path, "report.json") if os.path.isdir(path) else path
    if not os.path.isfile(p):
        raise RunFolderError(f"No report at {path!r}: expected a report.json file or a folder "
                             "containing one (written by tools/analyze.py or train_net).")
    try:
        with open(p, encoding="utf-8") as f:
            rep = json.load(f)
    except json.JSONDecodeError as e:
        raise RunFolderError(f"Report {p!r} is not valid JSON: {e}.") from e
    if not isinstance(rep, dict) or not any(t in rep for t in ("bbox", "segm")):
        raise RunFolderError(f"Report {p!r} has neither a 'bbox' nor a 'segm' section.")
    return rep


def compare_reports(entries, output_dir: str, iou_types=("bbox", "segm"), charts: bool = True) -> dict:
    """``entries``: ``[(label, report dict or path), ...]``; writes compare.{json,md} and charts."""
    runs = [(label, rep if isinstance(rep, dict) else load_report(rep)) for label, rep in entries]
    if not runs:
        raise ValueError("compare needs at least one report.")
    types = [t for t in iou_types if any(t in r for _, r in runs)]
    if not types:
        raise RunFolderError(f"None of the reports has a section for {tuple(iou_types)}.")
    os.makedirs(output_dir, exist_ok=True)
    table = {t: {label: {"coco": r[t]["coco"], "errors": r[t]["errors"]}
                 for label, r in runs if t in r} for t in types}
    lines = ["# Run comparison", ""]
    for t in types:
        lines += [f"## {t}", "", "| run | AP | AP50 | AP75 | " +
                  " | ".join(ERROR_LABELS[e] for e in MAIN_ERRORS + SPECIAL_ERRORS) + " |",
                  "|---|---:|---:|---:|" + "---:|" * 8]
        for label, row in table[t].items():
            c, e = row["coco"], row["errors"]
            lines.append(f"| {label} | " + " | ".join(
                "n/a" if c[m] is None else f"{c[m]:.2f}" for m in ("AP", "AP50", "AP75")) + " | " +
                " | ".join(f"{e[k]:.2f}" for k in MAIN_ERRORS + SPECIAL_ERRORS) + " |")
        lines += ["", "dAP at TIDE foreground IoU "
                  f"{next(iter(r[t].get('errors_iou', 0.5) for _, r in runs if t in r)):g}.", ""]
        if charts:
            fname = f"compare_errors_{t}.png"
            atomic_write_bytes(os.path.join(output_dir, fname), compare_chart_png(table[t], t))
            lines += [f"![{t} error comparison]({fname})", ""]
    atomic_write_json(os.path.join(output_dir, "compare.json"), table)
    atomic_write_text(os.path.join(output_dir, "compare.md"), "\n".join(lines) + "\n")
    return table


def compare_chart_png(rows: dict, iou_type: str) -> bytes:
    """Grouped bars: one group per error type, one bar per run."""
    import matplotlib
    from matplotlib.figure import Figure

    labels = list(rows)
    kinds = MAIN_ERRORS + SPECIAL_ERRORS
    cmap = matplotlib.colormaps["tab10"]
    fig = Figure(figsize=(max(7, 1.1 * len(kinds) * max(1, len(labels)) / 3), 3.8))
    ax = fig.subplots()
    w = 0.8 / len(labels)
    for j, label in enumerate(labels):
        xs = [i + (j - (len(labels) - 1) / 2) * w for i in range(len(kinds))]
        ax.bar(xs, [rows[label]["errors"][k] for k in kinds], width=w, color=cmap(j % 10),
               label=label, edgecolor="black", linewidth=0.4)
    ax.set_xticks(range(len(kinds)), [ERROR_LABELS[k] for k in kinds])
    ax.axvline(len(MAIN_ERRORS) - 0.5, color="gray", linewidth=0.8, linestyle=":")
    ax.set_ylabel(f"dAP$^{{{'box' if iou_type == 'bbox' else 'mask'}}}$ (AP points)")
    ax.set_title(f"Error-type breakdown per run ({iou_type})", fontsize=10)
    ax.legend(fontsize=8, ncol=min(len(labels), 5))
    return _png(fig)


# --------------------------------------------------------------------------- run folders
@dataclass
class RunInfo:
    run_dir: str
    init: str
    model_size: str
    epochs: int | None
    ap_box: float | None
    ap_mask: float | None
    source: str                                   # report.json / metrics.json / none
    history: list = field(default_factory=list)   # [(iteration, ap_box, ap_mask)]
    max_iter: int | None = None


def _yaml_load(path: str) -> dict:
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    def _any(loader, suffix, node):  # python/object tags LazyConfig may leave: keep the data
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    _Loader.add_multi_constructor("", _any)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_Loader)
    except yaml.YAMLError as e:
        raise RunFolderError(f"Run config {path!r} is not valid YAML: {e}.") from e
    if not isinstance(data, dict):
        raise RunFolderError(f"Run config {path!r} is not a mapping.")
    return data


def _get(cfg: dict, dotted: str):
    cur = cfg
    for k in dotted.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def _init_from_checkpoint(ckpt) -> str:
    if not ckpt:
        return "random"
    name = os.path.basename(str(ckpt)).lower()
    for key, init in (("mae", "mae"), ("beit", "beit"), ("moco", "mocov3"), ("deit", "supervised"),
                      ("supervised", "supervised")):
        if key in name:
            return init
    return f"unknown({os.path.basename(str(ckpt))})"


def _size(cfg: dict) -> str:
    explicit = _get(cfg, "train.vitdet_bench.model_size")
    if explicit:
        return str(explicit).upper()
    dim = _get(cfg, "model.backbone.net.embed_dim")
    try:
        return SIZE_DIMS.get(int(dim), f"dim{dim}")
    except (TypeError, ValueError):
        return "?"


def _ap_from_report(rep: dict, t: str):
    sec = rep.get(t)
    v = sec["coco"].get("AP") if isinstance(sec, dict) and isinstance(sec.get("coco"), dict) else None
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _metrics_json(path: str) -> list:
    """(iteration, bbox/AP, segm/AP) of each evaluation line in detectron2's metrics.json."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if "bbox/AP" in rec or "segm/AP" in rec:
                vals = [rec.get("bbox/AP"), rec.get("segm/AP")]
                vals = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in vals]
                out.append((rec.get("iteration"), *vals))
    return out


def read_run(run_dir: str) -> RunInfo:
    """Identify a run from ``config.yaml`` and read its final and intermediate APs."""
    cfg_path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(cfg_path):
        raise RunFolderError(f"{run_dir!r} has no config.yaml (detectron2 LazyConfig.save output); "
                             "runs are identified from their saved config, not folder names.")
    cfg = _yaml_load(cfg_path)
    init = _get(cfg, "train.vitdet_bench.init") or _init_from_checkpoint(_get(cfg, "train.init_checkpoint"))
    epochs = _get(cfg, "train.vitdet_bench.epochs")
    if epochs is None:
        logger.warning("%s: config has no train.vitdet_bench.epochs; epochs unknown.", run_dir)
    max_iter = _get(cfg, "train.max_iter")
    history = []
    for name in sorted(os.listdir(run_dir)):
        m = re.fullmatch(r"eval_(\d+)", name)
        p = os.path.join(run_dir, name, "report.json")
        if m and os.path.isfile(p):
            rep = load_report(p)
            history.append((int(m.group(1)), _ap_from_report(rep, "bbox"), _ap_from_report(rep, "segm")))
    history.sort(key=lambda h: h[0])
    metrics = os.path.join(run_dir, "metrics.json")
    mhist = _metrics_json(metrics) if os.path.isfile(metrics) else []
    if not history:
        history = [h for h in mhist if h[0] is not None]
    final = os.path.join(run_dir, "report.json")
    if os.path.isfile(final):
        rep = load_report(final)
        ap_box, ap_mask, source = _ap_from_report(rep, "bbox"), _ap_from_report(rep, "segm"), "report.json"
    elif mhist:
        _, ap_box, ap_mask = mhist[-1]
        source = "metrics.json"
    elif history:
        _, ap_box, ap_mask = history[-1]
        source = "eval report"
    else:
        ap_box = ap_mask = None
        source = "none"
        logger.warning("%s: no report.json and no evaluation in metrics.json.", run_dir)
    return RunInfo(run_dir=run_dir, init=str(init).lower().replace("moco_v3", "mocov3"),
                   model_size=_size(cfg), epochs=None if epochs is None else int(epochs),
                   ap_box=ap_box, ap_mask=ap_mask, source=source, history=history,
                   max_iter=None if max_iter is None else int(max_iter))


def find_runs(paths) -> list:
    """Folders holding a config.yaml, under each of ``paths`` (a run folder or a root)."""
    found = []
    for p in paths:
        if not os.path.isdir(p):
            raise RunFolderError(f"{p!r} is not a folder.")
        for root, dirs, files in os.walk(p):
            dirs.sort()
            if "config.yaml" in files:
                found.append(root)
                dirs[:] = [d for d in dirs if not re.fullmatch(r"eval_\d+|inference", d)]
    return sorted(set(found))


def _order(seq, known):
    return sorted(seq, key=lambda x: (known.index(x) if x in known else len(known), str(x)))


def _cell(vals):
    vals = [v for v in vals if v is not None]
    return None if not vals else sum(vals) / len(vals)


def collect_runs(paths, output_dir: str, charts: bool = True) -> list:
    """Benchmark table (markdown + CSV) and convergence plot over the runs under ``paths``."""
    runs = [read_run(d) for d in find_runs(paths)]
    if not runs:
        raise RunFolderError(f"No run folder (with config.yaml) under {list(paths)}.")
    os.makedirs(output_dir, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["init", "model_size", "epochs", "ap_box", "ap_mask", "source", "run_dir"])
    for r in sorted(runs, key=lambda r: (r.init, r.model_size, r.epochs or 0, r.run_dir)):
        w.writerow([r.init, r.model_size, "" if r.epochs is None else r.epochs,
                    "" if r.ap_box is None else f"{r.ap_box:.4f}",
                    "" if r.ap_mask is None else f"{r.ap_mask:.4f}", r.source, r.run_dir])
    atomic_write_text(os.path.join(output_dir, "benchmark.csv"), buf.getvalue())
    inits = _order({r.init for r in runs}, INIT_ORDER)
    cols = sorted({(r.model_size, r.epochs) for r in runs},
                  key=lambda c: (SIZE_ORDER.index(c[0]) if c[0] in SIZE_ORDER else 9, str(c[0]),
                                 c[1] if c[1] is not None else 1 << 30))
    head = [f"ViT-{s} {e if e is not None else '?'}ep" for s, e in cols]
    lines = ["# Benchmark: AP^box / AP^mask", "",
             "| initialization | " + " | ".join(head) + " |", "|---|" + "---:|" * len(cols)]
    for init in inits:
        cells = []
        for s, e in cols:
            sel = [r for r in runs if r.init == init and r.model_size == s and r.epochs == e]
            if not sel:
                cells.append("")
                continue
            b, m = _cell([r.ap_box for r in sel]), _cell([r.ap_mask for r in sel])
            txt = f"{'-' if b is None else f'{b:.1f}'} / {'-' if m is None else f'{m:.1f}'}"
            cells.append(txt + (f" (mean of {len(sel)})" if len(sel) > 1 else ""))
        lines.append(f"| {INIT_LABELS.get(init, init)} | " + " | ".join(cells) + " |")
    lines += ["", f"{len(runs)} runs; identified from config.yaml "
              "(train.vitdet_bench.* keys, else train.init_checkpoint / embed_dim).", ""]
    if charts:
        atomic_write_bytes(os.path.join(output_dir, "convergence.png"), convergence_png(runs))
        lines += ["![AP vs fine-tuning epochs](convergence.png)", ""]
    atomic_write_text(os.path.join(output_dir, "benchmark.md"), "\n".join(lines))
    atomic_write_json(os.path.join(output_dir, "benchmark.json"), [asdict(r) for r in runs])
    return runs


def convergence_png(runs: list) -> bytes:
    """AP vs fine-tuning epochs, one line per initialization, one panel per model size."""
    import matplotlib
    from matplotlib.figure import Figure

    sizes = _order({r.model_size for r in runs}, SIZE_ORDER)
    inits = _order({r.init for r in runs}, INIT_ORDER)
    cmap = matplotlib.colormaps["tab10"]
    fig = Figure(figsize=(4.2 * len(sizes), 3.6))
    axes = fig.subplots(1, len(sizes), squeeze=False)[0]
    for ax, s in zip(axes, sizes):
        for j, init in enumerate(inits):
            pts = [(r.epochs, r.ap_box, r.ap_mask) for r in runs
                   if r.model_size == s and r.init == init and r.epochs is not None]
            if not pts:
                continue
            by_ep = {}
            for e, b, m in pts:
                by_ep.setdefault(e, []).append((b, m))
            eps = sorted(by_ep)
            box = [_cell([b for b, _ in by_ep[e]]) for e in eps]
            msk = [_cell([m for _, m in by_ep[e]]) for e in eps]
            c = cmap(j % 10)
            if any(v is not None for v in box):
                ax.plot(eps, [float("nan") if v is None else v for v in box], "o-", color=c,
                        label=f"{INIT_LABELS.get(init, init)} box")
            if any(v is not None for v in msk):
                ax.plot(eps, [float("nan") if v is None else v for v in msk], "s--", color=c,
                        alpha=0.7, label=f"{INIT_LABELS.get(init, init)} mask")
        ax.set_title(f"ViT-{s}", fontsize=10)
        ax.set_xlabel("fine-tuning epochs")
        ax.set_ylabel("AP")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)

"""Run folders: which setting a run is, grouping seeds, and the paper-style benchmark table.

A run is identified from its saved ``config.yaml`` (detectron2 ``LazyConfig.save``),
never from its folder name:

* :func:`identify_run` reads one folder: the backbone family (the trunk's class:
  ``ViT``, ``ConvMAE``, ``ResNet``, ...), its size, the initialization, the recipe, and
  the schedule it actually trained (``train.max_iter`` x ``total_batch_size`` /
  ``train.num_train_images``; the ``train.vitdet_bench.epochs`` label is not trusted);
  plus its final AP (``report.json``, else ``metrics.json``) and history.
* Runs whose configs are equal in everything but ``train.seed`` and output paths are
  one *setting* (their seeds): :func:`group_runs`. Runs that differ in anything else
  never share a group; where two settings would get the same row label, the label is
  extended by what differs, with a warning.
* :func:`collect_runs` writes ``benchmark.md`` (rows: initialization; columns:
  backbone size x epochs; cells ``APbox / APmask`` as mean ± std (n) over seeds),
  ``benchmark.csv`` (one row per run), ``benchmark.json`` and ``convergence.png``.
  LVIS runs (a report with federated AP) count their federated AP as AP, and get
  APr / APc / APf: a table in ``benchmark.md`` and columns in ``benchmark.csv``.

Other tools (e.g. a study launcher) call :func:`identify_run` / :func:`group_runs`.
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
from .compare import RunFolderError, load_report
from .report import _png

__all__ = ["RunInfo", "RunGroup", "identify_run", "read_run", "find_runs", "group_runs",
           "collect_runs", "headline_ap", "lvis_frequency_aps", "INIT_ORDER", "SIZE_DIMS",
           "IGNORED_KEYS", "LVIS_COLUMNS"]

logger = logging.getLogger(__name__)
INIT_ORDER = ("random", "supervised", "mocov3", "beit", "mae")
INIT_LABELS = {"random": "random", "supervised": "supervised", "mocov3": "MoCo v3",
               "beit": "BEiT", "mae": "MAE"}
SIZE_DIMS = {192: "T", 384: "S", 768: "B", 1024: "L", 1280: "H"}
SIZE_ORDER = ("T", "S", "B", "L", "H")
# not part of what was trained: the seed (runs differing only in it are one setting's
# seeds), where the run wrote its files
IGNORED_KEYS = ("train.seed", "train.output_dir")
# LVIS's per-frequency APs (rare / common / frequent categories), per task
LVIS_FREQUENCY_METRICS = ("APr", "APc", "APf")
LVIS_COLUMNS = tuple(f"{m.lower()}_{t}" for t in ("box", "mask") for m in LVIS_FREQUENCY_METRICS)
# necks / adaptors around the trunk, skipped when looking for the backbone family
_NECKS = {"ViTFPN", "FPN", "SimpleFeaturePyramid", "MultiScaleAdaptor", "LastLevelMaxPool"}


@dataclass
class RunInfo:
    run_dir: str
    init: str
    model_size: str
    epochs: float | None            # the schedule actually trained
    ap_box: float | None
    ap_mask: float | None
    source: str                     # report.json / metrics.json / eval report / none
    history: list = field(default_factory=list)   # [(iteration, ap_box, ap_mask)]
    max_iter: int | None = None
    family: str = "?"
    recipe: str | None = None
    batch: int | None = None
    num_images: int | None = None
    seed: int | None = None
    epochs_source: str = "schedule"  # schedule / train.epochs / label / none
    last_iter: int | None = None    # last logged iteration (metrics.json)
    setting: str = ""               # grouping key (hash of the config minus IGNORED_KEYS)
    config: dict = field(default_factory=dict, repr=False)
    # LVIS runs: {"apr_box": .., "apc_box": .., "apf_box": .., "apr_mask": ..}; None otherwise
    lvis: dict | None = None

    @property
    def arch(self) -> str:
        return f"{self.family}-{self.model_size}"


# --------------------------------------------------------------------------- config reading
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


def _flatten(d, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _setting_key(cfg: dict) -> dict:
    return {k: v for k, v in _flatten(cfg).items()
            if k not in IGNORED_KEYS and not k.endswith("output_dir")}


def _class_name(target) -> str:
    return str(target).rsplit(".", 1)[-1].rsplit(":", 1)[-1]


def _trunk(cfg: dict):
    """(class name, node) of the backbone trunk: the first non-neck of net / bottom_up / backbone."""
    for path in ("model.backbone.net", "model.backbone.bottom_up.net", "model.backbone.bottom_up",
                 "model.backbone"):
        node = _get(cfg, path)
        if isinstance(node, dict) and node.get("_target_"):
            name = _class_name(node["_target_"])
            if name not in _NECKS:
                return name, node
    return "?", {}


def _size(cfg: dict, family: str, trunk: dict) -> str:
    explicit = _get(cfg, "train.vitdet_bench.model_size")
    if explicit:
        return str(explicit).upper() if len(str(explicit)) <= 2 else str(explicit)
    resnet_depth = _get(trunk, "stages.depth") or (
        trunk.get("depth") if family.lower().startswith("resnet") else None)
    if resnet_depth:
        return f"R{resnet_depth}"
    dim = trunk.get("embed_dim")
    if dim is None and isinstance(trunk.get("embed_dims"), (list, tuple)):
        dim = trunk["embed_dims"][-1]
    try:
        return SIZE_DIMS.get(int(dim), f"d{int(dim)}")
    except (TypeError, ValueError):
        return "?"


def _init(cfg: dict) -> str:
    explicit = _get(cfg, "train.vitdet_bench.init")
    if explicit:
        return str(explicit).lower().replace("moco_v3", "mocov3")
    ckpt = _get(cfg, "train.init_checkpoint")
    fmt = _get(cfg, "train.init_format")
    if not ckpt:
        return "random"
    if fmt and fmt not in ("auto", "random"):
        return str(fmt).lower()
    name = os.path.basename(str(ckpt)).lower()
    for key, init in (("mae", "mae"), ("beit", "beit"), ("moco", "mocov3"), ("deit", "supervised"),
                      ("supervised", "supervised")):
        if key in name:
            return init
    return f"unknown({os.path.basename(str(ckpt))})"


def _int(v):
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _schedule(cfg: dict, run_dir: str):
    """(epochs trained, how it was found, max_iter, batch, images)."""
    max_iter = _int(_get(cfg, "train.max_iter"))
    batch = _int(_get(cfg, "dataloader.train.total_batch_size"))
    images = _int(_get(cfg, "train.num_train_images"))
    if max_iter and batch and images:
        return max_iter * batch / images, "schedule", max_iter, batch, images
    if _get(cfg, "train.epochs") is not None:
        # max_iter was computed from train.epochs at start-up (tools/train_net.py)
        return float(_get(cfg, "train.epochs")), "train.epochs", max_iter, batch, images
    label = _get(cfg, "train.vitdet_bench.epochs")
    if label is not None:
        logger.warning("%s: the config has no train.num_train_images / total_batch_size to "
                       "compute the trained schedule from; using the label "
                       "train.vitdet_bench.epochs=%s, which overrides of train.max_iter do not "
                       "update.", run_dir, label)
        return float(label), "label", max_iter, batch, images
    logger.warning("%s: the trained schedule is unknown (no train.max_iter x total_batch_size / "
                   "num_train_images, no train.epochs).", run_dir)
    return None, "none", max_iter, batch, images


def _number(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def headline_ap(rep: dict, t: str):
    """A report's AP for ``t`` ("bbox" / "segm"): LVIS federated AP when the report has it
    (LVIS-format ground truth: the AP LVIS results are quoted in), else COCO AP."""
    sec = rep.get(t) if isinstance(rep, dict) else None
    if not isinstance(sec, dict):
        return None
    for kind in ("lvis", "coco"):
        if isinstance(sec.get(kind), dict):
            return _number(sec[kind].get("AP"))
    return None


_ap_from_report = headline_ap


def lvis_frequency_aps(rep: dict):
    """``{"apr_box": .., "apc_box": .., ..., "apf_mask": ..}`` of an LVIS report (None
    where a task or value is absent), or None when the report has no federated AP."""
    out, found = {}, False
    for t, short in (("bbox", "box"), ("segm", "mask")):
        sec = rep.get(t) if isinstance(rep, dict) else None
        lv = sec.get("lvis") if isinstance(sec, dict) else None
        found = found or isinstance(lv, dict)
        for m in LVIS_FREQUENCY_METRICS:
            out[f"{m.lower()}_{short}"] = _number(lv.get(m)) if isinstance(lv, dict) else None
    return out if found else None


def _metrics_json(path: str):
    """(evaluations [(iteration, bbox/AP, segm/AP)], last logged iteration) of metrics.json."""
    out, last = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if isinstance(rec.get("iteration"), int):
                last = rec["iteration"] if last is None else max(last, rec["iteration"])
            if "bbox/AP" in rec or "segm/AP" in rec:
                vals = [rec.get("bbox/AP"), rec.get("segm/AP")]
                vals = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in vals]
                out.append((rec.get("iteration"), *vals))
    return out, last


def identify_run(run_dir: str) -> RunInfo:
    """Identify a run from ``config.yaml`` and read its final and intermediate APs."""
    cfg_path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(cfg_path):
        raise RunFolderError(f"{run_dir!r} has no config.yaml (detectron2 LazyConfig.save output); "
                             "runs are identified from their saved config, not folder names.")
    cfg = _yaml_load(cfg_path)
    family, trunk = _trunk(cfg)
    epochs, ep_src, max_iter, batch, images = _schedule(cfg, run_dir)
    history = []
    for name in sorted(os.listdir(run_dir)):
        m = re.fullmatch(r"eval_(\d+)", name)
        p = os.path.join(run_dir, name, "report.json")
        if m and os.path.isfile(p):
            rep = load_report(p)
            history.append((int(m.group(1)), _ap_from_report(rep, "bbox"), _ap_from_report(rep, "segm")))
    history.sort(key=lambda h: h[0])
    metrics = os.path.join(run_dir, "metrics.json")
    mhist, last = _metrics_json(metrics) if os.path.isfile(metrics) else ([], None)
    if not history:
        history = [h for h in mhist if h[0] is not None]
    final = next((p for p in (os.path.join(run_dir, "report.json"),
                              os.path.join(run_dir, "inference", "report.json")) if os.path.isfile(p)),
                 None)
    lvis = None
    if final:
        rep = load_report(final)
        ap_box, ap_mask, source = _ap_from_report(rep, "bbox"), _ap_from_report(rep, "segm"), "report.json"
        lvis = lvis_frequency_aps(rep)
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
    if max_iter and last is not None and last + 1 < max_iter:
        logger.warning("%s: metrics.json ends at iteration %d of train.max_iter=%d: the run did "
                       "not finish its schedule.", run_dir, last, max_iter)
    setting = _setting_key(cfg)
    import hashlib

    key = hashlib.sha1(json.dumps(setting, sort_keys=True, default=str).encode()).hexdigest()[:12]
    recipe = _get(cfg, "train.vitdet_bench.recipe")
    return RunInfo(run_dir=run_dir, init=_init(cfg), model_size=_size(cfg, family, trunk),
                   epochs=epochs, ap_box=ap_box, ap_mask=ap_mask, source=source, history=history,
                   max_iter=max_iter, family=family, recipe=None if recipe is None else str(recipe),
                   batch=batch, num_images=images, seed=_int(_get(cfg, "train.seed")),
                   epochs_source=ep_src, last_iter=last, setting=key, config=setting, lvis=lvis)


read_run = identify_run   # the name before run grouping existed


def find_runs(paths) -> list:
    """Folders holding a config.yaml under each of ``paths`` (a run folder or a root).

    Symlinked folders are followed (each real folder once, so link loops end).
    """
    found, seen = [], set()
    for p in paths:
        if not os.path.isdir(p):
            raise RunFolderError(f"{p!r} is not a folder.")
        for root, dirs, files in os.walk(p, followlinks=True):
            real = os.path.realpath(root)
            if real in seen:
                dirs[:] = []
                continue
            seen.add(real)
            dirs.sort()
            if "config.yaml" in files:
                found.append(root)
                dirs[:] = [d for d in dirs if not re.fullmatch(r"eval_\d+|inference", d)]
    return sorted(set(found))


# --------------------------------------------------------------------------- grouping
def _fmt_epochs(e) -> str:
    if e is None:
        return "?ep"
    return f"{round(e, 2):g}ep"


@dataclass
class RunGroup:
    """Runs of one setting (equal configs up to the seed)."""
    setting: str
    runs: list
    init_label: str            # row label (initialization, extended where settings collide)
    column: str                # family-size [recipe] epochs

    def mean_std(self, attr: str):
        vals = [getattr(r, attr) for r in self.runs if getattr(r, attr) is not None]
        if not vals:
            return None, None, 0
        m = sum(vals) / len(vals)
        sd = (sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5 if len(vals) > 1 else None
        return m, sd, len(vals)


def _column(r: RunInfo) -> str:
    rec = f" {r.recipe}" if r.recipe else ""
    return f"{r.arch}{rec} {_fmt_epochs(r.epochs)}"


def _short(v) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return s if len(s) <= 24 else s[:21] + "..."


def group_runs(runs) -> list:
    """Group runs by setting; settings sharing a (row, column) get what differs in the row label."""
    by = {}
    for r in runs:
        by.setdefault(r.setting, []).append(r)
    groups = [RunGroup(k, sorted(v, key=lambda r: (r.seed is None, r.seed, r.run_dir)),
                       INIT_LABELS.get(v[0].init, v[0].init), _column(v[0])) for k, v in by.items()]
    cells = {}
    for g in groups:
        cells.setdefault((g.init_label, g.column), []).append(g)
    for (row, col), gs in cells.items():
        if len(gs) < 2:
            continue
        cfgs = [g.runs[0].config for g in gs]
        keys = sorted({k for c in cfgs for k in c if any(c.get(k) != c2.get(k) for c2 in cfgs)})
        for g in gs:
            c = g.runs[0].config
            g.init_label = f"{row} [" + ", ".join(f"{k}={_short(c.get(k))}" for k in keys[:3]) + \
                (f", +{len(keys) - 3} more" if len(keys) > 3 else "") + "]"
        logger.warning("%d settings would share the cell (%s, %s) but differ in %s; they are "
                       "shown in separate rows: %s.", len(gs), row, col, ", ".join(keys[:8]),
                       "; ".join(f"{g.init_label}: {', '.join(r.run_dir for r in g.runs)}" for g in gs))
    return groups


def _order(seq, known):
    return sorted(seq, key=lambda x: (known.index(x) if x in known else len(known), str(x)))


def _cell(g: RunGroup) -> str:
    parts = []
    for attr in ("ap_box", "ap_mask"):
        m, sd, n = g.mean_std(attr)
        parts.append("-" if m is None else f"{m:.1f}" + (f" ± {sd:.1f}" if sd is not None else ""))
    n = len(g.runs)
    return " / ".join(parts) + (f" ({n})" if n > 1 else "")


def collect_runs(paths, output_dir: str, charts: bool = True) -> list:
    """Benchmark table (markdown + CSV) and convergence plot over the runs under ``paths``."""
    runs = [identify_run(d) for d in find_runs(paths)]
    if not runs:
        raise RunFolderError(f"No run folder (with config.yaml) under {list(paths)}.")
    groups = group_runs(runs)
    group_of = {id(r): g for g in groups for r in g.runs}
    os.makedirs(output_dir, exist_ok=True)
    any_lvis = any(r.lvis for r in runs)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["setting", "row", "column", "init", "family", "model_size", "epochs", "max_iter",
                "batch", "num_images", "seed", "ap_box", "ap_mask", "source", "run_dir"]
               + (list(LVIS_COLUMNS) if any_lvis else []))
    for r in sorted(runs, key=lambda r: (r.init, r.arch, r.epochs or 0, r.seed or 0, r.run_dir)):
        g = group_of[id(r)]
        w.writerow([r.setting, g.init_label, g.column, r.init, r.family, r.model_size,
                    "" if r.epochs is None else f"{r.epochs:.4g}", r.max_iter or "", r.batch or "",
                    r.num_images or "", "" if r.seed is None else r.seed,
                    "" if r.ap_box is None else f"{r.ap_box:.4f}",
                    "" if r.ap_mask is None else f"{r.ap_mask:.4f}", r.source, r.run_dir]
                   + ([_csv_number((r.lvis or {}).get(c)) for c in LVIS_COLUMNS] if any_lvis else []))
    atomic_write_text(os.path.join(output_dir, "benchmark.csv"), buf.getvalue())
    rows = _order({g.init_label for g in groups},
                  [INIT_LABELS.get(i, i) for i in INIT_ORDER])
    sizes = {g.column: g.runs[0] for g in groups}
    cols = sorted(sizes, key=lambda c: (sizes[c].family, SIZE_ORDER.index(sizes[c].model_size)
                                        if sizes[c].model_size in SIZE_ORDER else 9,
                                        sizes[c].model_size, sizes[c].recipe or "",
                                        sizes[c].epochs if sizes[c].epochs is not None else 1e30))
    lines = ["# Benchmark: AP^box / AP^mask", "",
             "| initialization | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for row in rows:
        cells = []
        for c in cols:
            g = next((g for g in groups if g.init_label == row and g.column == c), None)
            cells.append("" if g is None else _cell(g))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", f"{len(runs)} runs in {len(groups)} settings. A cell is one setting: runs "
              "whose config.yaml agree in everything but train.seed and output paths; "
              "several runs show mean ± std (n). Epochs are the trained schedule, "
              "train.max_iter x total batch / training images.", ""]
    if any_lvis:
        lines += _lvis_table(rows, cols, groups)
    if charts:
        atomic_write_bytes(os.path.join(output_dir, "convergence.png"), convergence_png(groups))
        lines += ["![AP vs fine-tuning epochs](convergence.png)", ""]
        note = convergence_note(groups)
        if note:
            lines += [note, ""]
    atomic_write_text(os.path.join(output_dir, "benchmark.md"), "\n".join(lines))
    atomic_write_json(os.path.join(output_dir, "benchmark.json"), {
        "runs": [{k: v for k, v in asdict(r).items() if k != "config"} for r in runs],
        "settings": [{"setting": g.setting, "row": g.init_label, "column": g.column,
                      "runs": [r.run_dir for r in g.runs],
                      "ap_box": g.mean_std("ap_box")[:2], "ap_mask": g.mean_std("ap_mask")[:2],
                      **({c: _lvis_mean(g, c) for c in LVIS_COLUMNS} if any_lvis else {})}
                     for g in groups]})
    return runs


def _csv_number(v) -> str:
    return "" if v is None else f"{v:.4f}"


def _lvis_mean(g: RunGroup, column: str):
    """Mean over the setting's runs of one LVIS column (None when no run has it)."""
    vals = [r.lvis[column] for r in g.runs if r.lvis and r.lvis.get(column) is not None]
    return sum(vals) / len(vals) if vals else None


def _lvis_table(rows, cols, groups) -> list:
    """benchmark.md's LVIS table: APr / APc / APf (box, then mask) of the LVIS settings."""
    lines = ["## LVIS: AP^box r / c / f, AP^mask r / c / f", "",
             "| initialization | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for row in rows:
        cells = []
        for c in cols:
            g = next((g for g in groups if g.init_label == row and g.column == c), None)
            if g is None or not any(r.lvis for r in g.runs):
                cells.append("")
                continue
            parts = []
            for task in ("box", "mask"):
                vals = [_lvis_mean(g, f"{m.lower()}_{task}") for m in LVIS_FREQUENCY_METRICS]
                parts.append(" / ".join("-" if v is None else f"{v:.1f}" for v in vals))
            cells.append(" ; ".join(parts) + (f" ({len(g.runs)})" if len(g.runs) > 1 else ""))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", "LVIS runs: AP above is LVIS federated AP; APr / APc / APf over rare / "
              "common / frequent categories (means over a setting's runs).", ""]
    return lines


def _panel(g: RunGroup) -> str:
    return g.runs[0].arch + (f" {g.runs[0].recipe}" if g.runs[0].recipe else "")


def convergence_curves(groups: list):
    """What the convergence plot draws: ``(curves, single)``.

    ``curves``: one dict per (architecture panel, row, box/mask) whose runs have AP at two
    or more schedules (epochs): ``panel, row, kind, epochs, ap, err_low, err_high``, the
    error bar being the seed std clipped to [0, 100] AP. ``single``: ``(panel, row,
    epochs)`` of the rows with one schedule only, which get no curve (one point says
    nothing about convergence).
    """
    panels = sorted({_panel(g) for g in groups})
    rows = _order({g.init_label for g in groups}, [INIT_LABELS.get(i, i) for i in INIT_ORDER])
    curves, single = [], []
    for panel in panels:
        for row in rows:
            gs = sorted((g for g in groups if g.init_label == row and _panel(g) == panel
                         and g.runs[0].epochs is not None), key=lambda g: g.runs[0].epochs)
            if not gs:
                continue
            if len({g.runs[0].epochs for g in gs}) < 2:
                single.append((panel, row, gs[0].runs[0].epochs))
                continue
            for attr, kind in (("ap_box", "box"), ("ap_mask", "mask")):
                pts = [(g.runs[0].epochs, *g.mean_std(attr)[:2]) for g in gs]
                pts = [p for p in pts if p[1] is not None]
                if len({p[0] for p in pts}) < 2:
                    continue
                curves.append({"panel": panel, "row": row, "kind": kind,
                               "epochs": [p[0] for p in pts], "ap": [p[1] for p in pts],
                               "err_low": [min(p[2] or 0.0, max(p[1], 0.0)) for p in pts],
                               "err_high": [min(p[2] or 0.0, max(100.0 - p[1], 0.0))
                                            for p in pts]})
    return curves, single


def convergence_note(groups: list) -> str:
    """Why rows have no curve in convergence.png (empty when every row has one)."""
    curves, single = convergence_curves(groups)
    if not single:
        return ""
    which = "; ".join(f"{panel}: {row} ({_fmt_epochs(e)})" for panel, row, e in single)
    if not curves:
        return ("No convergence curve is drawn: a curve needs runs of one row at two or more "
                "schedules (different train.epochs or train.max_iter), and every row here has "
                f"a single schedule ({which}).")
    return f"Rows without a curve (a single schedule each): {which}."


def convergence_figure(groups: list):
    """AP vs fine-tuning epochs, one line per row label with two or more schedules, one
    panel per architecture; a panel without any such row says so."""
    import matplotlib
    from matplotlib.figure import Figure

    curves, _ = convergence_curves(groups)
    panels = sorted({_panel(g) for g in groups})
    rows = _order({g.init_label for g in groups}, [INIT_LABELS.get(i, i) for i in INIT_ORDER])
    cmap = matplotlib.colormaps["tab10"]
    fig = Figure(figsize=(4.2 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        mine = [c for c in curves if c["panel"] == panel]
        for c in mine:
            box = c["kind"] == "box"
            ax.errorbar(c["epochs"], c["ap"], yerr=[c["err_low"], c["err_high"]],
                        fmt="o-" if box else "s--", color=cmap(rows.index(c["row"]) % 10),
                        capsize=3, alpha=1.0 if box else 0.7, label=f"{c['row']} {c['kind']}")
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("fine-tuning epochs")
        ax.set_ylabel("AP")
        ax.grid(alpha=0.3)
        if mine:
            ax.legend(fontsize=7)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "no curve: every row has a single\nschedule (see benchmark.md)",
                    ha="center", va="center", transform=ax.transAxes, fontsize=9, color="#444444")
    return fig


def convergence_png(groups: list) -> bytes:
    """:func:`convergence_figure` as PNG bytes."""
    return _png(convergence_figure(groups))

"""The evaluation report: ``report.json`` (stable schema), ``report.md`` and PNG charts.

``report.json`` (all values in AP points, 0-100, like detectron2's evaluator;
``null`` where COCOeval leaves a value undefined)::

    {"schema_version": 2, "run": name, "dataset": name, "gt": path, "results": path,
     "gt_fingerprint": sha256 of the evaluated GT content,
     "bootstrap": null | {"resamples", "seed", "level", "unit": "images", "interval": kind},
     "num_images": .., "num_detections": .., "num_detections_in_file": ..,
     "skipped": {"unknown_image_id": n, "unknown_category_id": n},
     "notes": {"empty_box": n}, "not_evaluated": {iou_type: reason},
     "bbox": {"coco": {"AP", "AP50", "AP75", "APs", "APm", "APl",
                       "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"},
              "per_category": {name: AP},
              "errors": {"cls", "loc", "both", "dup", "bkg", "miss", "fp", "fn"},
              "errors_iou": 0.5,
              "error_counts": {"cls", .., "miss", "fp", "fn", "tp", "ignored_crowd"},
              "errors_by_iou": {"0.5": {"ap": TIDE AP, "errors": {...}, "counts": {...}}},
              "coco_backend": "vectorized", "charts": {...},
              "coco_interval": {"AP": [lo, hi], ... AP50..APl} (with a bootstrap),
              "lvis_interval": {"AP": ..., APr, APc, APf} (LVIS ground truth, with a bootstrap),
              "lvis": {AP..APf, AR@300..ARl@300}, "per_frequency": {r/c/f: {name: AP}}
                       (LVIS-format ground truth only: lvis_eval)},
     "segm": {...}, "timing_s": {...}}
"""
from __future__ import annotations

import io
import logging
import os
import re
import time

from ..utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .coco_metrics import METRIC_NAMES, coco_metrics
from .inputs import load_ground_truth, load_results
from .tide import MAIN_ERRORS, SPECIAL_ERRORS, tide_errors

__all__ = ["build_report", "write_report", "render_markdown", "error_chart_png",
           "per_category_chart_png", "error_figure", "per_category_figure", "run_name_of",
           "dataset_name_of", "ERROR_LABELS", "ERROR_COLORS", "SCHEMA_VERSION"]

logger = logging.getLogger(__name__)
SCHEMA_VERSION = 2   # 2: run, gt_fingerprint, bootstrap / coco_interval
ERROR_LABELS = {"cls": "Cls", "loc": "Loc", "both": "Cls+Loc", "dup": "Dup", "bkg": "Bkg",
                "miss": "Miss", "fp": "FalsePos", "fn": "FalseNeg"}
HATCHES = ("", "///", "...", "xxx", "\\\\\\")
ERROR_COLORS = {"cls": "#fc8d62", "loc": "#ffd92f", "both": "#8da0cb", "dup": "#e78ac3",
                "bkg": "#66c2a5", "miss": "#a6d854", "fp": "#e5c494", "fn": "#b3b3b3"}


def run_name_of(results_path: str) -> str:
    """A run's name from its results file: the run folder (above inference/ or eval_N/)."""
    d = os.path.dirname(os.path.abspath(str(results_path)))
    while os.path.basename(d) in ("inference",) or re.fullmatch(r"eval_\d+", os.path.basename(d)):
        d = os.path.dirname(d)
    return os.path.basename(d) or str(results_path)


def dataset_name_of(gt_path: str) -> str:
    """A dataset's name from its GT file: the file stem, or the folder for generic names."""
    p = os.path.abspath(str(gt_path))
    stem = os.path.splitext(os.path.basename(p))[0]
    if stem.lower() in ("annotations", "annotation", "gt", "ground_truth", "instances",
                        "ground_truth_evaluable", "coco"):
        d = os.path.dirname(p)
        while os.path.basename(d) in ("annotations", "inference") and os.path.dirname(d) != d:
            d = os.path.dirname(d)
        return os.path.basename(d) or stem
    return stem


def build_report(gt_json, results_json, iou_types=("bbox", "segm"), tide_thresholds=(0.5,),
                 dataset_name: str | None = None, backend: str = "auto",
                 progress: bool | None = None, strict_iou_types: bool = False,
                 run_name: str | None = None, bootstrap: int = 0,
                 bootstrap_seed: int = 0, jobs: int = 1, interval: str | None = None) -> dict:
    """Compute the report dict (nothing is written).

    ``bootstrap`` > 0 adds each IoU type's ``coco_interval``: 95% intervals of AP..APl
    over that many resamples of the images (:mod:`.bootstrap`), of kind ``interval``
    (default ``bootstrap.DEFAULT_INTERVAL``, the kind whose measured coverage is closest
    to nominal; docs/analysis.md).
    """
    from .bootstrap import DEFAULT_INTERVAL, INTERVAL_KINDS

    interval = interval or DEFAULT_INTERVAL
    if interval not in INTERVAL_KINDS:
        raise ValueError(f"Unknown interval kind {interval!r}; expected one of {INTERVAL_KINDS}.")
    from tqdm import tqdm

    if isinstance(iou_types, str):
        iou_types = ("bbox", "segm") if iou_types == "both" else (iou_types,)
    thresholds = tuple(float(t) for t in tide_thresholds) or (0.5,)
    timing = {}
    t0 = time.perf_counter()
    gt = load_ground_truth(gt_json, iou_types=())
    timing["load_gt"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = load_results(results_json, gt, iou_types, strict_iou_types=strict_iou_types,
                       progress=progress)
    timing["load_results"] = time.perf_counter() - t0
    not_evaluated = {t: f"the results carry no {'bbox' if t == 'bbox' else 'segmentation'}"
                     for t in iou_types if t not in res.iou_types}
    if "segm" in res.iou_types and not gt.has_segm:
        if strict_iou_types:
            gt = load_ground_truth(gt_json, iou_types=("segm",))  # raises, naming the annotation
        not_evaluated["segm"] = "the ground truth has annotations without 'segmentation'"
    types = [t for t in res.iou_types if t not in not_evaluated]
    for t, why in not_evaluated.items():
        logger.warning("Not evaluating %s: %s.", t, why)
    for k, v in res.skipped.items():
        if v:
            logger.warning("Skipped %d detections of %s: %s.", v, res.path, k.replace("_", " "))
    if res.notes.get("empty_box"):
        logger.warning("%d detections of %s have an empty box (w or h = 0); they are scored as "
                       "false positives, as pycocotools does.", res.notes["empty_box"], res.path)

    report = {
        "schema_version": SCHEMA_VERSION,
        "run": run_name or (run_name_of(res.path) if res.path != "<list>" else None),
        "dataset": dataset_name or (dataset_name_of(gt.path) if gt.path != "<dict>" else None),
        "gt_fingerprint": gt.fingerprint(),
        "bootstrap": ({"resamples": int(bootstrap), "seed": int(bootstrap_seed), "level": 0.95,
                       "unit": "images", "interval": interval} if bootstrap else None),
        "gt": gt.path,
        "results": res.path,
        "num_images": len(gt.image_ids),
        "num_detections": len(res.detections),
        "num_detections_in_file": res.num_in_file,
        "skipped": dict(res.skipped),
        "notes": dict(res.notes),
        "not_evaluated": not_evaluated,
        "tide_thresholds": list(thresholds),
    }
    from .lvis_eval import federated_detections, is_lvis, lvis_metrics

    lvis = is_lvis(gt)
    stages = tqdm(total=2 * len(types), desc="report", disable=progress is False or None,
                  leave=False)
    for t in types:
        t0 = time.perf_counter()
        stages.set_postfix_str(f"{t}: COCO metrics")
        cm = coco_metrics(gt, res.detections, t, backend=backend, progress=progress)
        timing[f"{t}_coco"] = time.perf_counter() - t0
        stages.update()
        t0 = time.perf_counter()
        stages.set_postfix_str(f"{t}: TIDE")
        # on LVIS, TIDE sees the detections federated evaluation counts (report.md says so)
        tide_dets = federated_detections(gt, res.detections) if lvis else res.detections
        tide = tide_errors(gt, tide_dets, t, thresholds=thresholds, progress=progress)
        timing[f"{t}_tide"] = time.perf_counter() - t0
        stages.update()
        main = 0.5 if 0.5 in tide else thresholds[0]
        by_iou = {}
        for th, r in tide.items():
            by_iou[f"{th:g}"] = {"ap": r.ap, "errors": {**r.errors, **r.special},
                                 "counts": r.counts}
        report[t] = {
            "coco": cm["coco"],
            "per_category": cm["per_category"],
            "errors": by_iou[f"{main:g}"]["errors"],
            "errors_iou": main,
            "error_counts": tide[main].counts,
            "errors_by_iou": by_iou,
            "coco_backend": cm["backend"],
        }
        if lvis:      # federated AP, the LVIS figures (APr/c/f); equal to lvis-api's
            t0 = time.perf_counter()
            lm = lvis_metrics(gt, res.detections, t, progress=progress)
            report[t]["lvis"] = lm["lvis"]
            report[t]["per_frequency"] = lm["per_frequency"]
            timing[f"{t}_lvis"] = time.perf_counter() - t0
        if bootstrap:
            t0 = time.perf_counter()
            report[t]["coco_interval"] = _coco_interval(gt, res.detections, t, bootstrap,
                                                        bootstrap_seed, progress, jobs, interval)
            if lvis:      # the same resamples, each image with its federated lists
                report[t]["lvis_interval"] = _coco_interval(
                    gt, res.detections, t, bootstrap, bootstrap_seed, progress, jobs, interval,
                    federated=True)
            timing[f"{t}_bootstrap"] = time.perf_counter() - t0
    stages.close()
    report["timing_s"] = timing
    return report


def _coco_interval(gt, detections, iou_type, resamples, seed, progress, jobs=1,
                   interval: str | None = None, federated: bool = False) -> dict:
    """Intervals of AP..APl (COCO); ``federated``: of LVIS's AP..APf instead."""
    import numpy as np

    from .bootstrap import (DEFAULT_INTERVAL, JACKKNIFE_KINDS, ResampledCOCO, bootstrap_interval,
                            bootstrap_stats, jackknife_stats)
    from .coco_fast import match
    from .lvis_eval import METRIC_NAMES as LVIS_METRIC_NAMES
    from .lvis_eval import resampled

    if federated:
        rs = resampled(gt, detections, iou_type, progress=progress)
    else:
        rs = ResampledCOCO(match(gt, detections, iou_type, progress=progress))
    full = rs.stats(np.ones(rs.n_img, np.int64), recall=False)
    full = np.where(full < 0, np.nan, full * 100)
    st = bootstrap_stats([rs], resamples, seed, progress, desc=f"bootstrap {iou_type}", jobs=jobs,
                         recall=False)[0]
    st = np.where(st < 0, np.nan, st * 100)
    names = LVIS_METRIC_NAMES[:9] if federated else METRIC_NAMES[:6]
    jk = [None] * len(names)
    if (interval or DEFAULT_INTERVAL) in JACKKNIFE_KINDS:
        jk = jackknife_stats([rs], seed=seed)[0]
        jk = np.where(jk < 0, np.nan, jk * 100).T
    return {m: bootstrap_interval(st[:, k], full[k], kind=interval or DEFAULT_INTERVAL,
                                  jackknife=jk[k])
            for k, m in enumerate(names)}


def write_report(gt_json: str, results_json: str, output_dir: str,
                 iou_types=("bbox", "segm"), tide_thresholds=(0.5,),
                 dataset_name: str | None = None, *, backend: str = "auto",
                 progress: bool | None = None, charts: bool = True,
                 strict_iou_types: bool = False, run_name: str | None = None,
                 bootstrap: int = 0, bootstrap_seed: int = 0, jobs: int = 1,
                 interval: str | None = None) -> dict:
    """Evaluate ``results_json`` against ``gt_json``; write report.json, report.md and charts.

    ``iou_types`` the results do not carry (masks of a box-only model) are listed
    under ``"not_evaluated"`` unless ``strict_iou_types``, which raises instead.
    Every file is written atomically. Returns the report dict.
    """
    t0 = time.perf_counter()
    report = build_report(gt_json, results_json, iou_types, tide_thresholds, dataset_name,
                          backend, progress, strict_iou_types, run_name, bootstrap, bootstrap_seed,
                          jobs, interval)
    os.makedirs(output_dir, exist_ok=True)
    t1 = time.perf_counter()
    if charts:
        for t in ("bbox", "segm"):
            if t not in report:
                continue
            files = {"errors": f"errors_{t}.png", "per_category": f"per_category_{t}.png"}
            atomic_write_bytes(os.path.join(output_dir, files["errors"]), error_chart_png(report, t))
            atomic_write_bytes(os.path.join(output_dir, files["per_category"]),
                               per_category_chart_png(report, t))
            report[t]["charts"] = files
    report["timing_s"]["charts"] = time.perf_counter() - t1
    report["timing_s"]["total"] = time.perf_counter() - t0
    atomic_write_json(os.path.join(output_dir, "report.json"), report)
    atomic_write_text(os.path.join(output_dir, "report.md"), render_markdown(report))
    return report


# --------------------------------------------------------------------------- markdown
def _f(x, nd=2) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def render_markdown(report: dict) -> str:
    out = [f"# Evaluation report: {_title(report)}", "",
           f"- ground truth: `{report['gt']}` ({report['num_images']} images)",
           f"- results: `{report['results']}` ({report['num_detections']} detections evaluated"
           f" of {report['num_detections_in_file']} in the file)"]
    skipped = {k: v for k, v in report.get("skipped", {}).items() if v}
    if skipped:
        out.append("- skipped: " + ", ".join(f"{v} ({k.replace('_', ' ')})" for k, v in skipped.items()))
    if report.get("notes", {}).get("empty_box"):
        out.append(f"- {report['notes']['empty_box']} empty boxes (w or h = 0), scored as false "
                   "positives like pycocotools")
    for t, why in report.get("not_evaluated", {}).items():
        out.append(f"- {t} not evaluated: {why}")
    types = [t for t in ("bbox", "segm") if t in report]
    if types:
        out += ["", "## COCO metrics", "",
                "| metric | " + " | ".join(types) + " |",
                "|---|" + "---:|" * len(types)]
        for m in METRIC_NAMES:
            out.append(f"| {m} | " + " | ".join(
                _f(report[t]["coco"][m]) + _ci(report[t].get("coco_interval", {}).get(m))
                for t in types) + " |")
        lv = [t for t in types if report[t].get("lvis")]
        if lv:
            out += ["", "## LVIS federated AP", "",
                    "Per image only its annotated and negative categories count; 300 "
                    "detections per image; APr/APc/APf over rare/common/frequent categories. "
                    "The COCO metrics above and the TIDE errors below are not federated (TIDE "
                    "sees only the detections of each image's annotated and negative "
                    "categories, and counts unmatched ones of not-exhaustive categories as "
                    "background errors): read LVIS results from this table.", "",
                    "| metric | " + " | ".join(lv) + " |", "|---|" + "---:|" * len(lv)]
            for m in report[lv[0]]["lvis"]:
                out.append(f"| {m} | " + " | ".join(
                    _f(report[t]["lvis"][m]) + _ci(report[t].get("lvis_interval", {}).get(m))
                    for t in lv) + " |")
        if report.get("bootstrap"):
            b = report["bootstrap"]
            out += ["", f"[lo, hi]: {b['level']:.0%} bootstrap interval "
                    f"({b.get('interval', 'percentile')}) over the evaluation set "
                    f"({b['resamples']} resamples of its images, seed {b['seed']}); it covers "
                    "which images were evaluated, not the training seed."]
        out += ["", "## Error breakdown (TIDE)", "",
                "dAP: AP points gained by fixing that error type alone (TIDE's AP, foreground "
                "IoU as given, background IoU 0.1). FalsePos / FalseNeg: all false positives / "
                "all false negatives fixed.", ""]
        for t in types:
            r = report[t]
            out += [f"### {t}", "", "| IoU | TIDE AP | " + " | ".join(
                ERROR_LABELS[e] for e in MAIN_ERRORS + SPECIAL_ERRORS) + " |",
                "|---|---:|" + "---:|" * 8]
            for th, e in r["errors_by_iou"].items():
                out.append(f"| {th} | {_f(e['ap'])} | " + " | ".join(
                    _f(e["errors"][k]) for k in MAIN_ERRORS + SPECIAL_ERRORS) + " |")
            c = r["error_counts"]
            out += ["", f"Counts at IoU {r['errors_iou']:g}: " + ", ".join(
                f"{ERROR_LABELS.get(k, k)} {c[k]}" for k in MAIN_ERRORS) +
                f"; true positives {c['tp']}, false positives {c['fp']}, false negatives "
                f"{c['fn']}, ignored (crowd) {c['ignored_crowd']}.", ""]
            if "charts" in r:
                out += [f"![{t} errors]({r['charts']['errors']})", ""]
        out += ["## Per-category AP", ""]
        for t in types:
            items = list(report[t]["per_category"].items())
            out += [f"### {t}", "", "| category | AP | category | AP | category | AP |",
                    "|---|---:|---|---:|---|---:|"]
            for i in range(0, len(items), 3):
                row = items[i:i + 3] + [("", None)] * (3 - len(items[i:i + 3]))
                out.append("| " + " | ".join(f"{k} | {_f(v) if k else ''}" for k, v in row) + " |")
            if "charts" in report[t]:
                out += ["", f"![{t} per-category AP]({report[t]['charts']['per_category']})"]
            out.append("")
    tm = report.get("timing_s", {})
    if tm:
        out += ["## Timing", "", ", ".join(f"{k} {v:.2f} s" for k, v in tm.items()), ""]
    return "\n".join(out) + "\n"


def _ci(ci) -> str:
    return f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""


def _title(report: dict) -> str:
    run, ds = report.get("run"), report.get("dataset")
    if run and ds:
        return f"{run} on {ds}"
    return run or ds or os.path.basename(str(report.get("gt")))


# --------------------------------------------------------------------------- charts
def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def error_chart_png(report: dict, iou_type: str) -> bytes:
    return _png(error_figure(report, iou_type))


def error_figure(report: dict, iou_type: str):
    """Horizontal bars: dAP per main error type, and FalsePos / FalseNeg, per IoU threshold."""
    from matplotlib.figure import Figure

    r = report[iou_type]
    ths = list(r["errors_by_iou"])
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1.3]})
    for ax, kinds, title in ((axes[0], MAIN_ERRORS, "main errors"),
                             (axes[1], SPECIAL_ERRORS, "special errors")):
        h = 0.8 / len(ths)
        for j, th in enumerate(ths):
            vals = [r["errors_by_iou"][th]["errors"][k] for k in kinds]
            ys = [i + (j - (len(ths) - 1) / 2) * h for i in range(len(kinds))]
            bars = ax.barh(ys, vals, height=h, color=[ERROR_COLORS[k] for k in kinds],
                           edgecolor="black", linewidth=0.5, hatch=HATCHES[j % len(HATCHES)])
            for b, v in zip(bars, vals):
                ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {v:.2f}",
                        va="center", fontsize=8)
        ax.set_yticks(range(len(kinds)), [ERROR_LABELS[k] for k in kinds])
        ax.invert_yaxis()
        ax.set_xlabel("dAP (AP points)")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, max([max(r["errors_by_iou"][th]["errors"][k] for k in kinds) for th in ths]
                           + [0.5]) * 1.25)
        if len(ths) > 1:
            from matplotlib.patches import Patch

            ax.legend(handles=[Patch(facecolor="white", edgecolor="black", hatch=HATCHES[j % len(HATCHES)],
                                     label=f"IoU {th}") for j, th in enumerate(ths)], fontsize=7)
    fig.suptitle(f"TIDE error breakdown ({iou_type}): {_title(report)}; TIDE AP@{ths[0]} = "
                 f"{r['errors_by_iou'][ths[0]]['ap']:.2f}", fontsize=10)
    return fig


def per_category_chart_png(report: dict, iou_type: str) -> bytes:
    return _png(per_category_figure(report, iou_type))


def per_category_figure(report: dict, iou_type: str):
    """Vertical bars: COCO AP per category, sorted, with the mean AP as a line.

    Tick labels stay readable: horizontal and full size for a few categories, slanted
    for a few dozen, vertical and small only for COCO's 80.
    """
    from matplotlib.figure import Figure

    r = report[iou_type]
    items = sorted(((k, v) for k, v in r["per_category"].items() if v is not None),
                   key=lambda kv: -kv[1])
    n = len(items)
    fig = Figure(figsize=(max(6, (0.16 if n > 30 else 0.4) * n + 2), 4))
    ax = fig.subplots()
    bars = ax.bar(range(n), [v for _, v in items], color="#4c72b0")
    if n <= 12:
        ax.set_xticks(range(n), [k for k, _ in items], rotation=0, fontsize=9)
        ax.bar_label(bars, labels=[f"{v:.1f}" for _, v in items], fontsize=8, padding=2)
    elif n <= 30:
        ax.set_xticks(range(n), [k for k, _ in items], rotation=45, ha="right", fontsize=8)
    else:
        ax.set_xticks(range(n), [k for k, _ in items], rotation=90, fontsize=6)
    if r["coco"]["AP"] is not None:
        ax.axhline(r["coco"]["AP"], color="#c44e52", linestyle="--", linewidth=1,
                   label=f"AP = {r['coco']['AP']:.2f}")
        ax.legend(fontsize=8)
    ax.set_ylabel(f"AP ({iou_type})")
    ax.set_xlim(-0.6, len(items) - 0.4)
    missing = len(r["per_category"]) - len(items)
    ax.set_title(f"Per-category AP ({iou_type}): {_title(report)}" +
                 (f"; {missing} categories without GT not shown" if missing else ""), fontsize=10)
    return fig

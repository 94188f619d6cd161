"""Comparing runs: is a difference real? One table, intervals, p-values, charts.

:func:`compare_reports` puts several labelled runs (e.g. MAE, BEiT, MoCo v3,
supervised, random; each label one run or several seeds of one setting) into
``compare.md`` / ``compare.json`` and two charts per IoU type: AP with its
bootstrap interval, and the grouped dAP-per-error-type bars of the paper's
error-analysis figure.

Evaluation-set noise is measured by a paired bootstrap over images
(:mod:`.bootstrap`): every run is evaluated on the same resamples, a label's
value on a resample is the mean over its runs, and a difference between two
labels gets its 95% bootstrap interval and a two-sided p-value. Training
noise is the spread over a label's runs (seeds): mean +- std (n). See
docs/analysis.md, "Is a difference real?".
"""
from __future__ import annotations

import json
import logging
import os

import numpy as np

from ..utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .inputs import EvaluationInputError
from .report import ERROR_LABELS, _png
from .tide import MAIN_ERRORS, SPECIAL_ERRORS

__all__ = ["load_report", "compare_reports", "compare_chart_png", "ap_chart_png",
           "RunFolderError", "CI_METRICS", "COMPARE_SCHEMA_VERSION"]

logger = logging.getLogger(__name__)
CI_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
# LVIS runs (reports with federated AP): LVIS's AP and its rare / common / frequent APs
LVIS_CI_METRICS = CI_METRICS + ("APr", "APc", "APf")
COMPARE_SCHEMA_VERSION = 2
LEVEL = 0.95


class RunFolderError(EvaluationInputError):
    pass


def load_report(path: str) -> dict:
    """A report.json, or a folder holding one (``<run>/report.json`` or ``<run>/inference/``)."""
    p = path
    if os.path.isdir(path):
        p = os.path.join(path, "report.json")
        if not os.path.isfile(p) and os.path.isfile(os.path.join(path, "inference", "report.json")):
            p = os.path.join(path, "inference", "report.json")
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
    rep.setdefault("_path", p)
    return rep


def _entries(entries) -> list:
    """``[(label, [(path, report), ...])]``; a label given twice is an error."""
    out, seen = [], {}
    for label, runs in entries:
        runs = list(runs) if isinstance(runs, (list, tuple)) else [runs]
        if not runs:
            raise RunFolderError(f"Label {label!r} has no run.")
        loaded = []
        for r in runs:
            rep = r if isinstance(r, dict) else load_report(r)
            loaded.append((rep.get("_path", "<dict>"), rep))
        if label in seen:
            raise RunFolderError(
                f"Label {label!r} is given twice ({', '.join(seen[label])} and "
                f"{', '.join(p for p, _ in loaded)}); each label names one row of the comparison. "
                f"For several seeds of one setting give them to one label, comma-separated: "
                f"{label}=PATH1,PATH2.")
        seen[label] = [p for p, _ in loaded]
        out.append((label, loaded))
    if not out:
        raise ValueError("compare needs at least one report.")
    return out


def _check_types(runs, iou_types) -> list:
    present = [t for t in iou_types if any(t in rep for _, reps in runs for _, rep in reps)]
    if not present:
        raise RunFolderError(f"None of the reports has a section for {tuple(iou_types)}.")
    for t in present:
        lacking = [f"{label} ({p})" for label, reps in runs for p, rep in reps if t not in rep]
        if lacking:
            having = [t2 for t2 in present if t2 != t]
            raise RunFolderError(
                f"IoU type {t!r} is missing from {', '.join(lacking)} (why: "
                f"{_why_missing(runs, t)}), while other runs have it; a comparison needs every "
                f"run evaluated for the same IoU types. Compare with --iou-type "
                f"{having[0] if having else 'bbox'}, or re-evaluate those runs "
                f"(tools/analyze.py --iou-type both).")
    return present


def _why_missing(runs, t) -> str:
    for _, reps in runs:
        for _, rep in reps:
            if t not in rep:
                return rep.get("not_evaluated", {}).get(t, "not in the report")
    return "?"


def _metric_kind(runs, types) -> str:
    """``"lvis"`` when every report has LVIS federated AP (LVIS-format ground truth), else
    ``"coco"``; reports of both kinds together are an error."""
    kinds = {(path, "lvis" if isinstance(rep[t].get("lvis"), dict) else "coco")
             for _, reps in runs for path, rep in reps for t in types}
    found = {k for _, k in kinds}
    if len(found) > 1:
        lv = next(p for p, k in kinds if k == "lvis")
        co = next(p for p, k in kinds if k == "coco")
        raise RunFolderError(
            f"{lv} has LVIS federated AP (LVIS-format ground truth) but {co} has COCO AP only; "
            "the two are different metrics. Compare runs evaluated on the same dataset.")
    return found.pop() if found else "coco"


def _ground_truth_and_results(runs, types, progress, kind: str = "coco"):
    """Load each distinct GT once (checking they are the same) and match every run.

    ``kind="lvis"``: federated AP (:class:`.lvis_eval.ResampledLVIS`; each resampled image
    carries its federated lists)."""
    from .bootstrap import ResampledCOCO
    from .coco_fast import match
    from .inputs import load_ground_truth, load_results
    from .lvis_eval import check_lvis, resampled

    gts, ref = {}, None
    out = []
    for label, reps in runs:
        for path, rep in reps:
            gp, rp = rep.get("gt"), rep.get("results")
            for what, f in (("ground truth", gp), ("results", rp)):
                if not f or not os.path.isfile(str(f)):
                    raise RunFolderError(
                        f"Report {path} names the {what} file {f!r}, which does not exist here; the "
                        "bootstrap re-reads the detections and the ground truth. Restore the file, "
                        "or compare point estimates only with --bootstrap 0.")
            if gp not in gts:
                gts[gp] = load_ground_truth(gp, iou_types=())
            gt = gts[gp]
            if ref is None:
                ref = (label, path, gt)
            elif gt.fingerprint() != ref[2].fingerprint():
                raise RunFolderError(
                    f"Runs on different ground truth cannot be compared image by image: "
                    f"{ref[0]} ({ref[1]}) was evaluated on {ref[2].path} "
                    f"({len(ref[2].image_ids)} images, {len(ref[2].annotations)} annotations), "
                    f"{label} ({path}) on {gt.path} ({len(gt.image_ids)} images, "
                    f"{len(gt.annotations)} annotations). The paired bootstrap resamples the same "
                    "images for every run; evaluate all runs on one dataset "
                    "(tools/analyze.py --gt ... --results RUN).")
            res = load_results(rp, gt, types, strict_iou_types=True, progress=progress)
            if kind == "lvis":
                check_lvis(gt)
                rs = {t: resampled(gt, res.detections, t, progress=progress) for t in types}
            else:
                rs = {t: ResampledCOCO(match(gt, res.detections, t, progress=progress))
                      for t in types}
            for t in types:   # the files still hold what the report says?
                ap = rs[t].stats(np.ones(rs[t].n_img, np.int64), recall=False)[0] * 100
                said = rep[t][kind].get("AP")
                if said is not None and abs(ap - said) > 1e-6:
                    logger.warning("%s: %s AP recomputed from %s is %.4f but the report says "
                                   "%.4f; the results or GT file changed after the report was "
                                   "written. Intervals are for the files as they are now.",
                                   path, t, rp, ap, said)
            out.append(rs)
    return ref[2], out


def _mean_std(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None
    return float(np.mean(vals)), (float(np.std(vals, ddof=1)) if len(vals) > 1 else None)


def compare_reports(entries, output_dir: str, iou_types=("bbox", "segm"), charts: bool = True,
                    bootstrap: int = 1000, bootstrap_seed: int = 0, baseline: str | None = None,
                    progress: bool | None = None, jobs: int = 1, interval: str | None = None) -> dict:
    """Compare labelled runs; writes compare.{json,md} and charts into ``output_dir``.

    ``entries``: ``[(label, report | path | [report | path, ...]), ...]``, several runs per
    label being seeds of one setting. ``bootstrap``: paired resamples over images (0: point
    estimates only). ``baseline``: compare every label with this one instead of all pairs.
    ``jobs``: bootstrap worker processes (the numbers do not depend on it). ``interval``:
    the interval kind (:data:`.bootstrap.INTERVAL_KINDS`, default the measured best).
    """
    from .bootstrap import (DEFAULT_INTERVAL, JACKKNIFE_KINDS, bootstrap_interval, bootstrap_stats,
                            jackknife_stats, paired_difference)

    interval = interval or DEFAULT_INTERVAL
    from .coco_metrics import METRIC_NAMES
    from .lvis_eval import METRIC_NAMES as LVIS_METRIC_NAMES

    runs = _entries(entries)
    labels = [label for label, _ in runs]
    if baseline is not None and baseline not in labels:
        raise RunFolderError(f"--baseline {baseline!r} is not one of the labels {labels}.")
    types = _check_types(runs, iou_types)
    # LVIS runs: every figure below is LVIS federated AP (a row's "coco" entry holds it)
    kind = _metric_kind(runs, types)
    ci_metrics = LVIS_CI_METRICS if kind == "lvis" else CI_METRICS
    out = {"schema_version": COMPARE_SCHEMA_VERSION,
           "runs": {label: [p for p, _ in reps] for label, reps in runs},
           "bootstrap": None, "metrics": kind, "ci_metrics": list(ci_metrics)}
    samples, jacks = {}, {}
    prints = [(label, p, rep.get("gt_fingerprint"), rep.get("gt")) for label, reps in runs
              for p, rep in reps]
    if not bootstrap and all(x[2] for x in prints):      # schema 2 reports: checked without loading
        odd = next((x for x in prints if x[2] != prints[0][2]), None)
        if odd:
            raise RunFolderError(
                f"Runs on different ground truth: {prints[0][0]} ({prints[0][1]}) was evaluated "
                f"on {prints[0][3]}, {odd[0]} ({odd[1]}) on {odd[3]}, whose contents differ "
                "(gt_fingerprint); their APs are not comparable. Evaluate all runs on one "
                "dataset (tools/analyze.py --gt ... --results RUN).")
    if bootstrap:
        gt, matched = _ground_truth_and_results(runs, types, progress, kind)
        out["bootstrap"] = {"resamples": int(bootstrap), "seed": int(bootstrap_seed),
                            "level": LEVEL, "unit": "images", "interval": interval,
                            "num_images": len(gt.image_ids),
                            "gt": gt.path}
        k = 0
        for t in types:
            st = bootstrap_stats([m[t] for m in matched], bootstrap, bootstrap_seed, progress,
                                 desc=f"bootstrap {t}", jobs=jobs, recall=False)
            st = np.where(st < 0, np.nan, st * 100)          # AP points, undefined -> NaN
            if interval in JACKKNIFE_KINDS:                  # leave-one-group-out values, same groups
                jk = jackknife_stats([m[t] for m in matched], seed=bootstrap_seed)
                jk = np.where(jk < 0, np.nan, jk * 100)
            k = 0
            for label, reps in runs:
                samples[(t, label)] = st[k:k + len(reps)].mean(0)      # [B, 12]
                if interval in JACKKNIFE_KINDS:
                    jacks[(t, label)] = jk[k:k + len(reps)].mean(0)    # [G, 12]
                k += len(reps)
    # the 12 slots bootstrap_stats fills: COCOeval.stats, or ResampledLVIS's AP..APf
    names = list(LVIS_METRIC_NAMES[:9]) + [""] * 3 if kind == "lvis" else list(METRIC_NAMES)
    for t in types:
        sec = {"runs": {}, "differences": []}
        for label, reps in runs:
            row = {"n": len(reps), "coco": {}, "seed_std": {}, "interval": {}, "errors": {}}
            for mname in [n for n in names if n]:
                row["coco"][mname], row["seed_std"][mname] = _mean_std(
                    [rep[t][kind].get(mname) for _, rep in reps])
            for e in MAIN_ERRORS + SPECIAL_ERRORS:
                row["errors"][e], _ = _mean_std([rep[t].get("errors", {}).get(e) for _, rep in reps])
            row["errors_std"] = {e: _mean_std([rep[t].get("errors", {}).get(e) for _, rep in reps])[1]
                                 for e in MAIN_ERRORS + SPECIAL_ERRORS}
            if (t, label) in samples:
                for mname in ci_metrics:
                    j = names.index(mname)
                    row["interval"][mname] = bootstrap_interval(
                        samples[(t, label)][:, j], row["coco"][mname], LEVEL, interval,
                        jacks[(t, label)][:, j] if (t, label) in jacks else None)
            sec["runs"][label] = row
        pairs = ([(x, baseline) for x in labels if x != baseline] if baseline else
                 [(labels[i], labels[j]) for i in range(len(labels)) for j in range(i + 1, len(labels))])
        for a, b in pairs:
            d = {"a": a, "b": b, "metrics": {}}
            for mname in ci_metrics:
                va, vb = sec["runs"][a]["coco"][mname], sec["runs"][b]["coco"][mname]
                m = {"difference": None if va is None or vb is None else va - vb}
                if (t, a) in samples:
                    j = names.index(mname)
                    ja, jb = ((jacks[(t, x)][:, j] for x in (a, b)) if (t, a) in jacks
                              else (None, None))
                    m.update(paired_difference(samples[(t, a)][:, j], samples[(t, b)][:, j], LEVEL,
                                               interval, m["difference"], ja, jb))
                d["metrics"][mname] = m
            sec["differences"].append(d)
        sec["errors_iou"] = next((rep[t].get("errors_iou", 0.5) for _, reps in runs
                                  for _, rep in reps), 0.5)
        out[t] = sec
    os.makedirs(output_dir, exist_ok=True)
    md = render_compare_markdown(out, types)
    if charts:
        for t in types:
            for kind, fn in (("ap", ap_chart_png), ("errors", compare_chart_png)):
                fname = f"compare_{kind}_{t}.png"
                atomic_write_bytes(os.path.join(output_dir, fname), fn(out[t]["runs"], t))
                out[t].setdefault("charts", {})[kind] = fname
        md += "".join(f"![{t} {kind}]({f})\n\n" for t in types
                      for kind, f in out[t]["charts"].items())
    atomic_write_json(os.path.join(output_dir, "compare.json"), out)
    atomic_write_text(os.path.join(output_dir, "compare.md"), md)
    return out


# --------------------------------------------------------------------------- markdown
def _num(v, nd=2):
    return "n/a" if v is None else f"{v:.{nd}f}"


def _with_ci(v, ci, std=None, n=1):
    s = _num(v)
    if std is not None:
        s += f" ± {std:.2f} ({n})"
    if ci:
        s += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    return s


def _p(p):
    return "n/a" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def cell_legend(rows, level) -> str:
    """One line under a table saying what each part of its cells is (seed spread vs
    bootstrap interval); empty when the cells are bare point estimates."""
    seeds = any(r["n"] > 1 for r in rows)
    interval = level is not None and any(r["interval"] for r in rows)
    ci = f"{level:.0%} bootstrap interval over the evaluation images" if interval else ""
    if seeds and interval:
        return ("Cells: `mean ± std (n) [lo, hi]`: `mean ± std (n)` is the seed spread (mean and "
                "standard deviation of the label's AP over its n runs, one per training seed); "
                f"`[lo, hi]` is the {ci} (of that mean over the n runs); a single run reads "
                "`AP [lo, hi]`.")
    if seeds:
        return ("Cells: `mean ± std (n)`: the seed spread (mean and standard deviation of the "
                "label's AP over its n runs, one per training seed).")
    if interval:
        return f"Cells: `AP [lo, hi]`: one run's AP and its {ci}."
    return ""


def render_compare_markdown(out: dict, types) -> str:
    bs = out.get("bootstrap")
    metrics = tuple(out.get("ci_metrics") or CI_METRICS)
    lines = ["# Run comparison", ""]
    if out.get("metrics") == "lvis":
        lines += ["LVIS federated AP (at most 300 detections per image; APr / APc / APf over "
                  "rare / common / frequent categories); resampled images keep their federated "
                  "category lists.", ""]
    if bs:
        lines += [f"Values in AP points. `[lo, hi]`: {bs['level']:.0%} bootstrap interval over the "
                  f"evaluation set ({bs['resamples']} paired resamples of its {bs['num_images']} "
                  f"images, seed {bs['seed']}); it covers which images were evaluated, not the "
                  "training seed. `± std (n)`: spread over a label's n runs (seeds). A difference "
                  "whose interval contains 0 is marked *n.s.* (not significant).", ""]
    else:
        lines += ["Values in AP points; point estimates only (--bootstrap 0). `± std (n)`: spread "
                  "over a label's n runs (seeds).", ""]
    for t in types:
        sec = out[t]
        lines += [f"## {t}", "", "| run | " + " | ".join(metrics) + " |",
                  "|---|" + "---:|" * len(metrics)]
        for label, row in sec["runs"].items():
            lines.append(f"| {label} | " + " | ".join(
                _with_ci(row["coco"][m], row["interval"].get(m), row["seed_std"][m], row["n"])
                for m in metrics) + " |")
        legend = cell_legend(sec["runs"].values(), bs["level"] if bs else None)
        if legend:
            lines += ["", legend]
        if sec["differences"]:
            lines += ["", "| difference | " + " | ".join(f"Δ{m}" for m in metrics) + " |",
                      "|---|" + "---:|" * len(metrics)]
            for d in sec["differences"]:
                cells = []
                for m in metrics:
                    x = d["metrics"][m]
                    c = "n/a" if x["difference"] is None else f"{x['difference']:+.2f}"
                    if x.get("interval"):
                        c += (f" [{x['interval'][0]:+.2f}, {x['interval'][1]:+.2f}] "
                              f"p={_p(x['p_value'])}" + ("" if x["significant"] else " *n.s.*"))
                    cells.append(c)
                lines.append(f"| {d['a']} − {d['b']} | " + " | ".join(cells) + " |")
        lines += ["", f"TIDE dAP at foreground IoU {sec['errors_iou']:g} (mean over a label's runs):",
                  "", "| run | " + " | ".join(ERROR_LABELS[e] for e in MAIN_ERRORS + SPECIAL_ERRORS)
                  + " |", "|---|" + "---:|" * 8]
        for label, row in sec["runs"].items():
            lines.append(f"| {label} | " + " | ".join(
                _num(row["errors"][e]) + (f" ± {row['errors_std'][e]:.2f}"
                                          if row["errors_std"][e] is not None else "")
                for e in MAIN_ERRORS + SPECIAL_ERRORS) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- charts
def ap_figure(rows: dict, iou_type: str):
    """AP / AP50 / AP75 per run, error bars: the bootstrap interval (else the seed std)."""
    import matplotlib
    from matplotlib.figure import Figure

    labels = list(rows)
    metrics = ("AP", "AP50", "AP75")
    cmap = matplotlib.colormaps["tab10"]
    fig = Figure(figsize=(max(6, 1.6 * len(labels) + 2), 3.8))
    ax = fig.subplots()
    w = 0.8 / len(labels)
    top = 1.0
    placed = []
    for j, label in enumerate(labels):
        r = rows[label]
        xs = [i + (j - (len(labels) - 1) / 2) * w for i in range(len(metrics))]
        vals = [r["coco"][m] if r["coco"][m] is not None else 0.0 for m in metrics]
        lo, hi = [], []
        for m, v in zip(metrics, vals):
            ci = r["interval"].get(m)
            sd = r["seed_std"].get(m)
            # a label's mean over seeds can sit just outside its resamples' interval
            lo.append(max(v - ci[0], 0.0) if ci else (sd or 0.0))
            hi.append(max(ci[1] - v, 0.0) if ci else (sd or 0.0))
        bars = ax.bar(xs, vals, width=w, color=cmap(j % 10), label=label, edgecolor="black",
                      linewidth=0.4, yerr=[lo, hi], capsize=3, error_kw={"linewidth": 0.8})
        placed.append((bars, vals, hi, cmap(j % 10)))
        top = max(top, max(v + h for v, h in zip(vals, hi)))
    ax.set_ylim(0, top * 1.25 + 1e-9)        # room for the legend
    _label_bar_values(fig, ax, placed, top * 1.25 + 1e-9)
    ax.set_xticks(range(len(metrics)), list(metrics))
    ax.set_ylabel(f"{'box' if iou_type == 'bbox' else 'mask'} AP (points)")
    ax.set_title(f"COCO AP per run ({iou_type}); error bars: 95% bootstrap interval", fontsize=10)
    ax.legend(fontsize=8, ncol=min(len(labels), 4))
    return fig


VALUE_FONTSIZE = 7
DARK_TEXT = "#1a1a1a"


def _luminance(rgba) -> float:
    r, g, b = rgba[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def value_label_inside(value: float, ylim_top: float, axes_height_in: float,
                       fontsize: float = VALUE_FONTSIZE) -> bool:
    """Whether a bar of ``value`` (axis 0..``ylim_top``, ``axes_height_in`` inches tall) can
    hold its value text: at least 2.5 text heights tall."""
    bar_in = value / ylim_top * axes_height_in if ylim_top > 0 else 0.0
    return bar_in >= 2.5 * fontsize / 72.0


def _label_bar_values(fig, ax, placed, ylim_top: float) -> None:
    """The value of each bar: inside a bar tall enough, in white or dark text by the bar's
    colour; above its error bar in dark text otherwise (a short bar, e.g. AP75 0.4, cannot
    hold readable text)."""
    axes_in = ax.get_position().height * fig.get_figheight()
    for bars, vals, upper_err, colour in placed:
        inside_colour = "white" if _luminance(colour) < 0.5 else DARK_TEXT
        for rect, v, h in zip(bars, vals, upper_err):
            x = rect.get_x() + rect.get_width() / 2
            if value_label_inside(v, ylim_top, axes_in):
                ax.annotate(f"{v:.1f}", (x, v / 2), ha="center", va="center",
                            fontsize=VALUE_FONTSIZE, color=inside_colour, fontweight="bold")
            else:
                ax.annotate(f"{v:.1f}", (x, v + h), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=VALUE_FONTSIZE, color=DARK_TEXT)


def ap_chart_png(rows: dict, iou_type: str) -> bytes:
    return _png(ap_figure(rows, iou_type))


def compare_figure(rows: dict, iou_type: str):
    """Grouped bars: one group per error type, one bar per run (value on each bar)."""
    import matplotlib
    from matplotlib.figure import Figure

    labels = list(rows)
    kinds = MAIN_ERRORS + SPECIAL_ERRORS
    cmap = matplotlib.colormaps["tab10"]
    fig = Figure(figsize=(max(8, 1.1 * len(kinds) * max(1, len(labels)) / 2.5), 4.0))
    ax = fig.subplots()
    w = 0.8 / len(labels)
    for j, label in enumerate(labels):
        xs = [i + (j - (len(labels) - 1) / 2) * w for i in range(len(kinds))]
        vals = [rows[label]["errors"][k] or 0.0 for k in kinds]
        std = [rows[label].get("errors_std", {}).get(k) or 0.0 for k in kinds]
        bars = ax.bar(xs, vals, width=w, color=cmap(j % 10), label=label, edgecolor="black",
                      linewidth=0.4, yerr=std if any(std) else None, capsize=2)
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in vals], fontsize=6, padding=1)
    ax.set_xticks(range(len(kinds)), [ERROR_LABELS[k] for k in kinds])
    ax.axvline(len(MAIN_ERRORS) - 0.5, color="gray", linewidth=0.8, linestyle=":")
    ax.set_ylabel(f"dAP$^{{{'box' if iou_type == 'bbox' else 'mask'}}}$ (AP points)")
    ax.set_title(f"Error-type breakdown per run ({iou_type})"
                 + ("; error bars: seed std" if any(r["n"] > 1 for r in rows.values()) else ""),
                 fontsize=10)
    ax.legend(fontsize=8, ncol=min(len(labels), 5))
    return fig


def compare_chart_png(rows: dict, iou_type: str) -> bytes:
    return _png(compare_figure(rows, iou_type))

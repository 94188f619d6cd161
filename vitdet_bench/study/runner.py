"""plan / launch / status / collect of a study (the library behind tools/study.py).

``launch`` submits one submitit job per run that is not finished (SLURM, or submitit's
local executor), records the job ids in ``<root>/jobs.json`` and leaves runs whose job
is pending / running / requeued alone; a failed or interrupted run is submitted again
and resumes from its last checkpoint (every job runs what ``tools/train_net.py --resume``
runs: :func:`vitdet_bench.engine.launch.main`).
"""
from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from vitdet_bench.utils.io import atomic_write_text

from .spec import (ExpandedRun, Resources, Study, StudyError, choose_grad_accum, expand,
                   resolve_resources)
from .state import LIVE_STATES, JobRecords, RunStatus, is_done, run_status, slurm_job_states

__all__ = ["PlannedRun", "plan_study", "format_plan", "launch_study", "study_status",
           "format_status", "collect_study", "format_table"]


@dataclass
class PlannedRun:
    run: ExpandedRun
    resources: Resources
    total_batch: int
    grad_accum: int
    images_per_gpu: int
    max_iter: Optional[int]
    overrides: List[str]          # what the job runs with
    missing: list = ()  # vitdet_bench.config.MissingFile: what a launch needs, not on this machine

    @property
    def gpu_hours(self) -> Optional[float]:
        spi = self.run.seconds_per_iter
        if spi is None or self.max_iter is None:
            return None
        return self.max_iter * spi * self.resources.world_size / 3600.0


def format_table(headers: Sequence[str], rows: Sequence[Sequence], aligns: str = "") -> str:
    cells = [[("" if v is None else str(v)) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(vals):
        out = []
        for i, v in enumerate(vals):
            out.append(v.rjust(widths[i]) if i < len(aligns) and aligns[i] == "r"
                       else v.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


# ----------------------------------------------------------------------------- plan
def _train_set_size(cfg, study: Study, cache: Dict[str, Optional[int]]) -> Optional[int]:
    """Images in the training set: the study's dataset_sizes, else counted (as the trainer
    does) when the dataset's files are on this machine, else None."""
    from detectron2.config import instantiate
    from omegaconf import OmegaConf

    tl = cfg.dataloader.train
    names = tl.dataset.get("names", None) if "dataset" in tl else None
    names = [names] if isinstance(names, str) else list(names or [])
    if names and all(n in study.dataset_sizes for n in names):
        return sum(int(study.dataset_sizes[n]) for n in names)
    key = OmegaConf.to_yaml(tl.dataset) if "dataset" in tl else ""
    if key not in cache:
        from detectron2.data import MetadataCatalog

        present = True
        for n in names:
            meta = MetadataCatalog.get(n)
            path = meta.get("json_file", None)
            if meta.get("synthetic_config", None) is None and path and not os.path.isfile(path):
                present = False
        try:
            cache[key] = len(instantiate(tl.dataset)) if present and key else None
        except Exception:
            cache[key] = None
    return cache[key]


def _load_run_config(run: ExpandedRun, overrides: List[str]):
    """``(cfg, missing files)``: the run's config through the same checks as
    tools/train_net.py (files absent from this machine listed, not raised); errors name
    the run."""
    from vitdet_bench.config import ConfigError, preview_config

    label = f"Run {run.name!r} (config {run.config!r})"
    if not os.path.isfile(run.config_path):
        raise StudyError(f"{label}: config file {run.config_path!r} does not exist (a relative "
                         "config path is looked up next to the study file, then from the "
                         f"working directory {os.getcwd()!r}).")
    try:
        return preview_config(run.config_path, overrides, resume=True)
    except ConfigError as e:
        raise StudyError(f"{label}: Configuration error: {' '.join(str(e).split())}") from None
    except Exception as e:  # the config file itself fails to load
        raise StudyError(f"{label}: the config cannot be loaded: {type(e).__name__}: {e}") \
            from None


def plan_study(study: Study, root: Optional[str] = None, resources: Optional[dict] = None,
               seconds_per_iter: Optional[float] = None) -> List[PlannedRun]:
    """Expand and check every run (as train_net.py would); nothing is submitted.

    ``resources``: command-line values overriding every run's (None = keep).
    Raises StudyError listing every run that cannot be built. Files a launch needs but
    this machine lacks (a dataset, a pre-trained checkpoint) are not errors of a plan:
    each run lists them in ``missing`` (:func:`missing_for_launch`).
    """
    from vitdet_bench.config import compute_max_iter

    runs = expand(study, root)
    planned, errors, sizes = [], [], {}
    for run in runs:
        try:
            res = resolve_resources(run, **(resources or {}))
            cfg, missing = _load_run_config(run, run.job_overrides())
            total = int(cfg.dataloader.train.total_batch_size)
            accum, per_gpu = choose_grad_accum(total, res)
        except StudyError as e:
            msg = str(e)
            errors.append(msg if msg.startswith("Run ") else f"Run {run.name!r}: {msg}")
            continue
        overrides = run.job_overrides(accum)
        max_iter = None
        try:
            max_iter = compute_max_iter(cfg, _train_set_size(cfg, study, sizes))
        except (ValueError, TypeError):
            pass
        if seconds_per_iter is not None:
            run.seconds_per_iter = seconds_per_iter
        planned.append(PlannedRun(run, res, total, accum, per_gpu, max_iter, overrides,
                                  list(missing)))
    if errors:
        raise StudyError("\n".join(errors))
    return planned


def missing_for_launch(planned: List[PlannedRun]) -> List[Tuple[object, List[str]]]:
    """``(MissingFile, run names)`` of every file a launch needs that this machine lacks,
    each once, in the order the runs name them."""
    found: Dict[str, Tuple[object, List[str]]] = {}
    for p in planned:
        for absent in p.missing:
            found.setdefault(absent.what, (absent, []))[1].append(p.run.name)
    return list(found.values())


def _refuse_missing_files(planned: List[PlannedRun]) -> None:
    """A launch needs every file: one paragraph per missing file, naming its runs."""
    configs = {p.run.name: p.run.config for p in planned}
    errors = []
    for absent, names in missing_for_launch(planned):
        who = (f"Run {names[0]!r} (config {configs[names[0]]!r})" if len(names) == 1 else
               f"Runs {', '.join(map(repr, names[:3]))}"
               + (f" and {len(names) - 3} more" if len(names) > 3 else ""))
        errors.append(f"{who}: Configuration error: {absent.message}")
    if errors:
        raise StudyError("\n".join(errors))


def _runs_label(names: List[str], total: int) -> str:
    if len(names) == total and total > 1:
        return f"all {total} runs"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{len(names)} run{'s' if len(names) > 1 else ''}: {shown}"


def _shown_path(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _hours(minutes: int) -> str:
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes}min"


def format_plan(study: Study, planned: List[PlannedRun]) -> str:
    rows, total_h, known = [], 0.0, True
    for p in planned:
        r = p.resources
        gh = p.gpu_hours
        if gh is None:
            known = False
        else:
            total_h += gh
        rows.append([p.run.name, _shown_path(p.run.config_path),
                     " ".join(p.run.overrides) or "-",
                     "?" if p.max_iter is None else p.max_iter,
                     f"{r.nodes}x{r.gpus_per_node}, {_hours(r.timeout_min)}",
                     f"{p.total_batch} = {r.world_size} x {p.images_per_gpu}"
                     + (f" x {p.grad_accum} accum" if p.grad_accum > 1 else ""),
                     "?" if gh is None else f"{gh:.0f}" if gh >= 10 else f"{gh:.2f}",
                     _shown_path(p.run.folder)])
    head = f"Study {study.name!r} ({study.source or '-'}): {len(planned)} runs"
    table = format_table(["run", "config", "overrides", "iterations", "nodes x gpus, time",
                          "batch", "GPU-h", "folder"], rows, aligns="lllrllrl")
    foot = (f"total: {total_h:.0f} GPU-hours" if known else
            "GPU-hours: pass --seconds-per-iter (measured on your GPUs) or set "
            "seconds_per_iter in the study")
    lines = [head, "", table, "", foot]
    missing = missing_for_launch(planned)
    if missing:
        lines += ["", "Note: this machine lacks files a launch needs (launch refuses until they "
                  "exist; iterations shown as ? are counted from the training set once it is "
                  "there):"]
        lines += [f"  - {absent.what} ({_runs_label(names, len(planned))}): {absent.detail}"
                  for absent, names in missing]
        hints = [absent.hint for absent, _ in missing if absent.hint]
        lines += [f"  {hint}" for hint in dict.fromkeys(hints)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- launch
def _executor(kind: str, folder: str, res: Resources, max_requeues: int, name: str):
    import submitit

    if kind == "slurm":
        ex = submitit.SlurmExecutor(folder=folder, max_num_timeout=max_requeues)
        params = dict(nodes=res.nodes, ntasks_per_node=res.gpus_per_node, time=res.timeout_min,
                      signal_delay_s=res.signal_delay_s, job_name=name)
        if res.request_gpus:
            params["gpus_per_node"] = res.gpus_per_node
        for key in ("cpus_per_task", "mem", "partition", "account", "constraint", "qos"):
            if getattr(res, key) is not None:
                params[key] = getattr(res, key)
        ex.update_parameters(**params)
    elif kind == "local":
        if res.nodes != 1:
            raise StudyError(f"--executor local runs on this machine only: --nodes 1 (the run "
                             f"asks for {res.nodes})")
        ex = submitit.LocalExecutor(folder=folder, max_num_timeout=max_requeues)
        ex.update_parameters(timeout_min=res.timeout_min, tasks_per_node=res.gpus_per_node,
                             nodes=1, gpus_per_node=res.gpus_per_node if res.request_gpus else 0,
                             signal_delay_s=res.signal_delay_s)
    else:
        raise StudyError(f"--executor {kind!r}: expected slurm or local")
    return ex


def _statuses(study_runs, records: JobRecords) -> Dict[str, RunStatus]:
    ids = [r["id"] for r in (records.last(x.key) for x in study_runs)
           if r and r.get("executor") == "slurm"]
    slurm = slurm_job_states(ids)
    return {x.key: run_status(x.name, x.folder, records.last(x.key), slurm) for x in study_runs}


def launch_study(study: Study, executor: str, root: Optional[str] = None,
                 resources: Optional[dict] = None, max_parallel: Optional[int] = None,
                 max_requeues: int = 30, out=None) -> List[dict]:
    """Submit every run that is not done and has no live job; returns the new records."""
    out = out or sys.stdout
    planned = plan_study(study, root, resources)  # checks every run before submitting any
    _refuse_missing_files(planned)
    root_dir = os.path.dirname(planned[0].run.folder)
    records = JobRecords(root_dir)
    status = _statuses([p.run for p in planned], records)
    todo = []
    for p in planned:
        st = status[p.run.key]
        if st.state == "done":
            print(f"{p.run.name}: done, skipped", file=out)
        elif st.state in LIVE_STATES:
            print(f"{p.run.name}: {st.state} (job {st.job_id}), left alone", file=out)
        else:
            again = f" ({st.state}: resubmitted, resumes from its last checkpoint)" \
                if st.state != "not submitted" else ""
            todo.append((p, again))
    log_folder = os.path.join(root_dir, "submitit", "%j")
    new = []
    if executor == "local":
        new = _launch_local(todo, log_folder, max_parallel, max_requeues, records, study, out)
    else:
        groups: Dict[Resources, list] = {}
        for p, again in todo:
            groups.setdefault(p.resources, []).append((p, again))
        for res, items in groups.items():
            ex = _executor("slurm", log_folder, res, max_requeues, study.name)
            if max_parallel:
                ex.update_parameters(array_parallelism=max_parallel)
            jobs = []
            with ex.batch():
                for p, _ in items:
                    jobs.append(ex.submit(_job(p)))
            for (p, again), job in zip(items, jobs):
                new.append(_record(records, p, job, "slurm", again, out))
            records.save()
    if not todo:
        print("Nothing to submit.", file=out)
    return new


def _job(p: PlannedRun):
    from .job import job_by_value

    return job_by_value(p.run.name, p.run.config_path, p.overrides)


def _record(records: JobRecords, p: PlannedRun, job, kind: str, again: str, out) -> dict:
    folder = os.path.dirname(str(job.paths.stdout))
    rec = {"id": str(job.job_id), "executor": kind, "folder": folder,
           "submitted": time.strftime("%Y-%m-%dT%H:%M:%S"), "grad_accum": p.grad_accum,
           "world_size": p.resources.world_size}
    records.add(p.run.key, p.run.name, rec)
    print(f"{p.run.name}: job {rec['id']}{again}; log {job.paths.stdout}", file=out, flush=True)
    return rec


def _launch_local(todo, log_folder, max_parallel, max_requeues, records, study, out):
    """Local jobs one after another (or ``max_parallel`` at once); waits for them."""
    parallel = max(1, int(max_parallel or 1))
    queue, running, new = list(todo), [], []
    while queue or running:
        while queue and len(running) < parallel:
            p, again = queue.pop(0)
            ex = _executor("local", log_folder, p.resources, max_requeues, study.name)
            job = ex.submit(_job(p))
            new.append(_record(records, p, job, "local", again, out))
            records.save()
            running.append((p, job))
        time.sleep(1.0)
        for p, job in list(running):
            if job.done():
                running.remove((p, job))
                state = "done" if is_done(p.run.folder) else "ended before done"
                print(f"{p.run.name}: local job {job.job_id} {state}", file=out, flush=True)
    return new


# ----------------------------------------------------------------------------- status
def study_status(study: Study, root: Optional[str] = None) -> List[RunStatus]:
    runs = expand(study, root)
    records = JobRecords(os.path.dirname(runs[0].folder))
    status = _statuses(runs, records)
    return [status[r.key] for r in runs]


def _ap(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def format_status(study: Study, statuses: List[RunStatus]) -> str:
    rows = []
    for s in statuses:
        it = "-" if s.iteration is None and s.max_iter is None else \
            f"{s.iteration if s.iteration is not None else 0}/{s.max_iter or '?'}"
        rows.append([s.name, s.state, s.job_id or "-", it, f"{_ap(s.ap_box)} / {_ap(s.ap_mask)}"])
    counts: Dict[str, int] = {}
    for s in statuses:
        counts[s.state] = counts.get(s.state, 0) + 1
    lines = [f"Study {study.name!r}: " + ", ".join(f"{n} {k}" for k, n in counts.items()), "",
             format_table(["run", "state", "job", "iter/max_iter", "AP box / mask"], rows,
                          aligns="lllrr")]
    problems = [s for s in statuses if s.state in ("failed", "interrupted") and s.error]
    if problems:
        lines.append("")
        for s in problems:
            lines.append(f"{s.name} ({s.state}): {s.error}" + (f"\n  log: {s.log}" if s.log else ""))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- collect
def _axis_label(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def collect_study(study: Study, output_dir: str, root: Optional[str] = None,
                  charts: bool = True) -> str:
    """The study's table (rows and columns from its axes) + the benchmark table, CSV and
    convergence plot of vitdet_bench.evaluation.collect_runs over its finished runs.

    Returns the markdown printed by ``tools/study.py collect``.
    """
    from vitdet_bench.evaluation import collect_runs

    runs = expand(study, root)
    statuses = {s.folder: s for s in study_status(study, root)}
    finished = [r for r in runs if statuses[r.folder].state == "done"]
    if not finished:
        states = ", ".join(f"{r.name}: {statuses[r.folder].state}" for r in runs)
        raise StudyError(f"Study {study.name!r}: no run is done yet ({states}); see "
                         "tools/study.py status")
    os.makedirs(output_dir, exist_ok=True)
    # the benchmark-table machinery of tools/collect_runs.py, over exactly these folders
    infos = collect_runs([r.folder for r in finished], output_dir, charts=charts)
    from vitdet_bench.evaluation.runs import LVIS_COLUMNS

    lvis_of = {os.path.realpath(i.run_dir): i.lvis for i in infos if i.lvis}
    row_axes = list(study.rows) or (["config"] if not study.columns else [])
    col_axes = list(study.columns) or [a for a in (runs[0].axes or {}) if a not in row_axes]

    def value(r: ExpandedRun, axis: str):
        if axis == "config":
            return os.path.splitext(os.path.basename(r.config))[0]
        return r.axes.get(axis, "-")

    cells: Dict[tuple, list] = {}
    for r in runs:
        key = (tuple(value(r, a) for a in row_axes), tuple(value(r, a) for a in col_axes))
        cells.setdefault(key, []).append(statuses[r.folder])
    row_keys = list(dict.fromkeys(k[0] for k in cells))
    col_keys = list(dict.fromkeys(k[1] for k in cells))
    head = [" / ".join(map(_axis_label, row_axes)) or "run"] + [
        " ".join(f"{_axis_label(a)}={v}" for a, v in zip(col_axes, c)) or "AP" for c in col_keys]
    md = [f"# Study {study.name}: AP box / AP mask", "",
          "| " + " | ".join(head) + " |", "|---|" + "---:|" * len(col_keys)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(row_axes + col_axes + ["ap_box", "ap_mask", "runs_done", "runs"]
               + (list(LVIS_COLUMNS) if lvis_of else []))

    def lvis_means(done) -> dict:
        """Means of the LVIS columns over the cell's finished LVIS runs."""
        got = [lvis_of[os.path.realpath(s.folder)] for s in done
               if os.path.realpath(s.folder) in lvis_of]
        out = {}
        for c in LVIS_COLUMNS:
            vals = [g[c] for g in got if g.get(c) is not None]
            out[c] = sum(vals) / len(vals) if vals else None
        return out

    lvis_lines = []
    for rk in row_keys:
        line, lvis_line = [], []
        for ck in col_keys:
            sts = cells.get((rk, ck), [])
            done = [s for s in sts if s.state == "done"]
            box = [s.ap_box for s in done if s.ap_box is not None]
            mask = [s.ap_mask for s in done if s.ap_mask is not None]
            b = sum(box) / len(box) if box else None
            m = sum(mask) / len(mask) if mask else None
            if not sts:
                line.append("")
                lvis_line.append("")
                continue
            txt = f"{_ap(b)} / {_ap(m)}" if done else "(not done)"
            if len(sts) > 1:
                txt += f" (mean of {len(done)}/{len(sts)})"
            line.append(txt)
            lv = lvis_means(done) if lvis_of else {}
            w.writerow(list(rk) + list(ck) + ["" if b is None else f"{b:.4f}",
                                              "" if m is None else f"{m:.4f}", len(done), len(sts)]
                       + (["" if lv[c] is None else f"{lv[c]:.4f}" for c in LVIS_COLUMNS]
                          if lvis_of else []))
            if lvis_of:
                lvis_line.append(" ; ".join(" / ".join(_ap(lv[f"{x}_{t}"]) for x in ("apr", "apc", "apf"))
                                            for t in ("box", "mask")) if any(
                    v is not None for v in lv.values()) else "")
        md.append("| " + " | ".join([" / ".join(map(str, rk)) or "-"] + line) + " |")
        if lvis_of:
            lvis_lines.append("| " + " | ".join([" / ".join(map(str, rk)) or "-"] + lvis_line) + " |")
    if lvis_of:
        md += ["", "## LVIS: APr / APc / APf, box ; mask", "",
               "| " + " | ".join(head) + " |", "|---|" + "---:|" * len(col_keys)] + lvis_lines
        md += ["", "LVIS runs: AP is LVIS federated AP; APr / APc / APf over rare / common / "
               "frequent categories."]
    md += ["", f"{len(finished)} of {len(runs)} runs done. Benchmark table of the finished runs "
           "(initialization x model size x epochs, from their saved configs): benchmark.md, "
           "benchmark.csv" + (", convergence.png" if charts else "") + "."]
    text = "\n".join(md) + "\n"
    atomic_write_text(os.path.join(output_dir, "study.md"), text)
    atomic_write_text(os.path.join(output_dir, "study.csv"), buf.getvalue())
    return text

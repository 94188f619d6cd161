"""Where each run of a study stands: from its folder, the job records and SLURM.

States: ``not submitted``, ``pending``, ``running``, ``requeued`` (pending or running
again after a time-limit / preemption requeue), ``done`` (final checkpoint and final
report present), ``interrupted`` (the job ended before the run was done: cancelled,
timed out, preempted, node failure), ``failed`` (the job ended with an error; the
one-paragraph error from its log is shown). The job records are ``<root>/jobs.json``
(written by ``launch``); SLURM is asked with ``scontrol show job`` (and ``sacct``
where an accounting database answers) when those commands exist.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from vitdet_bench.utils.io import atomic_write_json

__all__ = ["RunStatus", "JobRecords", "run_status", "slurm_job_states", "is_done",
           "LIVE_STATES"]

LIVE_STATES = ("pending", "running", "requeued")
_SLURM_LIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_FED",
               "REQUEUE_HOLD", "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT"}
_SLURM_INTERRUPTED = {"CANCELLED", "TIMEOUT", "PREEMPTED", "NODE_FAIL", "DEADLINE", "BOOT_FAIL"}
_ERROR_LINE = re.compile(r"^(\[rank \d+\] )?(Configuration error|Error \(\w+\)|Training diverged"
                         r"|Study error)[:( ].*")


class JobRecords:
    """``<root>/jobs.json``: for every run (by content key) the jobs submitted for it."""

    def __init__(self, root: str):
        self.path = os.path.join(root, "jobs.json")
        self.data = {"runs": {}}
        if os.path.isfile(self.path):
            with open(self.path, encoding="utf-8") as f:
                self.data = json.load(f)

    def jobs(self, key: str) -> List[dict]:
        return self.data["runs"].get(key, {}).get("jobs", [])

    def last(self, key: str) -> Optional[dict]:
        jobs = self.jobs(key)
        return jobs[-1] if jobs else None

    def add(self, key: str, name: str, record: dict) -> None:
        entry = self.data["runs"].setdefault(key, {"name": name, "jobs": []})
        entry["name"] = name
        entry["jobs"].append(record)

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        atomic_write_json(self.path, self.data, indent=1)


@dataclass
class RunStatus:
    name: str
    state: str
    job_id: str = ""
    iteration: Optional[int] = None
    max_iter: Optional[int] = None
    ap_box: Optional[float] = None
    ap_mask: Optional[float] = None
    error: str = ""
    restarts: int = 0
    folder: str = ""
    log: str = ""
    extra: Dict[str, str] = field(default_factory=dict)


def is_done(folder: str) -> bool:
    """Finished: the final checkpoint and the final report are both there."""
    return all(os.path.isfile(os.path.join(folder, f)) for f in ("model_final.pth", "report.json"))


def _run(cmd: List[str]) -> Optional[str]:
    if not shutil.which(cmd[0]):
        return None
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


def slurm_job_states(job_ids: List[str]) -> Dict[str, dict]:
    """``{job id: {"state", "restarts", "reason"}}`` for the ids SLURM still knows."""
    out: Dict[str, dict] = {}
    if not job_ids:
        return out
    text = _run(["scontrol", "show", "job", "-o"]) or ""
    for line in text.splitlines():
        fields = dict(m.groups() for m in re.finditer(r"(\w+)=(\S*)", line))
        if "JobId" not in fields:
            continue
        info = {"state": fields.get("JobState", ""),
                "restarts": int(fields.get("Restarts", 0) or 0), "reason": fields.get("Reason", "")}
        tasks = fields.get("ArrayTaskId")
        if fields.get("ArrayJobId") and tasks not in (None, "", "N/A"):
            # one line per started task ("3"), one for the tasks still pending ("0-7%2")
            for task in _array_tasks(tasks):
                out[f"{fields['ArrayJobId']}_{task}"] = info
        else:
            out[fields["JobId"]] = info
    missing = [j for j in job_ids if j not in out]
    if missing:  # ended long enough ago that slurmctld forgot them: accounting, if any
        text = _run(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(missing)])
        for line in (text or "").splitlines():
            parts = line.split("|")
            if len(parts) >= 2 and parts[0] in missing:
                out[parts[0]] = {"state": parts[1].split()[0], "restarts": 0, "reason": ""}
    return out


def _array_tasks(spec: str) -> List[int]:
    """SLURM's ArrayTaskId: ``3``, ``0-7``, ``0,2-5:2``, with an optional ``%limit``."""
    tasks = []
    for part in spec.split("%")[0].split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if m:
            lo, hi, step = int(m.group(1)), int(m.group(2) or m.group(1)), int(m.group(3) or 1)
            tasks.extend(range(lo, hi + 1, step))
    return tasks


def _progress(folder: str):
    """(iterations done, max_iter) from metrics.json / last_checkpoint and config.yaml."""
    done = None
    metrics = os.path.join(folder, "metrics.json")
    if os.path.isfile(metrics):
        with open(metrics, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    it = json.loads(line).get("iteration")
                except (json.JSONDecodeError, AttributeError):
                    continue  # a line cut by a kill
                if isinstance(it, int):
                    done = max(done or 0, it + 1)
    last = os.path.join(folder, "last_checkpoint")
    if os.path.isfile(last):
        name = open(last).read().strip()
        m = re.fullmatch(r"model_(\d+)\.pth", name)
        if m:
            done = max(done or 0, int(m.group(1)) + 1)
    max_iter = None
    cfg = os.path.join(folder, "config.yaml")
    if os.path.isfile(cfg):
        with open(cfg, encoding="utf-8", errors="replace") as f:
            text = f.read()
        m = re.search(r"^train:\n(?:(?:  .*)?\n)*?  max_iter: (\d+)$", text, re.M)
        if m:
            max_iter = int(m.group(1))
    if done is not None and max_iter is not None and os.path.isfile(
            os.path.join(folder, "model_final.pth")):
        done = max_iter
    return done, max_iter


def _ap(folder: str):
    """Last box / mask AP: the final report, else the latest periodic evaluation."""
    reports = [os.path.join(folder, "report.json")]
    evals = sorted(glob.glob(os.path.join(folder, "eval_*", "report.json")),
                   key=lambda p: int(re.sub(r"\D", "", os.path.basename(os.path.dirname(p))) or 0))
    for path in reports + evals[::-1]:
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    rep = json.load(f)
            except (OSError, json.JSONDecodeError):
                continue
            vals = []
            for t in ("bbox", "segm"):
                sec = rep.get(t) if isinstance(rep, dict) else None
                # LVIS reports: the federated AP, the one LVIS results are quoted in
                kinds = [sec.get(k) for k in ("lvis", "coco")] if isinstance(sec, dict) else []
                ap = next((k for k in kinds if isinstance(k, dict)), None)
                vals.append(ap.get("AP") if isinstance(ap, dict) else None)
            return tuple(vals)
    return None, None


def _log_files(record: dict) -> List[str]:
    folder, jid = record.get("folder", ""), record.get("id", "")
    return sorted(glob.glob(os.path.join(folder, f"{jid}_*_log.err")))


def job_error(record: dict) -> str:
    """The one-paragraph error of the job's tasks (rank 0 first), else SLURM's own line
    (e.g. ``CANCELLED``), else the last line of a traceback in submitit's result."""
    found, slurm_line = "", ""
    for path in _log_files(record):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            if _ERROR_LINE.match(line) and not found:
                found = line.strip()
            if "slurmstepd" in line and "***" in line:
                slurm_line = line.split("***")[1].strip() if line.count("***") >= 2 else line
    if found:
        return found
    if slurm_line:
        return slurm_line
    for path in glob.glob(os.path.join(record.get("folder", ""), f"{record.get('id')}_*_result.pkl")):
        try:
            import pickle

            # Written by this project: submitit's result file in the study's own job folder,
            # from the job this project submitted; not user input (user checkpoints go
            # through checkpoint.safe_load, which never unpickles freely without the opt-in)
            with open(path, "rb") as f:
                kind, value = pickle.load(f)
            if kind == "error":
                return str(value).strip().splitlines()[-1]
        except Exception:
            continue
    return ""


def _local_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return False
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as f:
            return b"submitit" in f.read()
    except OSError:
        return True


def run_status(name: str, folder: str, record: Optional[dict], slurm: Dict[str, dict]) -> RunStatus:
    it, max_iter = _progress(folder)
    box, mask = _ap(folder)
    st = RunStatus(name=name, state="not submitted", job_id=(record or {}).get("id", ""),
                   iteration=it, max_iter=max_iter, ap_box=box, ap_mask=mask, folder=folder)
    if record:
        logs = _log_files(record)
        st.log = logs[0] if logs else os.path.join(record.get("folder", ""),
                                                   f"{record.get('id')}_0_log.out")
    if is_done(folder):
        st.state = "done"
        return st
    if not record:
        if it:
            st.state = "interrupted"  # trained by hand or records lost: launch resumes it
        return st
    if record.get("executor") == "local":
        if _local_alive(record["id"]):
            st.state = "running"
            return st
        slurm_state = ""
    else:
        info = slurm.get(record["id"], {})
        slurm_state = info.get("state", "")
        st.restarts = info.get("restarts", 0)
        if slurm_state in _SLURM_LIVE:
            running = slurm_state not in ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED")
            st.state = ("requeued" if st.restarts or "REQUEUE" in slurm_state else
                        "running" if running else "pending")
            if st.state == "requeued":
                st.extra["slurm"] = f"{slurm_state} (restart {st.restarts})"
            return st
        if not slurm_state and shutil.which("squeue") and not _log_files(record):
            # SLURM has no trace of the job and it wrote nothing: it never started
            st.state = "failed"
            st.error = f"job {record['id']} is unknown to SLURM and left no log"
            return st
    st.error = job_error(record)
    interrupted = slurm_state in _SLURM_INTERRUPTED or "CANCELLED" in st.error \
        or "DUE TO TIME LIMIT" in st.error or "PREEMPT" in st.error
    st.state = "interrupted" if interrupted else "failed"
    if not st.error:
        st.error = (f"job {record['id']} ended ({slurm_state or 'no state'}) before the run was "
                    "done; see its log")
    return st

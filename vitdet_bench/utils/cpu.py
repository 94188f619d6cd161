"""How many intra-op threads and data-loader workers a CPU-side process uses.

Counted from the CPUs this process may actually run on (``os.sched_getaffinity``: a
container, ``taskset`` or a SLURM allocation gives fewer than the machine has), shared by
the training processes of this machine. A config written for a GPU server asks for 4
loader workers; on a 2-CPU allocation they and the training process's intra-op threads
oversubscribe the CPUs, and a busy neighbour then makes every iteration wait for its
slowest thread.

The policy (pure functions, applied by :func:`configure_intra_op_threads` at launch and
by the loader builds through :func:`loader_workers_for`):

* intra-op threads: ``OMP_NUM_THREADS`` when set, else the CPUs available divided among
  the machine's training processes (at least 1);
* loader workers: ``train.loader_workers`` when set (used exactly, for the training and
  the evaluation loader), else the loader config's ``num_workers`` lowered to what the
  CPUs leave beside the process itself (its share minus one; 0, i.e. loading in the
  process, when the share is one CPU). The worker count never changes which images a
  step sees (see :mod:`vitdet_bench.engine.data`), only how fast they arrive.

The choice is logged once per process, the threads with the training loader's workers
(launch happens before logging is set up).
"""
from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass
from typing import Mapping, Optional

__all__ = ["CpuChoice", "available_cpus", "choose_intra_op_threads", "choose_loader_workers",
           "configure_intra_op_threads", "loader_workers_for", "with_fitted_workers",
           "WORKERS_KEY"]

logger = logging.getLogger(__name__)

WORKERS_KEY = "train.loader_workers"

_logged: set = set()


@dataclass(frozen=True)
class CpuChoice:
    """One decision: the value and where it came from (for the log line)."""
    value: int
    source: str


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where the
    platform has no affinity call)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _where(cpus: int, processes: int) -> str:
    return f"{cpus} CPU(s) available" + (f" / {processes} processes" if processes > 1 else "")


def choose_intra_op_threads(processes_per_machine: int = 1, *,
                            environ: Optional[Mapping[str, str]] = None,
                            cpus: Optional[int] = None) -> CpuChoice:
    """Intra-op threads for one of ``processes_per_machine`` training processes."""
    env = os.environ if environ is None else environ
    explicit = (env.get("OMP_NUM_THREADS") or "").strip()
    if explicit:
        explicit = explicit.split(",")[0].strip()   # "4,2": nested levels; the first is ours
        if not explicit.isdigit() or int(explicit) < 1:
            raise ValueError(f"OMP_NUM_THREADS={explicit!r} is not a positive whole number of "
                             "threads: set it to an integer >= 1, or unset it to use the CPUs "
                             "available to the process.")
        return CpuChoice(int(explicit), "OMP_NUM_THREADS")
    cpus = available_cpus() if cpus is None else cpus
    procs = max(1, int(processes_per_machine))
    return CpuChoice(max(1, cpus // procs), _where(cpus, procs))


def choose_loader_workers(requested, processes_per_machine: int = 1, *, exact=None,
                          cpus: Optional[int] = None) -> CpuChoice:
    """Data-loader worker processes beside one training process.

    ``requested``: the loader config's ``num_workers``; ``exact``: ``train.loader_workers``
    (wins when not None).
    """
    if exact is not None:
        if isinstance(exact, bool) or not isinstance(exact, int) or exact < 0:
            raise ValueError(f"{WORKERS_KEY}={exact!r} is not a number of worker processes: "
                             "set it to an integer >= 0 (0 loads data in the training "
                             "process), or leave it unset (null) to fit the loader's "
                             "num_workers to the CPUs available.")
        return CpuChoice(exact, WORKERS_KEY)
    requested = max(0, int(requested or 0))
    cpus = available_cpus() if cpus is None else cpus
    procs = max(1, int(processes_per_machine))
    spare = max(0, cpus // procs - 1)   # the training process keeps one CPU of its share
    if requested <= spare:
        return CpuChoice(requested, "the config's num_workers")
    return CpuChoice(spare, f"the config's num_workers={requested} lowered to fit "
                            f"{_where(cpus, procs)}; {WORKERS_KEY}=N forces N")


def _log_once(key, message: str) -> None:
    if key not in _logged:
        _logged.add(key)
        logger.info(message)


_threads_choice: Optional[CpuChoice] = None   # what configure_intra_op_threads set


def configure_intra_op_threads(processes_per_machine: int = 1) -> int:
    """Set torch's intra-op threads by :func:`choose_intra_op_threads` (at launch, before
    logging is set up: the choice is logged with the training loader's workers)."""
    import torch

    global _threads_choice
    choice = choose_intra_op_threads(processes_per_machine)
    if torch.get_num_threads() != choice.value:
        torch.set_num_threads(choice.value)
    _threads_choice = choice
    return choice.value


def _threads_text() -> str:
    import torch

    n = torch.get_num_threads()
    if _threads_choice is not None and _threads_choice.value == n:
        return f"{n} intra-op thread(s) ({_threads_choice.source})"
    return f"{n} intra-op thread(s) (torch's setting)"


def loader_workers_for(requested, processes_per_machine: int = 1, *, exact=None,
                       purpose: str = "training") -> int:
    """:func:`choose_loader_workers` for one loader; logged once per process and choice,
    the training loader's line with the intra-op threads."""
    choice = choose_loader_workers(requested, processes_per_machine, exact=exact)
    threads = f"{_threads_text()}, " if purpose == "training" else ""
    _log_once((purpose, choice), f"CPU: {threads}{choice.value} {purpose} data-loader "
                                 f"worker(s) ({choice.source})")
    return choice.value


def with_fitted_workers(loader_cfg, processes_per_machine: int = 1, *, exact=None,
                        purpose: str = "evaluation"):
    """A copy of a loader config (LazyConfig node or dict) whose ``num_workers`` is
    :func:`loader_workers_for` of its own; a config without the key is returned as is."""
    if "num_workers" not in loader_cfg:
        return loader_cfg
    out = copy.deepcopy(loader_cfg)
    out["num_workers"] = loader_workers_for(loader_cfg["num_workers"], processes_per_machine,
                                            exact=exact, purpose=purpose)
    return out

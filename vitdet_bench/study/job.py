"""The cluster job: a small picklable callable around ``tools/train_net.py``'s main.

submitit pickles a :class:`TrainJob` and runs it in every task of the SLURM job (or
of a local job). Each task is one training process: its rank, the world size and
the rendezvous address come from the job's environment (SLURM_PROCID, SLURM_NTASKS,
the first host of SLURM_JOB_NODELIST, a port from the job id: submitit's
``TorchDistributedEnvironment``). It then runs exactly what ``tools/train_net.py
--resume`` runs in each of its processes (same config checks, same trainer), so a
job that starts again continues from the run folder's last checkpoint.

Time limit and preemption: SLURM signals the job ``signal_delay_s`` before its time
limit (``--signal=USR2@...``, set by submitit); submitit's handler calls
:meth:`TrainJob.checkpoint` and requeues the job. The handler is deferred to the end
of the current iteration (:class:`DeferredSignal`, :mod:`vitdet_bench.engine.preemption`),
where a checkpoint of that iteration is saved first; the requeued job resumes from it.

This module imports nothing heavy at the top and launch pickles it by value
(cloudpickle): a task unpickles its job and has the signal handlers in place within
about a second of starting, before torch and detectron2 are imported (a signal that
came before would kill the task). That pickle, and submitit's result pickles, are
written by the project itself into the study's folder; no user file is unpickled here
(checkpoints go through vitdet_bench.checkpoint.safe_load).
"""
from __future__ import annotations

import datetime
import importlib.util
import os
import sys
from typing import List, Optional

__all__ = ["TrainJob", "DeferredSignal", "load_train_net"]

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_train_net(repo: Optional[str] = None):
    """``tools/train_net.py`` as a module (it is a script, not part of the package)."""
    path = os.path.join(repo or _REPO, "tools", "train_net.py")
    name = "vitdet_bench_train_net"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == path:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def train_net_args(train_net, config_file: str, overrides: List[str], resume: bool = True):
    """The argparse namespace ``tools/train_net.py --config-file CFG [--resume] OVERRIDES``."""
    build = getattr(train_net, "build_parser", None) or train_net.default_argument_parser
    argv = ["--config-file", config_file] + (["--resume"] if resume else []) + list(overrides)
    return build().parse_args(argv)


class DeferredSignal:
    """A signal handler that records the signal; ``deliver()`` runs the handler it
    replaced. :class:`vitdet_bench.engine.preemption.CheckpointOnSignalHook` calls it
    after checkpointing at an iteration boundary."""

    def __init__(self, original):
        self.original = original
        self.pending: List[int] = []

    def __call__(self, signum, frame):
        import signal

        if signum not in self.pending:
            self.pending.append(signum)
        print(f"[vitdet_bench] received {signal.Signals(signum).name}: checkpointing at the "
              "end of this iteration, then requeuing", flush=True)

    def deliver(self):
        while self.pending:
            signum = self.pending.pop(0)
            if callable(self.original):
                self.original(signum, None)


class TrainJob:
    """One study run as a submitit job: ``TrainJob(name, config_file, overrides)()``."""

    def __init__(self, name: str, config_file: str, overrides: List[str], repo: str = _REPO):
        self.name = name
        self.config_file = config_file
        self.overrides = list(overrides)
        self.repo = repo

    def __repr__(self):
        return f"TrainJob({self.name!r})"

    def __call__(self):
        import signal

        import submitit

        env = submitit.JobEnvironment()
        # submitit installed its checkpoint-and-requeue handler: run it at the next
        # iteration boundary instead, after a checkpoint of the finished iteration.
        sig = env._usr_sig()
        if not isinstance(signal.getsignal(sig), DeferredSignal):
            signal.signal(sig, DeferredSignal(signal.getsignal(sig)))
        dist_env = submitit.helpers.TorchDistributedEnvironment().export(
            set_cuda_visible_devices=False, overwrite=True)
        self._limit_cpu_threads()
        train_net = load_train_net(self.repo)
        args = train_net_args(train_net, self.config_file, self.overrides, resume=True)
        print(f"[vitdet_bench] study run {self.name!r}: rank {dist_env.rank} of "
              f"{dist_env.world_size} (local {dist_env.local_rank} of "
              f"{dist_env.local_world_size}), rendezvous {dist_env.master_addr}:"
              f"{dist_env.master_port}, job {env.job_id}", flush=True)
        if dist_env.world_size > 1:
            self._init_process_group(dist_env)
        try:
            train_net.main_guarded(args)
        finally:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
        return {"name": self.name, "output_dir": self._output_dir()}

    def checkpoint(self, *args, **kwargs):
        """submitit's requeue hook: the same job again (it resumes from the run folder's
        last checkpoint, saved just before by the deferred signal handler)."""
        import submitit

        return submitit.helpers.DelayedSubmission(job_by_value(
            self.name, self.config_file, self.overrides, self.repo))

    # ------------------------------------------------------------------ internals
    def _output_dir(self) -> Optional[str]:
        for ov in self.overrides:
            if ov.startswith("train.output_dir="):
                return ov.split("=", 1)[1].strip("'\"")
        return None

    @staticmethod
    def _limit_cpu_threads() -> None:
        """One process per task: use the task's CPUs, not the whole node's (an explicit
        OMP_NUM_THREADS wins)."""
        cpus = os.environ.get("SLURM_CPUS_PER_TASK")
        if "OMP_NUM_THREADS" not in os.environ and cpus and cpus.isdigit():
            import torch

            torch.set_num_threads(int(cpus))

    @staticmethod
    def _init_process_group(dist_env) -> None:
        import torch
        import torch.distributed as dist
        from detectron2.utils import comm

        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(dist_env.local_rank % torch.cuda.device_count())
        dist.init_process_group(backend="nccl" if cuda else "gloo", init_method="env://",
                                world_size=dist_env.world_size, rank=dist_env.rank,
                                timeout=datetime.timedelta(minutes=30))
        # detectron2's per-machine group (local rank / size), as its launch() makes it
        per = dist_env.local_world_size
        for machine in range(dist_env.world_size // per):
            group = dist.new_group(list(range(machine * per, (machine + 1) * per)))
            if machine == dist_env.rank // per:
                comm._LOCAL_PROCESS_GROUP = group
        comm.synchronize()


def job_by_value(*args) -> TrainJob:
    """A TrainJob whose class cloudpickle stores by value (see the module docstring)."""
    import cloudpickle

    module = sys.modules.get(__name__)
    if module is not None and getattr(module, "TrainJob", None) is not None:
        cloudpickle.register_pickle_by_value(module)
        return module.TrainJob(*args)
    return TrainJob(*args)  # this class was itself unpickled by value: it stays so

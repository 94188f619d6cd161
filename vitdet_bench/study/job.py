"""The cluster job: a small picklable callable around :func:`vitdet_bench.engine.launch.main`.

submitit pickles a :class:`TrainJob` and runs it in every task of the SLURM job (or
of a local job). Each task is one training process: its rank, the world size and
the rendezvous address come from the job's environment (SLURM_PROCID, SLURM_NTASKS,
the first host of SLURM_JOB_NODELIST, a port from the job id: submitit's
``TorchDistributedEnvironment``). It then runs exactly what ``tools/train_net.py
--resume`` runs in each of its processes (the same ``main``: same config checks, same
trainer), so a job that starts again continues from the run folder's last checkpoint.

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

import os
import sys
from typing import List, Optional

__all__ = ["TrainJob", "DeferredSignal", "job_by_value"]


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

    def __init__(self, name: str, config_file: str, overrides: List[str]):
        self.name = name
        self.config_file = config_file
        self.overrides = list(overrides)

    def __repr__(self):
        return f"TrainJob({self.name!r})"

    def __call__(self):
        import signal

        import submitit

        from vitdet_bench.engine import launch

        env = submitit.JobEnvironment()
        # submitit installed its checkpoint-and-requeue handler: run it at the next
        # iteration boundary instead, after a checkpoint of the finished iteration.
        sig = env._usr_sig()
        if not isinstance(signal.getsignal(sig), DeferredSignal):
            signal.signal(sig, DeferredSignal(signal.getsignal(sig)))
        dist_env = submitit.helpers.TorchDistributedEnvironment().export(
            set_cuda_visible_devices=False, overwrite=True)
        launch.limit_threads_to_slurm_task()
        args = launch.train_args(self.config_file, self.overrides, resume=True)
        import vitdet_bench

        print(f"[vitdet_bench] study run {self.name!r}: rank {dist_env.rank} of "
              f"{dist_env.world_size} (local {dist_env.local_rank} of "
              f"{dist_env.local_world_size}), rendezvous {dist_env.master_addr}:"
              f"{dist_env.master_port}, job {env.job_id}; vitdet_bench from "
              f"{os.path.dirname(os.path.abspath(vitdet_bench.__file__))}", flush=True)
        if dist_env.world_size > 1:
            launch.init_process_group(dist_env.rank, dist_env.world_size, dist_env.local_rank,
                                      dist_env.local_world_size)
        try:
            launch.main_guarded(args)
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
            self.name, self.config_file, self.overrides))

    # ------------------------------------------------------------------ internals
    def _output_dir(self) -> Optional[str]:
        for ov in self.overrides:
            if ov.startswith("train.output_dir="):
                return ov.split("=", 1)[1].strip("'\"")
        return None


def job_by_value(*args) -> TrainJob:
    """A TrainJob whose class cloudpickle stores by value (see the module docstring)."""
    import cloudpickle

    module = sys.modules.get(__name__)
    if module is not None and getattr(module, "TrainJob", None) is not None:
        cloudpickle.register_pickle_by_value(module)
        return module.TrainJob(*args)
    return TrainJob(*args)  # this class was itself unpickled by value: it stays so

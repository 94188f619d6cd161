"""Starting the training processes: one :func:`main` for every way a run is started.

* ``tools/train_net.py`` parses its command line and calls :func:`launch_main`: the
  pre-flight checks run once in the calling process, then one process trains, or
  ``--num-gpus N`` processes do (GPUs through detectron2's ``launch``; without CUDA, N
  CPU processes over gloo, each with its share of the cores);
* a cluster job (:class:`vitdet_bench.study.job.TrainJob`) is one of the run's
  processes already: its rank and world size come from SLURM's environment; it calls
  :func:`init_process_group` and :func:`main_guarded`.

Errors that are the user's to fix end the process with one paragraph and an exit code
(2: configuration or checkpoint, 1: data or divergence); anything else keeps its
traceback.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import Optional, Sequence

__all__ = ["train_args", "main", "main_guarded", "launch_main", "launch_cpu",
           "init_process_group", "share_cpu_threads", "limit_threads_to_slurm_task"]


def train_args(config_file: str, overrides: Sequence[str] = (), *, resume: bool = False,
               eval_only: bool = False, num_gpus: int = 1) -> argparse.Namespace:
    """The namespace ``tools/train_net.py --config-file CFG [--resume] [--eval-only]
    OVERRIDES`` parses to (detectron2's ``default_argument_parser`` flags)."""
    from detectron2.engine import default_argument_parser

    argv = ["--config-file", config_file, "--num-gpus", str(num_gpus)]
    argv += (["--resume"] if resume else []) + (["--eval-only"] if eval_only else [])
    return default_argument_parser().parse_args(argv + list(overrides))


def main(args):
    """Load and check the config of ``args``, then train / evaluate it in this process."""
    from vitdet_bench.config import load_config

    from .trainer import run

    cfg = load_config(args.config_file, args.opts, resume=args.resume, eval_only=args.eval_only)
    return run(cfg, resume=args.resume, eval_only=args.eval_only)


def main_guarded(args):
    """:func:`main`; an error that is the user's to fix becomes one paragraph and an exit code."""
    from vitdet_bench.checkpoint import CheckpointError

    from .errors import ConfigError, is_user_error, user_error_message

    try:
        return main(args)
    except ConfigError as e:
        _fail("Configuration error", user_error_message(e), 2)
    except Exception as e:
        if not is_user_error(e):
            raise
        kind = {"NonFiniteLossError": "Training diverged"}.get(type(e).__name__, "Error")
        _fail(f"{kind} ({type(e).__name__})", user_error_message(e),
              2 if isinstance(e, CheckpointError) else 1)


def _fail(title: str, message: str, code: int):
    from detectron2.utils import comm

    rank = f"[rank {comm.get_rank()}] " if comm.get_world_size() > 1 else ""
    sys.stdout.flush()
    print(f"{rank}{title}: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


# ----------------------------------------------------------------------------- threads
def share_cpu_threads(procs_per_machine: int) -> None:
    """Give each of the machine's training processes its share of the CPUs available to
    this process (as torchrun does); policy in :mod:`vitdet_bench.utils.cpu`."""
    from vitdet_bench.utils.cpu import configure_intra_op_threads

    configure_intra_op_threads(procs_per_machine)


def limit_threads_to_slurm_task() -> None:
    """One process per SLURM task: use the task's CPUs, not the whole node's (an explicit
    OMP_NUM_THREADS wins)."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    if "OMP_NUM_THREADS" not in os.environ and cpus and cpus.isdigit():
        import torch

        torch.set_num_threads(int(cpus))


# ----------------------------------------------------------------------------- process groups
def _set_local_process_group(procs_per_machine: int) -> None:
    """detectron2's per-machine group (``comm.get_local_rank`` / ``get_local_size``), as its
    ``launch`` makes it for the processes it starts."""
    import torch.distributed as dist
    from detectron2.utils import comm

    if hasattr(comm, "create_local_process_group"):  # detectron2 main
        comm.create_local_process_group(procs_per_machine)
        return
    # detectron2 0.6 has no public way to set it: its launch() assigns the module global.
    machine = dist.get_rank() // procs_per_machine
    for i in range(dist.get_world_size() // procs_per_machine):
        group = dist.new_group(list(range(i * procs_per_machine, (i + 1) * procs_per_machine)))
        if i == machine:
            comm._LOCAL_PROCESS_GROUP = group


def init_process_group(rank: int, world_size: int, local_rank: int, procs_per_machine: int,
                       init_method: str = "env://", backend: Optional[str] = None) -> None:
    """Join the run's process group (NCCL with CUDA, else gloo) and make detectron2's
    per-machine group; with CUDA this process uses GPU ``local_rank``."""
    import torch
    import torch.distributed as dist
    from detectron2.utils import comm

    cuda = torch.cuda.is_available()
    if cuda and backend != "gloo":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend=backend or ("nccl" if cuda else "gloo"),
                            init_method=init_method, world_size=world_size, rank=rank,
                            timeout=datetime.timedelta(minutes=30))
    _set_local_process_group(procs_per_machine)
    comm.synchronize()


# ----------------------------------------------------------------------------- launching
def _cpu_worker(local_rank, world_size, dist_url, args):
    import torch.distributed as dist

    share_cpu_threads(args.num_gpus)
    init_process_group(args.machine_rank * args.num_gpus + local_rank, world_size, local_rank,
                       args.num_gpus, init_method=dist_url, backend="gloo")
    main_guarded(args)  # a user error exits this process; launch_cpu stops the others
    dist.destroy_process_group()


def launch_cpu(args) -> None:
    """``args.num_gpus`` CPU processes on this machine (of ``args.num_machines``), gloo."""
    import torch.multiprocessing as mp
    from detectron2.engine.launch import _find_free_port

    world_size = args.num_machines * args.num_gpus
    dist_url = args.dist_url
    if dist_url == "auto":
        dist_url = f"tcp://127.0.0.1:{_find_free_port()}"
    try:
        mp.start_processes(_cpu_worker, nprocs=args.num_gpus,
                           args=(world_size, dist_url, args), daemon=False, start_method="spawn")
    except mp.ProcessExitedException as e:
        # A worker printed its one-paragraph error and exited; the others were stopped.
        print(f"[vitdet_bench] training process {e.error_index} exited with code "
              f"{e.exit_code}; the other processes were stopped.", file=sys.stderr, flush=True)
        sys.exit(e.exit_code if isinstance(e.exit_code, int) and e.exit_code > 0 else 1)


def launch_main(args) -> None:
    """What ``tools/train_net.py`` does with its parsed arguments: the pre-flight checks
    (exit code 2 before anything starts), then :func:`main_guarded` in this process or in
    ``--num-gpus`` processes per machine."""
    import torch
    from detectron2.engine import launch

    from vitdet_bench.config import load_config

    from .errors import ConfigError

    world = args.num_gpus * args.num_machines
    if world == 1:
        share_cpu_threads(1)
        return main_guarded(args)  # its own pre-flight, in this process
    try:
        load_config(args.config_file, args.opts, resume=args.resume, eval_only=args.eval_only)
    except ConfigError as e:  # fail fast, before spawning anything
        print(f"Configuration error: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(2)
    if not torch.cuda.is_available():
        where = (f"{world} CPU processes" if args.num_machines == 1 else
                 f"{args.num_gpus} CPU process(es) on machine {args.machine_rank} of "
                 f"{args.num_machines}, {world} in all")
        print(f"[vitdet_bench] --num-gpus {args.num_gpus} without CUDA: {where} (gloo).",
              flush=True)
        launch_cpu(args)
    else:
        launch(main_guarded, args.num_gpus, num_machines=args.num_machines,
               machine_rank=args.machine_rank, dist_url=args.dist_url, args=(args,))

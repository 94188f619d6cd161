#!/usr/bin/env python
"""Train / evaluate a vitdet_bench LazyConfig (detectron2 conventions).

    python tools/train_net.py --config-file CFG.py [--eval-only] [--resume]
        [--num-gpus N] [--num-machines M --machine-rank R --dist-url URL] [key=value ...]

Overrides are checked against the loaded config before any heavy work: an unknown key
(where its parent exists), a value of the wrong type, an unregistered dataset name, an
unknown ``attention_strategy`` or a missing ``train.init_checkpoint`` file stops with a
one-paragraph error (exit code 2). Later errors that are the user's to fix -- bad data,
a checkpoint of another architecture, a non-finite loss -- print one paragraph naming
the file / image / iteration and exit with code 1 (a checkpoint error: 2); anything else
is a bug and keeps its traceback. ``--num-gpus N`` without CUDA runs N CPU processes with
the gloo backend (BatchNorm becomes NaiveSyncBatchNorm, logged as "BatchNorm: world size N").
"""
from __future__ import annotations

import ast
import difflib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import vitdet_bench  # noqa: E402,F401  (compat patches before detectron2)
import vitdet_bench.data  # noqa: E402,F401  (registers datasets)

import torch  # noqa: E402
from detectron2.config import LazyConfig  # noqa: E402
from detectron2.engine import default_argument_parser, launch  # noqa: E402
from omegaconf import DictConfig, ListConfig, OmegaConf  # noqa: E402

# Optional keys a config may omit but an override may add.
OPTIONAL_KEYS = {"train.epochs", "train.num_train_images", "train.warmup_iters", "train.seed",
                 "train.vitdet_bench", "train.device", "train.eval_period", "train.log_period",
                 "train.channels_last", "train.freeze", "train.freeze.trunk", "train.freeze.pyramid"}


class ConfigError(ValueError):
    pass


def _parse_value(v: str):
    """The value ``LazyConfig.apply_overrides`` will set: hydra's override grammar
    (``null`` is None, ``true``/``false`` are bools), else a Python literal, else the string."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        return OverridesParser.create().parse_overrides([f"k={v}"])[0].value()
    except Exception:
        pass
    try:
        return ast.literal_eval(v)
    except Exception:
        return v


def _type_ok(old, new) -> bool:
    if old is None or new is None:
        return True
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, (int, float)):
        if not isinstance(new, (int, float)):
            return False
        return isinstance(old, float) or isinstance(new, int) or float(new).is_integer()
    if isinstance(old, str):
        return isinstance(new, str)
    if isinstance(old, (list, tuple, ListConfig)):
        return isinstance(new, (list, tuple))
    if isinstance(old, (dict, DictConfig)):
        return isinstance(new, dict) or (isinstance(old, DictConfig) and "_target_" in old)
    return True


def check_overrides(cfg, overrides) -> None:
    """Raise ConfigError for an unknown key or a wrongly typed value."""
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(f"Override {ov!r} is not of the form key=value.")
        key, value = ov.split("=", 1)
        key = key.strip()
        new = _parse_value(value)
        node = cfg
        parts = key.split(".")
        for i, p in enumerate(parts):
            prefix = ".".join(parts[:i]) or "<root>"
            if isinstance(node, (DictConfig, dict)):
                if p not in node:
                    if key in OPTIONAL_KEYS:
                        break
                    close = difflib.get_close_matches(p, [str(k) for k in node.keys()], n=3,
                                                      cutoff=0.5)
                    hint = (" Did you mean " + " or ".join(
                        repr(".".join(parts[:i] + [c])) for c in close) + "?") if close else ""
                    raise ConfigError(
                        f"Unknown config key {key!r} in override {ov!r}: {prefix} has no key "
                        f"{p!r}.{hint} Known keys of {prefix}: "
                        f"{', '.join(sorted(str(k) for k in node.keys()))}.")
                node = node[p] if i < len(parts) - 1 else OmegaConf.select(cfg, key)
            elif isinstance(node, (ListConfig, list)):
                if not p.isdigit() or int(p) >= len(node):
                    raise ConfigError(f"Unknown config key {key!r}: {prefix} is a list of length "
                                      f"{len(node)}, {p!r} is not a valid index.")
                node = node[int(p)]
            else:
                raise ConfigError(f"Unknown config key {key!r}: {prefix} is a value "
                                  f"({node!r}), not a group of keys.")
        else:
            if not _type_ok(node, new):
                raise ConfigError(
                    f"Wrong type for config key {key!r}: override {ov!r} gives "
                    f"{type(new).__name__} {new!r}, but the config has "
                    f"{type(node).__name__} {node!r}."
                    + (" Overrides use hydra's grammar: write null for None." if value.strip() == "None" else ""))


def _config_entries(node, keys, path=""):
    """``(dotted path, value)`` of every entry named in ``keys`` whose value is a string,
    a list of them or None, anywhere under ``node``; other entries are searched into."""
    if isinstance(node, DictConfig):
        for k in node.keys():
            try:
                v = node[k]
            except Exception:  # an unresolvable interpolation: nothing to check there
                continue
            key = f"{path}.{k}".lstrip(".")
            if k in keys and (v is None or isinstance(v, (str, ListConfig))):
                yield key, v
            else:
                yield from _config_entries(v, keys, key)
    elif isinstance(node, ListConfig):
        for i, v in enumerate(node):
            yield from _config_entries(v, keys, f"{path}.{i}")


def _dataset_names(cfg):
    out = []
    if "dataloader" in cfg:
        for path, v in _config_entries(cfg.dataloader, ("names", "dataset_name"), "dataloader"):
            if v is not None:
                out.extend((path, x) for x in ([v] if isinstance(v, str) else list(v)))
    return out


def check_datasets(cfg) -> None:
    from detectron2.data import DatasetCatalog

    known = DatasetCatalog.list()
    for path, name in _dataset_names(cfg):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            raise ConfigError(
                f"Dataset {name!r} (at {path}) is not registered."
                + (f" Did you mean {' or '.join(map(repr, close))}?" if close else "")
                + f" Registered vitdet_bench datasets include shapes_train, shapes_val, "
                "coco128_train, coco128_val, coco128_first16.")


def check_attention_strategies(cfg) -> None:
    """Every ``attention_strategy`` in the config must be a known strategy (or None)."""
    from vitdet_bench.modeling.backbone.vit import ATTENTION_STRATEGIES

    for key, v in _config_entries(cfg, ("attention_strategy",)):
        if isinstance(v, str) and v not in ATTENTION_STRATEGIES:
            close = difflib.get_close_matches(v, ATTENTION_STRATEGIES, n=1, cutoff=0.5)
            raise ConfigError(
                f"Unknown attention strategy {v!r} at {key}."
                + (f" Did you mean {close[0]!r}?" if close else "")
                + f" Known strategies: {', '.join(ATTENTION_STRATEGIES)} (all "
                "windowed; windowed + 4 global; all global with activation "
                "checkpointing; all global).")


def check_init_checkpoint(cfg, resume: bool = False) -> None:
    """A local ``train.init_checkpoint`` must exist, unless a resume will not read it."""
    train = cfg.get("train", None)
    path = train.get("init_checkpoint", "") if train is not None else ""
    if not path or not isinstance(path, str) or "://" in path or os.path.isfile(path):
        return
    out = train.get("output_dir", None)
    if resume and out and os.path.isfile(os.path.join(str(out), "last_checkpoint")):
        return
    raise ConfigError(
        f"train.init_checkpoint={path!r} does not exist (relative paths are relative to "
        f"{os.getcwd()!r}). See the table of expected files in README.md (put them under "
        "pretrained/), or set train.init_checkpoint='' with train.init_format=random.")


def load_config(args):
    cfg = LazyConfig.load(args.config_file)
    check_overrides(cfg, args.opts)
    cfg = LazyConfig.apply_overrides(cfg, args.opts)
    check_datasets(cfg)
    check_attention_strategies(cfg)
    check_init_checkpoint(cfg, resume=getattr(args, "resume", False))
    return cfg


def main(args):
    from vitdet_bench.engine import run

    cfg = load_config(args)
    return run(cfg, resume=args.resume, eval_only=args.eval_only)


def main_guarded(args):
    """``main``; an error that is the user's to fix becomes one paragraph and an exit code."""
    from vitdet_bench.checkpoint import CheckpointError
    from vitdet_bench.engine.errors import is_user_error, user_error_message

    try:
        return main(args)
    except ConfigError as e:
        _fail("Configuration error", str(e), 2)
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


def _share_cpu_threads(procs_per_machine: int) -> None:
    """Give each of the machine's CPU processes its share of the cores (as torchrun does):
    N processes with all cores' worth of intra-op threads each would oversubscribe them.
    An explicit OMP_NUM_THREADS wins."""
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(max(1, (cores or 1) // max(1, procs_per_machine)))


def _cpu_worker(local_rank, world_size, num_machines, machine_rank, dist_url, args):
    import torch.distributed as dist
    from detectron2.utils import comm

    rank = machine_rank * args.num_gpus + local_rank
    _share_cpu_threads(args.num_gpus)
    dist.init_process_group(backend="gloo", init_method=dist_url, world_size=world_size,
                            rank=rank)
    num_per = args.num_gpus
    for i in range(num_machines):
        ranks = list(range(i * num_per, (i + 1) * num_per))
        pg = dist.new_group(ranks)
        if i == machine_rank:
            comm._LOCAL_PROCESS_GROUP = pg
    comm.synchronize()
    main_guarded(args)  # a user error exits this process; launch_cpu stops the others
    dist.destroy_process_group()


def launch_cpu(args):
    import torch.multiprocessing as mp
    from detectron2.engine.launch import _find_free_port

    world_size = args.num_machines * args.num_gpus
    dist_url = args.dist_url
    if dist_url == "auto":
        dist_url = f"tcp://127.0.0.1:{_find_free_port()}"
    try:
        mp.start_processes(_cpu_worker, nprocs=args.num_gpus,
                           args=(world_size, args.num_machines, args.machine_rank, dist_url,
                                 args),
                           daemon=False, start_method="spawn")
    except mp.ProcessExitedException as e:
        # A worker printed its one-paragraph error and exited; the others were stopped.
        print(f"[vitdet_bench] training process {e.error_index} exited with code "
              f"{e.exit_code}; the other processes were stopped.", file=sys.stderr, flush=True)
        sys.exit(e.exit_code if isinstance(e.exit_code, int) and e.exit_code > 0 else 1)


def cli(argv=None):
    args = default_argument_parser().parse_args(argv)
    try:
        load_config(args)  # fail fast, before spawning anything
    except ConfigError as e:
        print(f"Configuration error: {e}", file=sys.stderr)
        sys.exit(2)
    world = args.num_gpus * args.num_machines
    if world > 1 and not torch.cuda.is_available():
        where = (f"{world} CPU processes" if args.num_machines == 1 else
                 f"{args.num_gpus} CPU process(es) on machine {args.machine_rank} of "
                 f"{args.num_machines}, {world} in all")
        print(f"[vitdet_bench] --num-gpus {args.num_gpus} without CUDA: {where} (gloo).",
              flush=True)
        launch_cpu(args)
    else:
        launch(main_guarded, args.num_gpus, num_machines=args.num_machines,
               machine_rank=args.machine_rank, dist_url=args.dist_url, args=(args,))


if __name__ == "__main__":
    cli()

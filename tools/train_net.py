#!/usr/bin/env python
"""Train / evaluate a vitdet_bench LazyConfig (detectron2 conventions).

    python tools/train_net.py --config-file CFG.py [--eval-only] [--resume]
        [--num-gpus N] [--num-machines M --machine-rank R --dist-url URL] [key=value ...]

The command line and the config are checked before any heavy work (pre-flight): a
missing ``--config-file``, a flag placed after the ``key=value`` overrides, an unknown
override key (where its parent exists), a value of the wrong type, an unregistered
dataset or one whose files are missing (``DETECTRON2_DATASETS``), a model whose
``num_classes`` differs from a dataset's categories, an unknown ``attention_strategy``,
a missing ``train.init_checkpoint`` file, a schedule that does not fit ``max_iter``
(e.g. ``train.warmup_iters`` > ``train.max_iter``) and ``--eval-only`` without weights
each stop with a one-paragraph error (exit code 2). Later errors that are the user's to fix -- bad data,
a checkpoint of another architecture, a non-finite loss -- print one paragraph naming
the file / image / iteration and exit with code 1 (a checkpoint error: 2); anything else
is a bug and keeps its traceback. ``--num-gpus N`` without CUDA runs N CPU processes with
the gloo backend (BatchNorm becomes NaiveSyncBatchNorm, logged as "BatchNorm: world size N").
"""
from __future__ import annotations

import argparse
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

from vitdet_bench.engine.errors import ConfigError  # noqa: E402

# Optional keys a config may omit but an override may add.
OPTIONAL_KEYS = {"train.epochs", "train.num_train_images", "train.warmup_iters", "train.seed",
                 "train.vitdet_bench", "train.device", "train.eval_period", "train.log_period",
                 "train.channels_last", "train.init_lenient", "train.eval_untrained",
                 "train.grad_accum", "train.init_keep", "train.freeze", "train.freeze.trunk", "train.freeze.pyramid", "train.trust_checkpoint", "train.eval_allow_fresh"}

DESCRIPTION = """\
Train and evaluate a vitdet_bench detector from a LazyConfig (.py) file: detectron2's
training loop with exact resume, atomic checkpoints and a COCO + TIDE report at the end.
Flags come first; everything after the first key=value is read as a config override
(LazyConfig "path.key=value", hydra grammar: null, true/false, [a,b], 'quoted str')."""

EPILOG = """\
examples:
  # the 10-minute CPU demo (synthetic shapes), then a 30-iteration smoke run
  %(prog)s --config-file configs/demo/vit_tiny_shapes.py
  %(prog)s --config-file configs/demo/vit_tiny_shapes.py train.max_iter=30 \\
      train.warmup_iters=3 train.output_dir=output/smoke
  # fine-tune from MAE weights on 8 GPUs; schedule in epochs
  %(prog)s --config-file configs/mae_vitb_mrcnn.py --num-gpus 8 \\
      train.init_checkpoint=pretrained/mae_pretrain_vit_base.pth train.epochs=25
  # continue an interrupted run (a finished one is left as it is)
  %(prog)s --config-file configs/mae_vitb_mrcnn.py --resume
  # evaluate a trained detector / re-evaluate a run's last checkpoint
  %(prog)s --config-file configs/mae_vitb_mrcnn.py --eval-only \\
      train.init_checkpoint=output/mae_vitb_mrcnn/model_final.pth train.init_format=detectron2
  %(prog)s --config-file configs/mae_vitb_mrcnn.py --eval-only --resume

outputs (train.output_dir): log.txt, config.yaml, metrics.json, TensorBoard events
(tensorboard --logdir DIR), model_*.pth + last_checkpoint, report.json and
inference/ (report.md, charts, detectron2's results).
exit codes: 0 done; 2 configuration or checkpoint error; 1 bad data or a diverged run.
"""

_HELP = {
    "config_file": "LazyConfig .py file, e.g. configs/mae_vitb_mrcnn.py (required)",
    "resume": "continue from train.output_dir's last_checkpoint (same optimizer, scheduler, data "
              "stream and RNG state); a finished run is reported as finished and left as it is. "
              "With --eval-only: evaluate that last checkpoint",
    "eval_only": "evaluate only: the detector in train.init_checkpoint (a detectron2 checkpoint), "
                 "or with --resume the run's last checkpoint; no weights is an error unless "
                 "train.eval_untrained=True",
    "num_gpus": "processes per machine: GPUs, or CPU processes (gloo) without CUDA",
    "opts": "config overrides path.key=value, after all flags, e.g. train.max_iter=100 "
            "optimizer.lr=1e-4 'dataloader.train.dataset.names=coco128_train'",
}


def build_parser():
    """detectron2's ``default_argument_parser`` (same flags), described for this tool."""
    parser = default_argument_parser(epilog=EPILOG)
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if action.dest in _HELP:
            action.help = _HELP[action.dest]
    return parser


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


def check_command_line(args) -> None:
    """What argparse cannot see: a missing or mistyped ``--config-file`` and flags placed
    after the overrides (``argparse.REMAINDER`` swallows them as overrides)."""
    if any(ov.startswith("-") for ov in args.opts):
        overrides = [ov for ov in args.opts if "=" in ov and not ov.startswith("-")]
        flags = [ov for ov in args.opts if ov not in overrides]  # with their values
        raise ConfigError(
            f"{' '.join(flags)!r} comes after the key=value overrides, where everything is "
            "read as an override. Put flags before the overrides: tools/train_net.py "
            f"--config-file {args.config_file or 'CFG'} {' '.join(flags)} {' '.join(overrides)}")
    path = args.config_file
    if not path:
        raise ConfigError(
            "No --config-file given. Name a LazyConfig .py file, e.g. "
            "--config-file configs/demo/vit_tiny_shapes.py (the CPU demo) or "
            "--config-file configs/mae_vitb_mrcnn.py; see --help.")
    if not os.path.isfile(path):
        folder = os.path.dirname(path) or "."
        siblings = sorted(f for f in os.listdir(folder) if f.endswith((".py", ".yaml"))) \
            if os.path.isdir(folder) else []
        close = difflib.get_close_matches(os.path.basename(path), siblings, n=3, cutoff=0.5)
        raise ConfigError(
            f"--config-file {path!r} does not exist (relative paths are relative to "
            f"{os.getcwd()!r})."
            + (" Did you mean " + " or ".join(repr(os.path.join(folder, c)) for c in close) + "?"
               if close else "")
            + (f" Folder {folder!r} does not exist." if not os.path.isdir(folder) else ""))


def check_overrides(cfg, overrides) -> None:
    """Raise ConfigError for an unknown key or a wrongly typed value."""
    for ov in overrides:
        if ov.startswith("-"):
            raise ConfigError(f"{ov!r} is a flag, not an override: put flags before the "
                              "key=value overrides.")
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


def check_dataset_files(cfg) -> None:
    """Every dataset's annotation file and image folder exist (synthetic datasets are
    generated on first use and are not checked), before anything is built."""
    from detectron2.data import MetadataCatalog

    from vitdet_bench.data import datasets_root

    for path, name in _dataset_names(cfg):
        meta = MetadataCatalog.get(name)
        if meta.get("synthetic_config", None) is not None:
            continue
        missing = [f"{what} {p!r}" for what, p, exists in (
            ("annotation file", meta.get("json_file", None), os.path.isfile),
            ("image folder", meta.get("image_root", None), os.path.isdir)) if p and not exists(p)]
        if not missing:
            continue
        root = os.path.abspath(datasets_root())
        under_root = any(os.path.abspath(str(meta.get(k, ""))).startswith(root + os.sep)
                         for k in ("json_file", "image_root"))
        env = os.environ.get("DETECTRON2_DATASETS")
        hint = (f" Datasets are looked up under $DETECTRON2_DATASETS (currently "
                f"{env!r})" if env else " Datasets are looked up under $DETECTRON2_DATASETS, "
                "which is not set, so under ./datasets") + (
            "; set it to the folder that holds the dataset (e.g. export "
            "DETECTRON2_DATASETS=/path/to/datasets, the folder that holds coco/ or coco128/)." if under_root else ".")
        raise ConfigError(f"Dataset {name!r} (at {path}) is registered, but its "
                          f"{' and '.join(missing)} do not exist." + (hint if under_root else ""))


def _model_num_classes(cfg):
    """``(dotted key, value)`` of every integer ``num_classes`` of the detector's heads
    (``cfg.model`` outside its backbone, e.g. roi_heads and the mask head)."""
    def walk(node, path):
        if isinstance(node, DictConfig):
            for k in node.keys():
                if k == "backbone":
                    continue
                try:
                    v = node[k]
                except Exception:
                    continue
                key = f"{path}.{k}"
                if k == "num_classes" and isinstance(v, int) and not isinstance(v, bool):
                    yield key, v
                else:
                    yield from walk(v, key)
        elif isinstance(node, ListConfig):
            for i, v in enumerate(node):
                yield from walk(v, f"{path}.{i}")

    return list(walk(cfg.model, "model")) if "model" in cfg else []


def check_num_classes(cfg) -> None:
    """The heads' ``num_classes`` equals every dataset's number of categories."""
    from detectron2.data import MetadataCatalog

    heads = _model_num_classes(cfg)
    if not heads:
        return
    for path, name in _dataset_names(cfg):
        classes = MetadataCatalog.get(name).get("thing_classes", None)
        if classes is None:  # known only once the dataset is loaded
            continue
        wrong = [(k, v) for k, v in heads if v != len(classes)]
        if wrong:
            shown = ", ".join(map(repr, classes[:6])) + (", ..." if len(classes) > 6 else "")
            raise ConfigError(
                f"Model and dataset disagree on the classes: {', '.join(f'{k}={v}' for k, v in wrong)}"
                f", but dataset {name!r} (at {path}) has {len(classes)} categories ({shown}). "
                f"A detector trained for {wrong[0][1]} classes cannot be trained or scored on it: "
                f"use a dataset with the model's classes, or set model.roi_heads.num_classes="
                f"{len(classes)} (training from a backbone).")


def check_schedule_before_building(cfg) -> None:
    """The schedule check of :func:`vitdet_bench.engine.check_schedule`, when max_iter is
    known from the config alone (an epoch schedule without train.num_train_images is
    checked once the training set is read)."""
    from vitdet_bench.engine import check_schedule, compute_max_iter

    train = cfg.get("train", None)
    if train is None or "max_iter" not in train and train.get("epochs", None) is None:
        return
    try:
        max_iter = compute_max_iter(cfg, None)
    except ValueError:  # train.epochs without train.num_train_images
        return
    check_schedule(cfg, max_iter)


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
    """Load the config with the overrides, after every pre-flight check (ConfigError)."""
    check_command_line(args)
    cfg = LazyConfig.load(args.config_file)
    check_overrides(cfg, args.opts)
    cfg = LazyConfig.apply_overrides(cfg, args.opts)
    resume = getattr(args, "resume", False)
    check_datasets(cfg)
    check_dataset_files(cfg)
    check_num_classes(cfg)
    check_attention_strategies(cfg)
    check_init_checkpoint(cfg, resume=resume)
    if getattr(args, "eval_only", False):
        from vitdet_bench.engine import check_eval_only_weights

        check_eval_only_weights(cfg, resume)
    else:
        check_schedule_before_building(cfg)
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
    args = build_parser().parse_args(argv)
    try:
        load_config(args)  # fail fast, before spawning anything
    except ConfigError as e:
        print(f"Configuration error: {' '.join(str(e).split())}", file=sys.stderr)
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

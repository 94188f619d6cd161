"""Pre-flight checks of a loaded config: what can be known before anything heavy is built.

Each check raises :class:`ConfigError` with one paragraph naming the key, the value and
what was expected. The checks of files on this machine (:func:`check_dataset_files`,
:func:`check_init_checkpoint`) are separate from those of the config itself, so that a
preview (``tools/study.py plan``) can list what a launch still needs.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from omegaconf import DictConfig, ListConfig

from .errors import ConfigError

__all__ = ["MissingFile", "check_command_line", "config_entries", "dataset_names", "check_datasets",
           "missing_dataset_files", "check_dataset_files", "check_num_classes",
           "check_attention_strategies", "check_train_sampler", "missing_init_checkpoint",
           "check_init_checkpoint"]


@dataclass(frozen=True)
class MissingFile:
    """A file a run needs that this machine lacks: ``what`` names it (a dataset, an init
    checkpoint), ``detail`` says which paths, ``hint`` what to do; ``message`` is the
    one-paragraph error of a run that needs it."""

    what: str
    detail: str
    hint: str
    message: str


def check_command_line(config_file: Optional[str], overrides: Sequence[str]) -> None:
    """What argparse cannot see: a missing or mistyped ``--config-file`` and flags placed
    after the overrides (``argparse.REMAINDER`` swallows them as overrides)."""
    if any(ov.startswith("-") for ov in overrides):
        kept = [ov for ov in overrides if "=" in ov and not ov.startswith("-")]
        flags = [ov for ov in overrides if ov not in kept]  # with their values
        raise ConfigError(
            f"{' '.join(flags)!r} comes after the key=value overrides, where everything is "
            "read as an override. Put flags before the overrides: tools/train_net.py "
            f"--config-file {config_file or 'CFG'} {' '.join(flags)} {' '.join(kept)}")
    path = config_file
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


def _names_or_none(value) -> bool:
    return value is None or isinstance(value, (str, ListConfig))


def config_entries(node, keys, path: str = "",
                   accept: Callable[[object], bool] = _names_or_none
                   ) -> Iterator[Tuple[str, object]]:
    """``(dotted path, value)`` of every entry named in ``keys`` whose value ``accept``s
    (default: a string, a list of them or None), anywhere under ``node``; other entries
    are searched into."""
    if isinstance(node, DictConfig):
        for k in node.keys():
            try:
                v = node[k]
            except Exception:  # an unresolvable interpolation: nothing to check there
                continue
            key = f"{path}.{k}".lstrip(".")
            if k in keys and accept(v):
                yield key, v
            else:
                yield from config_entries(v, keys, key, accept)
    elif isinstance(node, ListConfig):
        for i, v in enumerate(node):
            yield from config_entries(v, keys, f"{path}.{i}", accept)


def dataset_names(cfg, eval_only: bool = False) -> List[Tuple[str, str]]:
    """``(dotted path, dataset name)`` of every dataset the config reads; with
    ``eval_only`` only those of evaluation (the training set is not read then)."""
    out = []
    if "dataloader" in cfg:
        for path, v in config_entries(cfg.dataloader, ("names", "dataset_name"), "dataloader"):
            if v is None or (eval_only and path.startswith("dataloader.train.")):
                continue
            out.extend((path, x) for x in ([v] if isinstance(v, str) else list(v)))
    return out


def check_datasets(cfg, eval_only: bool = False) -> None:
    from detectron2.data import DatasetCatalog

    known = DatasetCatalog.list()
    for path, name in dataset_names(cfg, eval_only):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            raise ConfigError(
                f"Dataset {name!r} (at {path}) is not registered."
                + (f" Did you mean {' or '.join(map(repr, close))}?" if close else "")
                + " Registered vitdet_bench datasets include shapes_train, shapes_val, "
                "shapes_lvis_train, shapes_lvis_val, coco128_train, coco128_val, "
                "coco128_first16, lvis_v1_train, lvis_v1_val.")


def missing_dataset_files(cfg, eval_only: bool = False) -> List[MissingFile]:
    """Every dataset whose annotation file or image folder is missing, once each
    (synthetic datasets are generated on first use: not checked)."""
    from detectron2.data import MetadataCatalog

    from vitdet_bench.data import datasets_root

    out, seen = [], set()
    for path, name in dataset_names(cfg, eval_only):
        meta = MetadataCatalog.get(name)
        if name in seen or meta.get("synthetic_config", None) is not None:
            continue
        seen.add(name)
        missing = [f"{what} {p!r}" for what, p, exists in (
            ("annotation file", meta.get("json_file", None), os.path.isfile),
            ("image folder", meta.get("image_root", None), os.path.isdir)) if p and not exists(p)]
        if not missing:
            continue
        root = os.path.abspath(datasets_root())
        under_root = any(os.path.abspath(str(meta.get(k, ""))).startswith(root + os.sep)
                         for k in ("json_file", "image_root"))
        env = os.environ.get("DETECTRON2_DATASETS")
        hint = ((f"Datasets are looked up under $DETECTRON2_DATASETS (currently {env!r})"
                 if env else "Datasets are looked up under $DETECTRON2_DATASETS, which is not "
                 "set, so under ./datasets") + "; set it to the folder that holds the dataset "
                "(e.g. export DETECTRON2_DATASETS=/path/to/datasets, the folder that holds "
                "coco/ or coco128/).") if under_root else ""
        detail = f"{' and '.join(missing)} do not exist"
        out.append(MissingFile(f"dataset {name!r}", detail, hint,
                               f"Dataset {name!r} (at {path}) is registered, but its {detail}."
                               + (f" {hint}" if hint else "")))
    return out


def check_dataset_files(cfg, eval_only: bool = False) -> None:
    """Every dataset's annotation file and image folder exist (synthetic datasets are
    generated on first use and are not checked), before anything is built; with
    ``eval_only`` only the evaluation's datasets."""
    missing = missing_dataset_files(cfg, eval_only)
    if missing:
        raise ConfigError(missing[0].message)


def _model_num_classes(cfg) -> List[Tuple[str, int]]:
    """``(dotted key, value)`` of every integer ``num_classes`` of the detector's heads
    (``cfg.model`` outside its backbone, e.g. roi_heads and the mask head)."""
    def walk(node, path):
        if isinstance(node, DictConfig):
            for k in node.keys():
                if k == "backbone":
                    continue
                try:
                    v = node[k]
                except Exception:  # an unresolvable interpolation: nothing to check there
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


def check_num_classes(cfg, eval_only: bool = False) -> None:
    """The heads' ``num_classes`` equals every dataset's number of categories."""
    from detectron2.data import MetadataCatalog

    heads = _model_num_classes(cfg)
    if not heads:
        return
    for path, name in dataset_names(cfg, eval_only):
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


def check_attention_strategies(cfg) -> None:
    """Every ``attention_strategy`` in the config must be a known strategy (or None)."""
    from vitdet_bench.modeling.backbone.vit import ATTENTION_STRATEGIES

    for key, v in config_entries(cfg, ("attention_strategy",)):
        if isinstance(v, str) and v not in ATTENTION_STRATEGIES:
            close = difflib.get_close_matches(v, ATTENTION_STRATEGIES, n=1, cutoff=0.5)
            raise ConfigError(
                f"Unknown attention strategy {v!r} at {key}."
                + (f" Did you mean {close[0]!r}?" if close else "")
                + f" Known strategies: {', '.join(ATTENTION_STRATEGIES)} (all "
                "windowed; windowed + 4 global; all global with activation "
                "checkpointing; all global).")


REPEAT_THRESHOLD_KEY = "dataloader.train.repeat_threshold"


def check_train_sampler(cfg) -> Optional[float]:
    """The training sampler the config asks for: ``dataloader.train.repeat_threshold``
    (repeat-factor sampling at that threshold, e.g. LVIS's 0.001) or None (a plain
    shuffle). Returns the threshold.

    The engine draws its own resumable, position-seeded stream, so a
    ``dataloader.train.sampler`` (detectron2's way, e.g. upstream ViTDet's LVIS configs)
    would not be used: it is an error, not ignored."""
    train = cfg.get("dataloader", {}).get("train", None) if "dataloader" in cfg else None
    if train is None or not hasattr(train, "get"):
        return None
    sampler = train.get("sampler", None)
    if sampler is not None:
        target = sampler.get("_target_", sampler) if hasattr(sampler, "get") else sampler
        raise ConfigError(
            f"dataloader.train.sampler is set ({_class_label(target)}), but the training engine "
            "draws its own resumable, position-seeded sampler and would not use it. For "
            "repeat-factor sampling (detectron2's RepeatFactorTrainingSampler, as in the LVIS "
            f"configs) set {REPEAT_THRESHOLD_KEY}=0.001 (the threshold t) instead and remove "
            "dataloader.train.sampler (override dataloader.train.sampler=None); no other "
            "sampler is supported.")
    value = train.get("repeat_threshold", None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(
            f"{REPEAT_THRESHOLD_KEY}={value!r}: expected a number in (0, 1], the category "
            "frequency below which images are repeated (LVIS: 0.001), or None for no "
            "repeat-factor sampling.")
    if not all(k in train for k in ("dataset", "mapper", "total_batch_size")):
        raise ConfigError(
            f"{REPEAT_THRESHOLD_KEY}={value!r} needs dataloader.train to be a "
            "build_detection_train_loader config (dataset, mapper, total_batch_size): the "
            "engine's resumable loader is the one that samples by repeat factors.")
    return float(value)


def _class_label(target) -> str:
    if isinstance(target, str):
        return target
    return getattr(target, "__qualname__", None) or type(target).__name__


def missing_init_checkpoint(cfg, resume: bool = False) -> Optional[MissingFile]:
    """A local ``train.init_checkpoint`` that does not exist (and that a resume would
    read), else None."""
    train = cfg.get("train", None)
    path = train.get("init_checkpoint", "") if train is not None else ""
    if not path or not isinstance(path, str) or "://" in path or os.path.isfile(path):
        return None
    out = train.get("output_dir", None)
    if resume and out and os.path.isfile(os.path.join(str(out), "last_checkpoint")):
        return None
    detail = (f"does not exist (relative paths are relative to {os.getcwd()!r})")
    hint = ("See the table of expected files in README.md (put them under pretrained/), or "
            "set train.init_checkpoint='' with train.init_format=random.")
    return MissingFile(f"train.init_checkpoint {path!r}", detail, hint,
                       f"train.init_checkpoint={path!r} {detail}. {hint}")


def check_init_checkpoint(cfg, resume: bool = False) -> None:
    """A local ``train.init_checkpoint`` must exist, unless a resume will not read it."""
    missing = missing_init_checkpoint(cfg, resume)
    if missing:
        raise ConfigError(missing.message)

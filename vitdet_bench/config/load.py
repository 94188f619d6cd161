"""``load_config``: a LazyConfig file with its overrides, after every pre-flight check."""
from __future__ import annotations

from typing import List, Optional, Sequence

from .checks import (MissingFile, check_attention_strategies, check_command_line,
                     check_datasets, check_num_classes, check_train_sampler,
                     missing_dataset_files,
                     missing_init_checkpoint)
from .errors import ConfigError
from .overrides import apply_image_size, check_image_size, check_overrides, check_schedule_overrides
from .schedule import check_eval_only_weights, check_schedule_before_building

__all__ = ["load_config", "preview_config"]


def _load(path: Optional[str], overrides: Sequence[str], resume: bool, eval_only: bool,
          missing: Optional[List[MissingFile]]):
    """The checks in the order a user meets them. Files absent from this machine raise,
    or with ``missing`` a list are appended to it."""
    from detectron2.config import LazyConfig

    import vitdet_bench.data  # noqa: F401  (registers the project's datasets)

    overrides = list(overrides)
    check_command_line(path, overrides)
    cfg = LazyConfig.load(path)
    check_overrides(cfg, overrides)
    cfg = LazyConfig.apply_overrides(cfg, overrides)
    check_schedule_overrides(cfg, overrides)
    apply_image_size(cfg)
    check_datasets(cfg, eval_only)
    for absent in missing_dataset_files(cfg, eval_only):
        if missing is None:
            raise ConfigError(absent.message)
        missing.append(absent)
    check_num_classes(cfg, eval_only)
    check_attention_strategies(cfg)
    check_train_sampler(cfg)
    check_image_size(cfg)
    absent = missing_init_checkpoint(cfg, resume)
    if absent is not None and missing is None:
        raise ConfigError(absent.message)
    if absent is not None:
        missing.append(absent)
    if eval_only:
        check_eval_only_weights(cfg, resume)
    else:
        check_schedule_before_building(cfg)
    return cfg


def load_config(path: str, overrides: Sequence[str] = (), *, resume: bool = False,
                eval_only: bool = False):
    """The config of ``path`` with ``overrides`` (``["key=value", ...]``, LazyConfig's
    grammar) applied, after every pre-flight check (:class:`ConfigError`, one paragraph).

    ``resume``: a run that continues from its folder's last checkpoint (it does not read
    ``train.init_checkpoint``); ``eval_only``: only evaluation's datasets must exist, and
    there must be weights to evaluate.
    """
    return _load(path, overrides, resume, eval_only, None)


def preview_config(path: str, overrides: Sequence[str] = (), *, resume: bool = False):
    """``(cfg, missing)``: :func:`load_config` for a preview on a machine that may lack the
    run's files. Config errors raise as there; a dataset's files or an init checkpoint
    absent from this machine are listed in ``missing`` (:class:`MissingFile`) instead."""
    missing: List[MissingFile] = []
    cfg = _load(path, overrides, resume, False, missing)
    return cfg, missing

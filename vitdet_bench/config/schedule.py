"""The schedule: iterations from ``train.max_iter`` or ``train.epochs``, the warm-up, and
the checks that the schedule fits (before the model is built, and again once an epoch
schedule's number of images is known); which weights ``--eval-only`` evaluates."""
from __future__ import annotations

import copy
import math
import os
from typing import Optional

from .errors import ConfigError

__all__ = ["compute_max_iter", "apply_warmup_iters", "check_schedule",
           "check_schedule_before_building", "check_eval_only_weights"]


def _value(node, key: str, default=None):
    """``node[key]``, or ``default`` when it is absent or None."""
    v = node.get(key, default) if node is not None else default
    return default if v is None else v


def compute_max_iter(cfg, num_train_images: Optional[int]) -> int:
    """``train.max_iter`` or ceil(epochs * num_train_images / total_batch_size)."""
    epochs = _value(cfg.train, "epochs")
    if epochs is None:
        return int(cfg.train.max_iter)
    n = _value(cfg.train, "num_train_images") or num_train_images
    if not n:
        raise ValueError("train.epochs is set but the number of training images is unknown; "
                         "set train.num_train_images")
    bs = int(cfg.dataloader.train.total_batch_size)
    return int(math.ceil(float(epochs) * int(n) / bs))


def apply_warmup_iters(cfg, max_iter: int) -> None:
    """``train.warmup_iters`` -> ``lr_multiplier.warmup_length`` (a fraction of max_iter)."""
    warmup_iters = _value(cfg.train, "warmup_iters")
    if warmup_iters is not None and "warmup_length" in cfg.lr_multiplier:
        cfg.lr_multiplier.warmup_length = float(warmup_iters) / max_iter


def check_schedule(cfg, max_iter: int) -> None:
    """The schedule must fit in ``max_iter`` iterations; else :class:`ConfigError`.

    Runs before the model is built when max_iter follows from the config alone
    (:func:`check_schedule_before_building`), and in the trainer once an epoch schedule
    is converted. The LR schedule is built (cheap) so that any value it rejects is
    reported here, in the config's terms, not as a traceback after the model and data
    are built.
    """
    from detectron2.config import instantiate

    if max_iter < 1:
        raise ConfigError(f"train.max_iter is {max_iter}: a run needs at least one iteration "
                          "(set train.max_iter=N or train.epochs=E).")
    where = (f"train.max_iter={max_iter}" if _value(cfg.train, "epochs") is None else
             f"max_iter={max_iter} (from train.epochs={cfg.train.epochs})")
    warmup_iters = _value(cfg.train, "warmup_iters")
    if warmup_iters is not None and not 0 <= float(warmup_iters) <= max_iter:
        raise ConfigError(
            f"train.warmup_iters={warmup_iters} does not fit in the schedule: {where}. The "
            f"learning-rate warmup must be between 0 and max_iter iterations; for a short run "
            f"add an override such as train.warmup_iters={max(0, max_iter // 10)} (placed "
            "with the other key=value overrides).")
    if "lr_multiplier" not in cfg:
        return
    lr_cfg = copy.deepcopy(cfg.lr_multiplier)
    if warmup_iters is not None and "warmup_length" in lr_cfg:
        lr_cfg.warmup_length = float(warmup_iters) / max_iter
    warmup_length = _value(lr_cfg, "warmup_length")
    if warmup_length is not None and not 0.0 <= float(warmup_length) <= 1.0:
        raise ConfigError(
            f"lr_multiplier.warmup_length={warmup_length} is not a fraction of the schedule "
            "(expected a number in [0, 1]); set train.warmup_iters=N (iterations) instead.")
    try:
        instantiate(lr_cfg)
    except (ValueError, RuntimeError, AssertionError, TypeError) as e:
        raise ConfigError(f"lr_multiplier cannot be built for {where}: {type(e).__name__}: {e}. "
                          "Check the lr_multiplier.* values of the config.") from e


def check_schedule_before_building(cfg) -> None:
    """:func:`check_schedule`, when max_iter is known from the config alone (an epoch
    schedule without train.num_train_images is checked once the training set is read)."""
    train = cfg.get("train", None)
    if train is None or "max_iter" not in train and train.get("epochs", None) is None:
        return
    try:
        max_iter = compute_max_iter(cfg, None)
    except ValueError:  # train.epochs without train.num_train_images
        return
    check_schedule(cfg, max_iter)


def check_eval_only_weights(cfg, resume: bool) -> None:
    """``--eval-only`` needs weights: ``train.init_checkpoint``, or ``--resume`` with a
    ``last_checkpoint`` in ``train.output_dir``; an untrained model is evaluated only
    when asked for with ``train.eval_untrained=True`` (a floor for a benchmark table)."""
    if _value(cfg.train, "init_checkpoint", ""):
        return
    out = _value(cfg.train, "output_dir", "")
    if resume and out and os.path.isfile(os.path.join(str(out), "last_checkpoint")):
        return
    if bool(_value(cfg.train, "eval_untrained", False)):
        return
    where = (f"--resume found no last_checkpoint in {out!r} and " if resume else "")
    raise ConfigError(
        f"--eval-only has no weights to evaluate: {where}train.init_checkpoint is empty, so "
        "the model would be scored as initialized (AP ~0). Give the trained detector, e.g. "
        "train.init_checkpoint=output/RUN/model_final.pth train.init_format=detectron2, or "
        "re-evaluate a training run with --eval-only --resume (train.output_dir=output/RUN); "
        "to score an untrained model on purpose add train.eval_untrained=True.")

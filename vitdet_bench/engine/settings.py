"""The engine's settings, read once from the config.

:func:`read_settings` reads every ``cfg.train`` / ``cfg.dataloader.train`` key the
engine uses (see :mod:`vitdet_bench.engine.trainer`) into one :class:`RunSettings`,
resolving what depends on the machine (CUDA falling back to CPU, AMP only on CUDA,
channels-last on CPU). A missing optional key (or one set to None) takes its default;
a value of the wrong type, or a config node that cannot be read, stops the run with a
:class:`ConfigError` naming the key.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import torch
from detectron2.utils import comm

from .errors import ConfigError

__all__ = ["RunSettings", "TrainSettings", "read_settings", "setting", "select_device",
           "channels_last_setting", "grad_accum_steps", "read_output_dir", "notice",
           "DEFAULT_SEED"]

logger = logging.getLogger("vitdet_bench.engine")
DEFAULT_SEED = 42


def notice(message: str) -> None:
    """One line for the user, on the main process: through the logger (console and
    log.txt) once ``run`` has set it up, else printed."""
    if not comm.is_main_process():
        return
    if logging.getLogger("vitdet_bench").hasHandlers():
        logger.info(message)
    else:
        print(f"[vitdet_bench] {message}", flush=True)


# ----------------------------------------------------------------------------- reading keys
def _as_int(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or (isinstance(value, float) and not value.is_integer()):
        raise TypeError("expected an integer")
    return int(value)


def _as_bool(value):
    if not isinstance(value, bool):
        raise TypeError("expected True or False")
    return value


def _as_str(value):
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _as_mapping(value):
    if not isinstance(value, Mapping):
        raise TypeError("expected a mapping of keyword arguments")
    return dict(value)


_KINDS = {int: _as_int, bool: _as_bool, str: _as_str, dict: _as_mapping}


def setting(cfg, key: str, default: Any, kind: Optional[type] = None) -> Any:
    """The value at the dotted ``key`` of ``cfg`` (e.g. ``"train.amp.enabled"``), checked
    to be of ``kind`` (int, bool, str or dict); ``default`` where the key, or a node
    above it, is absent or None. Nothing else is caught: a node that is not a mapping
    or a value of another kind is a :class:`ConfigError` naming the key."""
    node, walked = cfg, []
    for part in key.split("."):
        if not isinstance(node, Mapping):
            where = ".".join(walked) or "the config"
            raise ConfigError(f"{where} is {node!r} ({type(node).__name__}), not a mapping: "
                              f"the key {key} cannot be read. Check the config and overrides.")
        node = node.get(part, None)
        walked.append(part)
        if node is None:
            return default
    if kind is None:
        return node
    try:
        return _KINDS[kind](node)
    except TypeError as e:
        raise ConfigError(f"{key}={node!r} ({type(node).__name__}): {e} (a {kind.__name__}). "
                          "Check the config and overrides.") from None


# ----------------------------------------------------------------------------- resolving
def select_device(requested: Optional[str]) -> str:
    """``requested`` if usable; CUDA falls back to CPU with a one-line notice."""
    requested = (requested or "cuda").lower()
    if requested.startswith("cuda") and not torch.cuda.is_available():
        notice(f"train.device={requested!r} but CUDA is not available: running on CPU.")
        return "cpu"
    return requested


def channels_last_setting(cfg, device: str) -> bool:
    """``train.channels_last``; unset (None): on the CPU only."""
    value = setting(cfg, "train.channels_last", None, bool)
    return device == "cpu" if value is None else value


def grad_accum_steps(cfg) -> int:
    """``train.grad_accum`` (micro-batches per optimizer step), checked against the batch:
    ``total_batch_size`` must split into ``world size x grad_accum`` equal micro-batches."""
    k = setting(cfg, "train.grad_accum", 1, int)
    total, world = int(cfg.dataloader.train.total_batch_size), comm.get_world_size()
    if k < 1 or total % (world * k):
        raise ValueError(
            f"train.grad_accum={k} does not fit dataloader.train.total_batch_size={total} on "
            f"{world} process(es): the batch must split into world size x grad_accum = "
            f"{world * k} equal micro-batches (grad_accum >= 1 dividing {total}/{world}).")
    return k


def _ddp_accepts(name: str) -> bool:
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    return name in inspect.signature(DistributedDataParallel.__init__).parameters


def _ddp_kwargs(cfg, device: str) -> Tuple[dict, bool]:
    """(DistributedDataParallel kwargs from ``train.ddp``, fp16 gradient compression)."""
    kwargs = setting(cfg, "train.ddp", {}, dict)
    fp16 = kwargs.pop("fp16_compression", False)
    if "broadcast_buffers" in kwargs and _ddp_accepts("forward_sync_buffers"):
        # torch >= 2.13 deprecates broadcast_buffers (a FutureWarning per process) for
        # forward_sync_buffers; it differs only in also syncing buffers once at
        # construction, where every process's buffers are equal anyway (same init).
        kwargs.setdefault("forward_sync_buffers", kwargs.pop("broadcast_buffers"))
    if device.startswith("cuda"):
        kwargs.setdefault("device_ids", [comm.get_local_rank()])
    return kwargs, fp16


@dataclass(frozen=True)
class TrainSettings:
    """What only training reads (an evaluation does not need a training loader)."""

    grad_accum: int
    total_batch_size: int
    num_workers: int
    aspect_ratio_grouping: bool
    eval_period: int
    log_period: int
    checkpoint_period: int
    max_to_keep: Optional[int]
    epochs: Any  # None: train.max_iter is the schedule
    ddp_kwargs: dict  # DistributedDataParallel's keyword arguments (train.ddp)
    ddp_fp16_compression: bool


@dataclass(frozen=True)
class RunSettings:
    """The resolved settings of one run (training or evaluation)."""

    output_dir: str
    device: str
    amp: bool
    seed: int
    channels_last: bool
    init_checkpoint: str
    train: Optional[TrainSettings]


def _train_settings(cfg, device: str) -> TrainSettings:
    ddp_kwargs, fp16 = _ddp_kwargs(cfg, device)
    return TrainSettings(
        grad_accum=grad_accum_steps(cfg),
        total_batch_size=int(cfg.dataloader.train.total_batch_size),
        num_workers=setting(cfg, "dataloader.train.num_workers", 0, int),
        aspect_ratio_grouping=setting(cfg, "dataloader.train.aspect_ratio_grouping", True, bool),
        eval_period=setting(cfg, "train.eval_period", 0, int),
        log_period=setting(cfg, "train.log_period", 20, int),
        checkpoint_period=_required_int(cfg, "train.checkpointer.period"),
        max_to_keep=setting(cfg, "train.checkpointer.max_to_keep", None, int),
        epochs=setting(cfg, "train.epochs", None),
        ddp_kwargs=ddp_kwargs, ddp_fp16_compression=bool(fp16))


def _required_int(cfg, key: str) -> int:
    value = setting(cfg, key, None, int)
    if value is None:
        raise ConfigError(f"{key} is not set: the config must give it (an integer).")
    return value


def read_settings(cfg, *, training: bool) -> RunSettings:
    """Read and resolve the run's settings; ``train.device`` is set to the device used
    (the saved config.yaml records it). ``training``: also the training-only keys."""
    device = select_device(setting(cfg, "train.device", "cuda", str))
    cfg.train.device = device
    amp = setting(cfg, "train.amp.enabled", False, bool)
    if amp and not device.startswith("cuda"):
        notice("train.amp.enabled=True ignored: AMP needs CUDA (running on CPU in fp32).")
        amp = False
    return RunSettings(
        output_dir=read_output_dir(cfg),
        device=device,
        amp=amp,
        seed=setting(cfg, "train.seed", DEFAULT_SEED, int),
        channels_last=channels_last_setting(cfg, device),
        init_checkpoint=setting(cfg, "train.init_checkpoint", "", str),
        train=_train_settings(cfg, device) if training else None)


def read_output_dir(cfg) -> str:
    """``train.output_dir`` (required)."""
    out = setting(cfg, "train.output_dir", None, str)
    if not out:
        raise ConfigError("train.output_dir is not set: the run needs a folder for its "
                          "checkpoints, logs and report (e.g. train.output_dir=output/RUN).")
    return out


"""The training loop: detectron2 SimpleTrainer/AMPTrainer + vitdet_bench conventions.

Config keys read (LazyConfig contract, see tools/train_net.py; read once into
:class:`vitdet_bench.engine.settings.RunSettings`):
``train.output_dir, init_checkpoint, init_format, init_lenient, init_keep, max_iter, epochs,
num_train_images, warmup_iters, grad_accum, amp.enabled, ddp, checkpointer.period/max_to_keep,
eval_period, log_period, device, seed, channels_last, eval_untrained``;
``model``, ``optimizer`` (``optimizer.params.model`` is filled here), ``lr_multiplier``,
``dataloader.train/test/evaluator``.

:func:`run` is the recipe: set up the run folder and its logs, read the settings, build
the model, then either evaluate it (``--eval-only``) or find where training starts,
prepare the parameters, the data and the schedule, build the trainer with its hooks
and train. Evaluation itself is :mod:`vitdet_bench.evaluation.evaluate`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.engine import AMPTrainer, SimpleTrainer, default_writers, hooks
from detectron2.utils import comm
from detectron2.utils.events import EventStorage, JSONWriter, get_event_storage
from detectron2.utils.logger import setup_logger

from vitdet_bench.config.checks import check_train_sampler
from vitdet_bench.evaluation.evaluate import evaluate_detector
from vitdet_bench.layers.norm import convert_batchnorm_for_world
from vitdet_bench.utils.io import atomic_write_json

from .checkpoint import AtomicCheckpointer, set_rng_state
from .data import build_resumable_train_loader
from .errors import NonFiniteLossError, install_user_error_log_filter
from .hooks import MapperSkipCounts, MetricsWriter, VitdetEvalHook, evaluation_scalars
from .preemption import CheckpointOnSignalHook, final_evaluation_pending, requeue_at_once
from .settings import (DEFAULT_SEED, RunSettings, grad_accum_steps, notice, read_output_dir,
                       read_settings, select_device, setting)
from .settings import _ddp_accepts, _ddp_kwargs  # noqa: F401  (where callers import them)

__all__ = ["DEFAULT_SEED", "select_device", "seed_everything", "save_config", "compute_max_iter",
           "check_schedule", "check_eval_only_weights",
           "grad_accum_steps", "do_test", "run"]

logger = logging.getLogger("vitdet_bench.engine")
do_test = evaluate_detector  # the engine's name for it (detectron2's tools call it do_test)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def save_config(cfg, path: str) -> None:
    """``LazyConfig.save`` to a temp file in the same folder, then rename (atomic)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".yaml", dir=folder)
    os.close(fd)
    try:
        LazyConfig.save(cfg, tmp)
        os.replace(tmp, path)
        if os.path.exists(tmp + ".pkl"):  # LazyConfig falls back to pickle
            os.replace(tmp + ".pkl", path + ".pkl")
    finally:
        for f in (tmp, tmp + ".pkl"):
            if os.path.exists(f):
                os.unlink(f)


# The schedule checks live with the other pre-flight checks (vitdet_bench.config).
from vitdet_bench.config.schedule import (  # noqa: E402
    apply_warmup_iters as _apply_warmup_iters,
    check_eval_only_weights,
    check_schedule,
    compute_max_iter,
)



# ----------------------------------------------------------------------------- training step
class _StepMixin:
    """run_step that refuses non-finite losses (before backward), logs raw losses and
    accumulates gradients over ``grad_accum`` micro-batches per optimizer step.

    With ``grad_accum = k`` the data loader yields micro-batches of ``total_batch_size /
    k`` images; one trainer iteration is one optimizer step over k of them (each loss
    scaled by 1/k, so the gradient is the mean of the micro-batches' gradients), and
    ``max_iter``, the lr schedule and its warm-up, checkpoints and evaluation periods
    all count optimizer steps. DDP synchronizes gradients only on the last micro-batch.
    BatchNorm layers in training mode normalize each micro-batch by its own statistics
    (NaiveSyncBatchNorm / SyncBN: over the micro-batches of all processes at once), so
    a BN model sees smaller normalization batches than the recipe's; their running
    statistics get k momentum updates per step. Everything without batch statistics
    (LayerNorm, frozen or eval-mode BN) gets exactly the update of one batch of k times
    the size when each loss is a mean over its images.

    After a failure or a stop on a scheduler signal the hooks decide for themselves what
    their ``after_train`` does (no final checkpoint or evaluation of an unfinished run).
    """

    amp_enabled = False

    def __init__(self, *args, grad_accum: int = 1, output_dir: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.grad_accum = int(grad_accum)
        self.output_dir = output_dir  # named in the non-finite loss message

    def _forward(self, data):
        try:
            if self.amp_enabled:
                with torch.autocast(device_type="cuda"):
                    loss_dict = self.model(data)
            else:
                loss_dict = self.model(data)
        except FloatingPointError as e:  # e.g. RPN: "Predicted boxes or scores contain Inf/NaN"
            raise NonFiniteLossError(
                f"Non-finite loss at iteration {self.iter}: the forward pass failed before the "
                f"loss terms could be computed ({e}); every loss term is non-finite. Training "
                "stopped; the state of this iteration was not saved; the last good checkpoint "
                "is the one named in last_checkpoint (if any). Lower the learning rate, enable "
                "gradient clipping, or check the data.") from e
        if isinstance(loss_dict, torch.Tensor):
            loss_dict = {"total_loss": loss_dict}
        return loss_dict

    def run_step(self):
        # SimpleTrainer.run_step is one forward/backward; replacing it needs the trainer's
        # data iterator and metric writer, which detectron2 only has as ``_data_loader_iter``
        # and ``_write_metrics`` (its own AMPTrainer.run_step uses them the same way).
        assert self.model.training, "model was changed to eval mode!"
        k = max(1, int(self.grad_accum))
        self.optimizer.zero_grad()
        data_time, summed = 0.0, {}
        for micro in range(k):
            start = time.perf_counter()
            data = next(self._data_loader_iter)
            data_time += time.perf_counter() - start
            # gradients are all-reduced by DDP on the last micro-batch only
            sync = micro == k - 1 or not hasattr(self.model, "no_sync")
            with (contextlib.nullcontext() if sync else self.model.no_sync()):
                loss_dict = self._forward(data)
                losses = sum(loss_dict.values())
                self._check_finite(loss_dict, losses)
                scaled = losses / k if k > 1 else losses
                if self.amp_enabled:
                    self.grad_scaler.scale(scaled).backward()
                else:
                    scaled.backward()
            for name, v in loss_dict.items():
                summed[name] = summed.get(name, 0.0) + v.detach() / k
        loss_dict = summed
        losses = sum(loss_dict.values())
        self._write_metrics(loss_dict, data_time)
        if comm.is_main_process():
            get_event_storage().put_scalar("total_loss_raw", float(losses), smoothing_hint=False)
        if self.amp_enabled:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()

    def _check_finite(self, loss_dict, losses):
        bad = 0.0 if torch.isfinite(losses).all() else 1.0
        if comm.get_world_size() > 1:
            flag = torch.tensor([bad], device=losses.device)
            torch.distributed.all_reduce(flag)
            bad = float(flag.item())
        if bad:
            terms = ", ".join(f"{k}={float(v.detach()):.6g}" for k, v in loss_dict.items())
            ckpt = os.path.join(self.output_dir, "last_checkpoint")
            raise NonFiniteLossError(
                f"Non-finite loss at iteration {self.iter}: total_loss={float(losses.detach())} "
                f"({terms}). Training stopped; the state of this iteration was not saved. "
                f"The last good checkpoint is the one named in {ckpt} (if any). Lower the "
                "learning rate, enable gradient clipping, or check the data.")


class VitdetSimpleTrainer(_StepMixin, SimpleTrainer):
    pass


class VitdetAMPTrainer(_StepMixin, AMPTrainer):
    amp_enabled = True


# ----------------------------------------------------------------------------- setup
def _start_logging(output_dir: str) -> None:
    """Create the run folder (main process) and log to it, before anything is said."""
    if comm.is_main_process():
        os.makedirs(output_dir, exist_ok=True)
    comm.synchronize()
    rank = comm.get_rank()
    setup_logger(output_dir, distributed_rank=rank, name="fvcore")
    setup_logger(output_dir, distributed_rank=rank, name="detectron2")
    setup_logger(output_dir, distributed_rank=rank, name="vitdet_bench", abbrev_name="vb")
    install_user_error_log_filter()
    _quiet_detectron2_warnings()
    # What is only worth keeping on file (the model's ~160-line repr) goes to a logger
    # with vitdet_bench's log-file handlers but not its console handler.
    file_only = logging.getLogger(_FILE_ONLY_LOGGER)
    file_only.propagate = False
    file_only.setLevel(logging.DEBUG)
    file_only.handlers = [h for h in logging.getLogger("vitdet_bench").handlers
                          if getattr(h, "stream", None) not in (sys.stdout, sys.stderr)]


_FILE_ONLY_LOGGER = "vitdet_bench.log_file_only"


def _quiet_detectron2_warnings() -> None:
    """Deprecation warnings that detectron2 0.6's own code triggers in every process (its
    all_gather uses TypedStorage; its anchor generator calls torch.meshgrid without
    ``indexing``); upstream detectron2 no longer does either. Only those call sites are
    silenced: the meshgrid one only where the installed anchor generator is the culprit."""
    import inspect
    import warnings

    warnings.filterwarnings("ignore", message=r"TypedStorage is deprecated", category=UserWarning,
                            module=r"detectron2\.")
    try:
        from detectron2.modeling import anchor_generator

        source = inspect.getsource(anchor_generator._create_grid_offsets)
    except Exception:  # noqa: BLE001  another layout: nothing known to silence
        return
    if "meshgrid" in source and "indexing" not in source:
        warnings.filterwarnings("ignore", message=r"torch\.meshgrid: in an upcoming release",
                                category=UserWarning)


def _count_norms(model) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            counts[type(m).__name__] = counts.get(type(m).__name__, 0) + 1
    return counts


def _build_model(cfg, device: str):
    """The model on ``device`` (BatchNorm converted for the world size), logged."""
    model = instantiate(cfg.model)
    world = comm.get_world_size()
    before = _count_norms(model)
    model = convert_batchnorm_for_world(model, world, device)
    after = _count_norms(model)
    if before:
        what = ", ".join(f"{n} {k}" for k, n in sorted(after.items()))
        logger.info(f"BatchNorm: world size {world} on {device}: {what}"
                    + (" (synchronized across processes)" if world > 1 else
                       " (one process: plain BatchNorm, no synchronization)"))
    model.to(device)
    n = sum(p.numel() for p in model.parameters())
    logging.getLogger(_FILE_ONLY_LOGGER).info("Model:\n%s", model)
    logger.info(f"Model: {type(model).__name__}, {n / 1e6:.2f} M parameters (printed in full "
                "to log.txt)")
    return model


def _run_checkpointer(cfg, model, output_dir: str) -> AtomicCheckpointer:
    """A checkpointer of the model alone in the run folder (what to resume or evaluate);
    temporary files an interrupted save left there are removed first."""
    checkpointer = AtomicCheckpointer(model, output_dir, trust_checkpoint=_trusted(cfg))
    if comm.is_main_process():
        checkpointer.remove_stale_temp_files()
    comm.synchronize()
    return checkpointer


def _use_channels_last(model, enabled: bool) -> None:
    """Put 4-D weights in NHWC layout (``train.channels_last``: None = CPU only).

    oneDNN's CPU convolutions run ~20% faster on NHWC tensors (3x3, 64 channels: FPN,
    RPN and ROI heads), and a convolution with NHWC weights returns NHWC. Same values and
    state-dict keys. Called after the weights are initialized or loaded: initializers
    and checkpoint adapters may ``view`` a weight, which needs the default layout.
    """
    if enabled:
        model.to(memory_format=torch.channels_last)
        logger.info("4-D weights in channels-last memory layout (train.channels_last)")


def _wrap_ddp(model, settings: RunSettings):
    if comm.get_world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ddp = DistributedDataParallel(model, **dict(settings.train.ddp_kwargs))
    if settings.train.ddp_fp16_compression and settings.device.startswith("cuda"):
        from torch.distributed.algorithms.ddp_comm_hooks import default as comm_hooks

        ddp.register_comm_hook(state=None, hook=comm_hooks.fp16_compress_hook)
    return ddp


# ----------------------------------------------------------------------------- data
@dataclass
class TrainData:
    """The training stream: ``loader(start_iter)`` (start_iter in optimizer steps), the
    number of training images (None: unknown) and the mapper (for its skip counts)."""

    loader: Callable[[int], Any]
    num_images: Optional[int]
    mapper: Any = None


def _training_data(cfg, settings: RunSettings) -> TrainData:
    """The training dataset and its resumable loader.

    With ``train.grad_accum = k`` the loader yields micro-batches of total_batch_size / k
    images and starts k micro-batches per step in: the same images in the same order as
    the full batches (positions are per image), only split into k pieces.
    ``dataloader.train.repeat_threshold`` (LVIS: 0.001) turns on repeat-factor sampling
    (checked before anything is built: :func:`vitdet_bench.config.checks.check_train_sampler`).
    """
    tl, t = cfg.dataloader.train, settings.train
    repeat_threshold = check_train_sampler(cfg)
    if not all(k in tl for k in ("dataset", "mapper", "total_batch_size")):
        logger.warning("dataloader.train is not a build_detection_train_loader config: resumed "
                       "runs will not see exactly the same batches")
        return TrainData(lambda start: instantiate(tl), None)
    dicts = instantiate(tl.dataset)
    mapper = instantiate(tl.mapper)
    if not isinstance(dicts, list):
        dicts = list(dicts)

    def loader(start_iter: int):
        return build_resumable_train_loader(
            dicts, mapper, t.total_batch_size // t.grad_accum, seed=settings.seed,
            start_iter=start_iter * t.grad_accum, num_workers=t.num_workers,
            loader_workers=setting(cfg, "train.loader_workers", None, int),
            aspect_ratio_grouping=t.aspect_ratio_grouping,
            repeat_threshold=repeat_threshold)

    return TrainData(loader, len(dicts), mapper)


# ----------------------------------------------------------------------------- weights
def _peek_iteration(checkpointer: AtomicCheckpointer) -> Optional[int]:
    if not checkpointer.has_checkpoint():
        return None
    data = checkpointer._load_file(checkpointer.get_checkpoint_file())
    it = (data.get("trainer") or {}).get("iteration", data.get("iteration"))
    return None if it is None else int(it)


def load_initialization(cfg, model, checkpointer) -> dict:
    """Initialize a fresh run from ``train.init_checkpoint`` / ``train.init_format``.

    Called right after the model is built, before the data, optimizer and processes'
    DDP wrapper: a wrong checkpoint fails in seconds (CheckpointError naming the file).

    Pre-trained backbones (mae, beit, mocov3, supervised, a project's format, or
    "random") go through :func:`vitdet_bench.checkpoint.load_pretrained`, which
    applies the paper's transfer rules and prints its load report; a file that does
    not fit the model or the format exactly is an error unless ``train.init_lenient``.
    ``init_format="detectron2"`` loads a whole detector checkpoint instead.
    """
    path = setting(cfg, "train.init_checkpoint", "", str)
    fmt = setting(cfg, "train.init_format", "auto", str) or "auto"
    if fmt == "detectron2":
        return checkpointer.resume_or_load(path, resume=False)
    if not path and fmt == "auto":
        return {}
    from ..checkpoint import load_pretrained

    net = model.module if hasattr(model, "module") else model
    lenient = setting(cfg, "train.init_lenient", False, bool)
    # train.init_keep: model tensors that keep the model's own init (positional ablations)
    report = load_pretrained(net, path, format=fmt, strict_architecture=not lenient,
                             lenient_option="the override train.init_lenient=True",
                             keep_init=setting(cfg, "train.init_keep", ()) or (),
                             trust_checkpoint=setting(cfg, "train.trust_checkpoint", False, bool))
    if comm.is_main_process():
        atomic_write_json(os.path.join(cfg.train.output_dir, "init_report.json"), report.to_dict())
    return {}


def _trusted(cfg) -> bool:
    """``train.trust_checkpoint``: the user's opt-in to fully unpickle files the safe
    reader refuses (see :mod:`vitdet_bench.checkpoint.safe_load`)."""
    return setting(cfg, "train.trust_checkpoint", False, bool)


# ----------------------------------------------------------------------------- evaluation steps
def _inference_dir(settings: RunSettings) -> str:
    return os.path.join(settings.output_dir, "inference")


def _report_json(settings: RunSettings) -> str:
    return os.path.join(settings.output_dir, "report.json")


def _final_evaluation(cfg, model, settings: RunSettings, iterations: int) -> dict:
    """The run's last evaluation (``inference/``, ``report.json``). The trained weights
    are saved before it starts, so a scheduler signal during it is handed over at once:
    the job is requeued and its ``--resume`` runs this evaluation again
    (:func:`vitdet_bench.engine.preemption.requeue_at_once`)."""
    with requeue_at_once(settings.output_dir, iterations):
        return evaluate_detector(cfg, model, _inference_dir(settings),
                                 report_path=_report_json(settings))


def _load_weights_to_evaluate(cfg, settings: RunSettings, model, checkpointer, resume: bool):
    """``--eval-only``: the last checkpoint (with ``--resume``), else ``train.init_checkpoint``
    through the format registry, the safe reader and the load report (a released or a
    trained detector; nothing may stay at its initialization unless
    ``train.eval_allow_fresh=True``). Neither: the untrained model (``train.eval_untrained``)."""
    if resume and checkpointer.has_checkpoint():
        notice(f"Evaluating {checkpointer.get_checkpoint_file()} (--eval-only --resume)")
        checkpointer.resume_or_load(settings.init_checkpoint, resume=True)
    elif settings.init_checkpoint:
        from ..checkpoint.evaluation import load_evaluation_weights

        load_evaluation_weights(model, cfg.train)


def _evaluate_only(cfg, settings: RunSettings, model, checkpointer, resume: bool) -> dict:
    """``--eval-only``: load the weights, record the config, evaluate, say where it went."""
    _load_weights_to_evaluate(cfg, settings, model, checkpointer, resume)
    _use_channels_last(model, settings.channels_last)
    out, inference_dir = settings.output_dir, _inference_dir(settings)
    if comm.is_main_process():
        # A training run's config.yaml records what it trained (max_iter from epochs,
        # ...): an evaluation in its folder writes its own config next to its results.
        trained_here = checkpointer.has_checkpoint() and os.path.isfile(
            os.path.join(out, "config.yaml"))
        save_config(cfg, os.path.join(inference_dir if trained_here else out, "config.yaml"))
    results = evaluate_detector(cfg, model, inference_dir, report_path=_report_json(settings))
    notice(f"Evaluation done: {_report_locations(out, inference_dir)}")
    return results


def _report_locations(output_dir: str, eval_dir: str) -> str:
    """Where a run's outputs are, for the closing log line (only what exists)."""
    parts = []
    if os.path.isfile(os.path.join(output_dir, "report.json")):
        parts.append(f"report {os.path.join(output_dir, 'report.json')}")
    md = os.path.join(eval_dir, "report.md")
    if os.path.isfile(md):
        parts.append(f"{md} and its charts (errors_*.png, per_category_*.png) in {eval_dir}")
    if not parts:
        parts.append(f"no report (see the evaluation log above; detectron2's files are in "
                     f"{eval_dir})")
    if os.path.isfile(os.path.join(output_dir, "metrics.json")):
        parts.append(f"metrics {os.path.join(output_dir, 'metrics.json')}")
    if any(f.startswith("events.out.tfevents") for f in os.listdir(output_dir)):
        parts.append(f"TensorBoard events (tensorboard --logdir {output_dir})")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- training steps
def _starting_point(cfg, model, checkpointer, resume: bool) -> Tuple[bool, int]:
    """(resuming, first iteration): with ``--resume`` and a last checkpoint, the iteration
    after it; else the initialization is loaded and training starts at 0."""
    if resume and checkpointer.has_checkpoint():
        last = _peek_iteration(checkpointer)
        return True, 0 if last is None else last + 1
    load_initialization(cfg, model, checkpointer)
    return False, 0


def _prepare_parameters(cfg, settings: RunSettings, model) -> None:
    """``train.freeze`` (the frozen-backbone protocol: before the optimizer sees the
    parameters), then the memory layout of the loaded weights."""
    from vitdet_bench.modeling.freeze import apply_freeze, freeze_options

    trunk, pyramid = freeze_options(setting(cfg, "train.freeze", None))
    apply_freeze(model, trunk=trunk, pyramid=pyramid, output_dir=settings.output_dir)
    _use_channels_last(model, settings.channels_last)


def _schedule(cfg, settings: RunSettings, num_images: Optional[int]) -> int:
    """max_iter: ``train.max_iter``, or from ``train.epochs`` now that the number of
    training images is known; checked against the LR schedule."""
    max_iter = compute_max_iter(cfg, num_images)
    if settings.train.epochs is not None:
        images = setting(cfg, "train.num_train_images", None) or num_images
        notice(f"train.epochs={settings.train.epochs} x {images} images / batch "
               f"{settings.train.total_batch_size} -> max_iter={max_iter}")
    check_schedule(cfg, max_iter)  # again: an epoch schedule is known only now
    return max_iter


def _record_schedule(cfg, settings: RunSettings, max_iter: int, num_images: Optional[int]):
    """The schedule this run trains goes into the config, saved as ``config.yaml``."""
    cfg.train.max_iter = max_iter
    if "num_train_images" in cfg.train and cfg.train.num_train_images is None \
            and num_images is not None:
        cfg.train.num_train_images = num_images
    _apply_warmup_iters(cfg, max_iter)
    if comm.is_main_process():
        save_config(cfg, os.path.join(settings.output_dir, "config.yaml"))


def _build_trainer(cfg, settings: RunSettings, model, data: TrainData, start_iter: int):
    """The optimizer, the processes' DDP wrapper and the trainer reading ``data`` from
    ``start_iter``."""
    cfg.optimizer.params.model = model
    optimizer = instantiate(cfg.optimizer)
    ddp_model = _wrap_ddp(model, settings)
    t = settings.train
    trainer_class = VitdetAMPTrainer if settings.amp else VitdetSimpleTrainer
    trainer = trainer_class(ddp_model, data.loader(start_iter), optimizer,
                            grad_accum=t.grad_accum, output_dir=settings.output_dir)
    if t.grad_accum > 1:
        logger.info(f"Gradient accumulation: {t.grad_accum} micro-batches of "
                    f"{t.total_batch_size // t.grad_accum} images per optimizer step "
                    f"(total batch {t.total_batch_size})")
    return trainer


def _training_hooks(cfg, settings: RunSettings, trainer, checkpointer, data: TrainData,
                    max_iter: int) -> list:
    t, main = settings.train, comm.is_main_process()

    def evaluate(kind: str, iteration: int) -> dict:
        if kind == "final":
            return _final_evaluation(cfg, trainer.model, settings, iteration)
        return evaluate_detector(cfg, trainer.model,
                                 os.path.join(settings.output_dir, f"eval_{iteration}"))

    return [
        hooks.IterationTimer(),
        hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
        # logged when training ends (also after a failure), before the final evaluation
        MapperSkipCounts(data.mapper, t.num_workers) if data.mapper is not None else None,
        VitdetEvalHook(t.eval_period, evaluate),
        # after evaluation, so a resumed run sees the RNG state the uninterrupted run had
        hooks.PeriodicCheckpointer(checkpointer, period=t.checkpoint_period,
                                   max_to_keep=t.max_to_keep) if main else None,
        MetricsWriter(default_writers(settings.output_dir, max_iter), period=t.log_period)
        if main else None,
        CheckpointOnSignalHook(checkpointer),  # last: saves the state the others left
    ]


def _restore_training_state(settings: RunSettings, checkpointer, trainer) -> int:
    """``--resume``: model, optimizer, scheduler and iteration of the last checkpoint, and
    its RNG state (one process; else RNGs seeded from the iteration). Returns the first
    iteration to train."""
    extra = checkpointer.resume_or_load("", resume=True)
    start_iter = trainer.iter + 1
    rng = extra.get("rng_state") if isinstance(extra, dict) else None
    if rng is not None and comm.get_world_size() == 1:
        set_rng_state(rng)
    else:
        seed_everything(settings.seed + comm.get_rank() + 1_000 * start_iter)
    notice(f"Resuming from {checkpointer.get_checkpoint_file()} at iteration {start_iter}")
    return start_iter


def _training_results(settings: RunSettings, trained_to: int, max_iter: int) -> dict:
    """``{"report_json": path}`` where the final report was written; the closing line."""
    results = {}
    if os.path.isfile(_report_json(settings)):
        results["report_json"] = _report_json(settings)
    if trained_to >= max_iter - 1:
        notice(f"Training done ({max_iter} iterations): "
               f"{_report_locations(settings.output_dir, _inference_dir(settings))}")
    return results


def _finished_run(cfg, settings: RunSettings, model, checkpointer, start_iter: int,
                  max_iter: int) -> dict:
    """A ``--resume`` of a run whose last checkpoint is at (or past) max_iter. If its final
    evaluation was cut by a scheduler signal, run it now; else say so and touch nothing
    (no evaluation, no metrics row, config.yaml kept)."""
    out, checkpoint = settings.output_dir, checkpointer.get_checkpoint_file()
    if final_evaluation_pending(out):
        notice(f"Run in {out} is trained ({start_iter} of max_iter={max_iter} iterations); "
               f"its final evaluation was interrupted: evaluating {checkpoint}")
        checkpointer.resume_or_load("", resume=True)  # the weights (the model alone)
        results = _final_evaluation(cfg, model, settings, max_iter)
        _write_evaluation_metrics(out, max_iter, results)
        return _training_results(settings, max_iter, max_iter)
    notice(
        f"Run in {out} is finished: its last checkpoint {checkpoint} completed "
        f"{start_iter} of max_iter={max_iter} iterations. Nothing to train; metrics.json, "
        "config.yaml and the report are left as they are. To evaluate it again: "
        "tools/train_net.py --eval-only --resume --config-file CFG "
        f"train.output_dir={out}; to train longer: --resume with a larger "
        "train.max_iter.")
    results = {"finished": True, "iteration": start_iter}
    if os.path.isfile(_report_json(settings)):
        results["report_json"] = _report_json(settings)
    return results


def _write_evaluation_metrics(output_dir: str, iteration: int, results: dict) -> None:
    """The final evaluation's row of metrics.json (and TensorBoard), as the trainer's
    writers record it after an uninterrupted run (at iteration max_iter)."""
    from detectron2.utils.events import TensorboardXWriter

    scalars = evaluation_scalars(results)
    if not scalars or not comm.is_main_process():
        return
    with EventStorage(iteration) as storage:
        storage.put_scalars(**scalars, smoothing_hint=False)
        for writer in (JSONWriter(os.path.join(output_dir, "metrics.json")),
                       TensorboardXWriter(output_dir)):
            writer.write()
            writer.close()


# ----------------------------------------------------------------------------- the recipe
def run(cfg, resume: bool = False, eval_only: bool = False) -> Dict[str, Any]:
    """Train and evaluate as the config says; returns the final evaluation results.

    ``resume``: continue from ``train.output_dir``'s last checkpoint; a finished run is
    left as it is (nothing trained, evaluated or appended) unless its final evaluation
    was interrupted by a scheduler signal (then it is run). ``eval_only``: evaluate the
    weights of ``train.init_checkpoint`` (or, with ``resume``, of the last checkpoint);
    without any, only with ``train.eval_untrained=True`` (:class:`ConfigError`).
    """
    if eval_only:
        check_eval_only_weights(cfg, resume)
    _start_logging(read_output_dir(cfg))
    settings = read_settings(cfg, training=not eval_only)
    seed_everything(settings.seed + comm.get_rank())
    torch.backends.cudnn.benchmark = False
    model = _build_model(cfg, settings.device)
    run_checkpointer = _run_checkpointer(cfg, model, settings.output_dir)  # the model alone
    if eval_only:
        return _evaluate_only(cfg, settings, model, run_checkpointer, resume)

    resuming, start_iter = _starting_point(cfg, model, run_checkpointer, resume)
    _prepare_parameters(cfg, settings, model)
    data = _training_data(cfg, settings)
    max_iter = _schedule(cfg, settings, data.num_images)
    if resuming and start_iter >= max_iter:
        return _finished_run(cfg, settings, model, run_checkpointer, start_iter, max_iter)
    _record_schedule(cfg, settings, max_iter, data.num_images)

    trainer = _build_trainer(cfg, settings, model, data, start_iter)
    checkpointer = AtomicCheckpointer(model, settings.output_dir, trainer=trainer,
                                      trust_checkpoint=_trusted(cfg))
    trainer.register_hooks(_training_hooks(cfg, settings, trainer, checkpointer, data, max_iter))
    if resuming:
        start_iter = _restore_training_state(settings, checkpointer, trainer)
    trainer.train(start_iter, max_iter)
    return _training_results(settings, trainer.iter, max_iter)

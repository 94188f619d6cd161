"""The training loop: detectron2 SimpleTrainer/AMPTrainer + vitdet_bench conventions.

Config keys read (LazyConfig contract, see tools/train_net.py):
``train.output_dir, init_checkpoint, init_format, init_lenient, max_iter, epochs,
num_train_images, warmup_iters, grad_accum, amp.enabled, ddp, checkpointer.period/max_to_keep, eval_period,
log_period, device, seed, channels_last, eval_untrained``;
``model``, ``optimizer`` (``optimizer.params.model`` is filled here), ``lr_multiplier``,
``dataloader.train/test/evaluator``.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import random
import sys
import tempfile
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.engine import AMPTrainer, SimpleTrainer, default_writers, hooks
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.utils import comm
from detectron2.utils.events import get_event_storage
from detectron2.utils.logger import setup_logger

from vitdet_bench.layers.norm import convert_batchnorm_for_world
from vitdet_bench.utils.io import atomic_write_json

from .checkpoint import AtomicCheckpointer, set_rng_state
from .data import build_resumable_train_loader
from .errors import ConfigError, NonFiniteLossError, install_user_error_log_filter
from .hooks import VitdetEvalHook
from .preemption import CheckpointOnSignalHook

__all__ = ["DEFAULT_SEED", "select_device", "seed_everything", "save_config", "compute_max_iter",
           "check_schedule", "check_eval_only_weights",
           "grad_accum_steps", "do_test", "run"]

logger = logging.getLogger("vitdet_bench.engine")
DEFAULT_SEED = 42


def _notice(message: str) -> None:
    """One line for the user, on the main process: through the logger (console and
    log.txt) once ``run`` has set it up, else printed."""
    if not comm.is_main_process():
        return
    if logging.getLogger("vitdet_bench").hasHandlers():
        logger.info(message)
    else:
        print(f"[vitdet_bench] {message}", flush=True)


def select_device(requested: Optional[str]) -> str:
    """``requested`` if usable; CUDA falls back to CPU with a one-line notice."""
    requested = (requested or "cuda").lower()
    if requested.startswith("cuda") and not torch.cuda.is_available():
        _notice(f"train.device={requested!r} but CUDA is not available: running on CPU.")
        return "cpu"
    return requested


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


def _get(cfg, key, default=None):
    try:
        v = cfg.get(key, default)
    except Exception:
        return default
    return default if v is None else v


def compute_max_iter(cfg, num_train_images: Optional[int]) -> int:
    """``train.max_iter`` or ceil(epochs * num_train_images / total_batch_size)."""
    epochs = _get(cfg.train, "epochs")
    if epochs is None:
        return int(cfg.train.max_iter)
    n = _get(cfg.train, "num_train_images") or num_train_images
    if not n:
        raise ValueError("train.epochs is set but the number of training images is unknown; "
                         "set train.num_train_images")
    bs = int(cfg.dataloader.train.total_batch_size)
    return int(math.ceil(float(epochs) * int(n) / bs))


def _apply_warmup_iters(cfg, max_iter: int) -> None:
    """``train.warmup_iters`` -> ``lr_multiplier.warmup_length`` (a fraction of max_iter)."""
    warmup_iters = _get(cfg.train, "warmup_iters")
    if warmup_iters is not None and "warmup_length" in cfg.lr_multiplier:
        cfg.lr_multiplier.warmup_length = float(warmup_iters) / max_iter


def check_schedule(cfg, max_iter: int) -> None:
    """The schedule must fit in ``max_iter`` iterations; else :class:`ConfigError`.

    Runs before the model is built when max_iter follows from the config alone
    (tools/train_net.py), and in :func:`run` once an epoch schedule is converted. The
    LR schedule is built (cheap) so that any value it rejects is reported here, in
    the config's terms, not as a traceback after the model and data are built.
    """
    if max_iter < 1:
        raise ConfigError(f"train.max_iter is {max_iter}: a run needs at least one iteration "
                          "(set train.max_iter=N or train.epochs=E).")
    where = (f"train.max_iter={max_iter}" if _get(cfg.train, "epochs") is None else
             f"max_iter={max_iter} (from train.epochs={cfg.train.epochs})")
    warmup_iters = _get(cfg.train, "warmup_iters")
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
    warmup_length = _get(lr_cfg, "warmup_length")
    if warmup_length is not None and not 0.0 <= float(warmup_length) <= 1.0:
        raise ConfigError(
            f"lr_multiplier.warmup_length={warmup_length} is not a fraction of the schedule "
            "(expected a number in [0, 1]); set train.warmup_iters=N (iterations) instead.")
    try:
        instantiate(lr_cfg)
    except (ValueError, RuntimeError, AssertionError, TypeError) as e:
        raise ConfigError(f"lr_multiplier cannot be built for {where}: {type(e).__name__}: {e}. "
                          "Check the lr_multiplier.* values of the config.") from e


def check_eval_only_weights(cfg, resume: bool) -> None:
    """``--eval-only`` needs weights: ``train.init_checkpoint``, or ``--resume`` with a
    ``last_checkpoint`` in ``train.output_dir``; an untrained model is evaluated only
    when asked for with ``train.eval_untrained=True`` (a floor for a benchmark table)."""
    if _get(cfg.train, "init_checkpoint", ""):
        return
    out = _get(cfg.train, "output_dir", "")
    if resume and out and os.path.isfile(os.path.join(str(out), "last_checkpoint")):
        return
    if bool(_get(cfg.train, "eval_untrained", False)):
        return
    where = (f"--resume found no last_checkpoint in {out!r} and " if resume else "")
    raise ConfigError(
        f"--eval-only has no weights to evaluate: {where}train.init_checkpoint is empty, so "
        "the model would be scored as initialized (AP ~0). Give the trained detector, e.g. "
        "train.init_checkpoint=output/RUN/model_final.pth train.init_format=detectron2, or "
        "re-evaluate a training run with --eval-only --resume (train.output_dir=output/RUN); "
        "to score an untrained model on purpose add train.eval_untrained=True.")


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
    """

    amp_enabled = False
    grad_accum = 1

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
            storage = get_event_storage()
            storage.put_scalar("total_loss_raw", float(losses), smoothing_hint=False)
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
            ckpt = os.path.join(getattr(self, "_output_dir", ""), "last_checkpoint")
            raise NonFiniteLossError(
                f"Non-finite loss at iteration {self.iter}: total_loss={float(losses.detach())} "
                f"({terms}). Training stopped; the state of this iteration was not saved. "
                f"The last good checkpoint is the one named in {ckpt} (if any). Lower the "
                "learning rate, enable gradient clipping, or check the data.")

    def after_train(self):
        # detectron2 leaves self.iter == max_iter only when every iteration finished. After
        # a failure (bad data, non-finite loss, Ctrl-C) the state is not that of a finished
        # iteration: no final checkpoint and no final evaluation of it (their hooks test
        # ``iter + 1 >= max_iter``, which a failure in the last iteration also passes);
        # the other hooks (timer, metric writers) still run.
        # Stopped after iteration ``iter`` on a scheduler signal (checkpointed, requeued):
        # that iteration is complete; a writer that just wrote it has nothing to add.
        on_signal = getattr(self, "_stopping_on_signal", False)
        if self.iter >= self.max_iter:
            return super().after_train()
        self.storage.iter = self.iter
        for h in self._hooks:
            if isinstance(h, (hooks.PeriodicCheckpointer, VitdetEvalHook)):
                continue
            if on_signal and isinstance(h, hooks.PeriodicWriter) \
                    and (self.iter + 1) % h._period == 0:
                for writer in h._writers:
                    writer.close()
                continue
            h.after_train()


class VitdetSimpleTrainer(_StepMixin, SimpleTrainer):
    pass


class VitdetAMPTrainer(_StepMixin, AMPTrainer):
    amp_enabled = True


# ----------------------------------------------------------------------------- evaluation
def do_test(cfg, model, output_dir: str, report_path: Optional[str] = None) -> Dict[str, Any]:
    """Evaluate ``model`` on ``dataloader.test`` with COCOEvaluator and write the report.

    Writes ``<output_dir>/coco_instances_results.json``, the evaluator's files and
    ``write_report``'s report (``report.json`` etc.) in ``output_dir``; a copy of the
    report goes to ``report_path`` (atomic) when given.
    """
    from detectron2.evaluation import COCOEvaluator

    from vitdet_bench.data import ensure_dataset_files
    from vitdet_bench.evaluation import write_report

    if "evaluator" not in cfg.dataloader or "test" not in cfg.dataloader:
        return {}
    ev_cfg = cfg.dataloader.evaluator
    dataset_name = ev_cfg.dataset_name
    if not isinstance(dataset_name, str):
        dataset_name = list(dataset_name)[0]
    gt_json = ensure_dataset_files(dataset_name)
    os.makedirs(output_dir, exist_ok=True)
    kwargs = {k: ev_cfg[k] for k in ("tasks", "distributed", "max_dets_per_image")
              if k in ev_cfg and ev_cfg[k] is not None}
    eval_name = dataset_name
    if comm.is_main_process():
        gt_json = _evaluable_gt(cfg, gt_json, output_dir, kwargs.get("tasks"))
    gt_json = comm.all_gather(gt_json)[0]
    if gt_json != ensure_dataset_files(dataset_name):
        # COCOEvaluator reads metadata.json_file: evaluate against the cleaned copy.
        from detectron2.data import MetadataCatalog

        eval_name = f"{dataset_name}@evaluable"
        meta = {k: v for k, v in MetadataCatalog.get(dataset_name).as_dict().items()
                if k != "name"}
        meta["json_file"] = gt_json
        if eval_name in MetadataCatalog.list():
            MetadataCatalog.remove(eval_name)
        MetadataCatalog.get(eval_name).set(**meta)
    evaluator = COCOEvaluator(eval_name, output_dir=output_dir, use_fast_impl=False, **kwargs)
    loader = instantiate(cfg.dataloader.test)
    results = inference_on_dataset(model, loader, evaluator)
    if comm.is_main_process():
        print_csv_format(results)
        res_json = os.path.join(output_dir, "coco_instances_results.json")
        if os.path.isfile(res_json):
            import json

            with open(res_json) as f:
                dets = json.load(f)
            if not dets:
                logger.warning(f"The model made no detection on {dataset_name!r}: every AP is 0; "
                               f"no report written to {output_dir}.")
                comm.synchronize()
                return results
            has_segm = any("segmentation" in d for d in dets) if dets else "segm" in results
            iou_types = ("bbox", "segm") if has_segm else ("bbox",)
            report = write_report(gt_json, res_json, output_dir, iou_types=iou_types,
                                  dataset_name=dataset_name)
            if report_path:
                atomic_write_json(report_path, report)
    comm.synchronize()
    return results


def _evaluable_gt(cfg, gt_json: str, output_dir: str, tasks) -> str:
    """``gt_json`` or a cleaned copy without annotations pycocotools cannot evaluate."""
    from vitdet_bench.data.validate import evaluable_ground_truth

    if tasks:
        masks = "segm" in tuple(tasks)
    else:
        try:
            masks = "mask_head" in cfg.model.roi_heads and bool(cfg.model.roi_heads.mask_head)
        except Exception:
            masks = True
    path, _ = evaluable_ground_truth(
        gt_json, os.path.join(output_dir, "ground_truth_evaluable.json"), masks=masks)
    return path


# ----------------------------------------------------------------------------- setup
def _setup_logging(output_dir: str) -> None:
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


def _log_model(model) -> None:
    n = sum(p.numel() for p in model.parameters())
    logging.getLogger(_FILE_ONLY_LOGGER).info("Model:\n%s", model)
    logger.info(f"Model: {type(model).__name__}, {n / 1e6:.2f} M parameters (printed in full "
                "to log.txt)")


def _count_norms(model) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            counts[type(m).__name__] = counts.get(type(m).__name__, 0) + 1
    return counts


def _build_model(cfg, device: str):
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
    return model


def _use_channels_last(cfg, model, device: str) -> None:
    """On CPU (``train.channels_last``: None = CPU only), put 4-D weights in NHWC layout.

    oneDNN's CPU convolutions run ~20% faster on NHWC tensors (3x3, 64 channels: FPN,
    RPN and ROI heads), and a convolution with NHWC weights returns NHWC. Same values and
    state-dict keys. Called after the weights are initialized or loaded: initializers
    and checkpoint adapters may ``view`` a weight, which needs the default layout.
    """
    channels_last = _get(cfg.train, "channels_last")
    if channels_last is None:
        channels_last = device == "cpu"
    if channels_last:
        model.to(memory_format=torch.channels_last)
        logger.info("4-D weights in channels-last memory layout (train.channels_last)")


def _ddp_accepts(name: str) -> bool:
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    return name in inspect.signature(DistributedDataParallel.__init__).parameters


def _ddp_kwargs(cfg, device: str) -> Tuple[dict, bool]:
    """(DistributedDataParallel kwargs from ``train.ddp``, fp16 gradient compression)."""
    kwargs = dict(_get(cfg.train, "ddp", {}) or {})
    fp16 = kwargs.pop("fp16_compression", False)
    if "broadcast_buffers" in kwargs and _ddp_accepts("forward_sync_buffers"):
        # torch >= 2.13 deprecates broadcast_buffers (a FutureWarning per process) for
        # forward_sync_buffers; it differs only in also syncing buffers once at
        # construction, where every process's buffers are equal anyway (same init).
        kwargs.setdefault("forward_sync_buffers", kwargs.pop("broadcast_buffers"))
    if device.startswith("cuda"):
        kwargs.setdefault("device_ids", [comm.get_local_rank()])
    return kwargs, fp16


def _wrap_ddp(model, cfg, device: str):
    if comm.get_world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    kwargs, fp16 = _ddp_kwargs(cfg, device)
    ddp = DistributedDataParallel(model, **kwargs)
    if fp16 and device.startswith("cuda"):
        from torch.distributed.algorithms.ddp_comm_hooks import default as comm_hooks

        ddp.register_comm_hook(state=None, hook=comm_hooks.fp16_compress_hook)
    return ddp


def grad_accum_steps(cfg) -> int:
    """``train.grad_accum`` (micro-batches per optimizer step), checked against the batch:
    ``total_batch_size`` must split into ``world size x grad_accum`` equal micro-batches."""
    k = int(_get(cfg.train, "grad_accum", 1))
    total, world = int(cfg.dataloader.train.total_batch_size), comm.get_world_size()
    if k < 1 or total % (world * k):
        raise ValueError(
            f"train.grad_accum={k} does not fit dataloader.train.total_batch_size={total} on "
            f"{world} process(es): the batch must split into world size x grad_accum = "
            f"{world * k} equal micro-batches (grad_accum >= 1 dividing {total}/{world}).")
    return k


def _train_dataset_and_loader(cfg, seed: int, start_iter: int, max_iter_known: bool):
    """(loader factory, num_train_images). The factory takes start_iter (optimizer steps).

    With ``train.grad_accum = k`` the loader yields micro-batches of total_batch_size / k
    images and starts k micro-batches per step in: the same images in the same order as
    the full batches (positions are per image), only split into k pieces.
    """
    tl = cfg.dataloader.train
    if all(k in tl for k in ("dataset", "mapper", "total_batch_size")):
        dicts = instantiate(tl.dataset)
        mapper = instantiate(tl.mapper)
        _TRAIN_MAPPERS.append(mapper)
        if not isinstance(dicts, list):
            dicts = list(dicts)
        accum = grad_accum_steps(cfg)

        def factory(start):
            return build_resumable_train_loader(
                dicts, mapper, int(tl.total_batch_size) // accum, seed=seed,
                start_iter=start * accum,
                num_workers=int(_get(tl, "num_workers", 0)),
                aspect_ratio_grouping=bool(_get(tl, "aspect_ratio_grouping", True)))

        return factory, len(dicts)
    logger.warning("dataloader.train is not a build_detection_train_loader config: resumed "
                   "runs will not see exactly the same batches")
    return (lambda start: instantiate(tl)), None


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
    path = _get(cfg.train, "init_checkpoint", "") or ""
    fmt = _get(cfg.train, "init_format", "auto") or "auto"
    if fmt == "detectron2":
        return checkpointer.resume_or_load(path, resume=False)
    if not path and fmt == "auto":
        return {}
    from ..checkpoint import load_pretrained

    net = model.module if hasattr(model, "module") else model
    # train.init_keep: model tensors that keep the model's own init (positional ablations)
    report = load_pretrained(net, path, format=fmt,
                             strict_architecture=not bool(_get(cfg.train, "init_lenient", False)),
                             lenient_option="the override train.init_lenient=True",
                             keep_init=_get(cfg.train, "init_keep", ()) or (),
                             trust_checkpoint=bool(_get(cfg.train, "trust_checkpoint", False)))
    if comm.is_main_process():
        from ..utils.io import atomic_write_json

        atomic_write_json(os.path.join(cfg.train.output_dir, "init_report.json"), report.to_dict())
    return {}


def _is_released_detector(cfg) -> bool:
    """``train.init_checkpoint`` is a released whole detector (detectron2 ViTDet model zoo,
    Alpha-VL ConvMAE), by ``train.init_format`` or, for "auto", by its layout."""
    from ..checkpoint.released import RELEASED_FORMATS, released_format_of

    path = _get(cfg.train, "init_checkpoint", "") or ""
    fmt = _get(cfg.train, "init_format", "auto") or "auto"
    if fmt in RELEASED_FORMATS:
        return True
    if fmt != "auto" or not path or "://" in path or not os.path.isfile(path):
        return False
    return released_format_of(path) is not None


_TRAIN_MAPPERS: list = []


def _log_skip_counts(cfg) -> None:
    """Log what the training mapper dropped (see RobustDatasetMapper.skip_counts)."""
    for mapper in _TRAIN_MAPPERS:
        counts = dict(getattr(mapper, "skip_counts", {}) or {})
        if counts:
            workers = int(_get(cfg.dataloader.train, "num_workers", 0))
            logger.warning(
                "Training data: annotations dropped and counted by the mapper: "
                + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
                + (f" (this process only; each of the {workers} data loader workers logs its "
                   "own drops)" if workers else ""))
    _TRAIN_MAPPERS.clear()


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


def _finished_run(output_dir: str, checkpoint: str, start_iter: int, max_iter: int) -> dict:
    """A ``--resume`` of a run whose last checkpoint is at (or past) max_iter: say so and
    touch nothing (no evaluation, no metrics row, config.yaml kept)."""
    _notice(
        f"Run in {output_dir} is finished: its last checkpoint {checkpoint} completed "
        f"{start_iter} of max_iter={max_iter} iterations. Nothing to train; metrics.json, "
        "config.yaml and the report are left as they are. To evaluate it again: "
        "tools/train_net.py --eval-only --resume --config-file CFG "
        f"train.output_dir={output_dir}; to train longer: --resume with a larger "
        "train.max_iter.")
    results = {"finished": True, "iteration": start_iter}
    rp = os.path.join(output_dir, "report.json")
    if os.path.isfile(rp):
        results["report_json"] = rp
    return results


def run(cfg, resume: bool = False, eval_only: bool = False) -> Dict[str, Any]:
    """Train and evaluate as the config says; returns the final evaluation results.

    ``resume``: continue from ``train.output_dir``'s last checkpoint; a finished run is
    left as it is (nothing trained, evaluated or appended). ``eval_only``: evaluate the
    weights of ``train.init_checkpoint`` (or, with ``resume``, of the last checkpoint);
    without any, only with ``train.eval_untrained=True`` (:class:`ConfigError`).
    """
    output_dir = cfg.train.output_dir
    if eval_only:
        check_eval_only_weights(cfg, resume)
    if comm.is_main_process():
        os.makedirs(output_dir, exist_ok=True)
    comm.synchronize()
    _setup_logging(output_dir)

    device = select_device(_get(cfg.train, "device", "cuda"))
    cfg.train.device = device
    amp = bool(_get(_get(cfg.train, "amp", {}), "enabled", False))
    if amp and not device.startswith("cuda"):
        _notice("train.amp.enabled=True ignored: AMP needs CUDA (running on CPU in fp32).")
        amp = False
    seed = int(_get(cfg.train, "seed", DEFAULT_SEED))
    seed_everything(seed + comm.get_rank())
    torch.backends.cudnn.benchmark = False

    model = _build_model(cfg, device)
    _log_model(model)
    probe = AtomicCheckpointer(model, output_dir,
                               trust_checkpoint=bool(_get(cfg.train, "trust_checkpoint", False)))
    if comm.is_main_process():
        probe.remove_stale_temp_files()
    comm.synchronize()

    inference_dir = os.path.join(output_dir, "inference")
    if eval_only:
        if resume and probe.has_checkpoint():
            _notice(f"Evaluating {probe.get_checkpoint_file()} (--eval-only --resume)")
            probe.resume_or_load(_get(cfg.train, "init_checkpoint", ""), resume=True)
        elif _get(cfg.train, "init_checkpoint", ""):
            # any file: format registry, safe reader, load report, nothing left fresh
            from ..checkpoint.evaluation import load_evaluation_weights

            load_evaluation_weights(model, cfg.train)
        _use_channels_last(cfg, model, device)
        if comm.is_main_process():
            # A training run's config.yaml records what it trained (max_iter from epochs,
            # ...): an evaluation in its folder writes its own config next to its results.
            trained_here = probe.has_checkpoint() and os.path.isfile(
                os.path.join(output_dir, "config.yaml"))
            save_config(cfg, os.path.join(inference_dir if trained_here else output_dir,
                                          "config.yaml"))
        results = do_test(cfg, model, inference_dir,
                          report_path=os.path.join(output_dir, "report.json"))
        _notice(f"Evaluation done: {_report_locations(output_dir, inference_dir)}")
        return results

    # Where does the run start?
    resuming = resume and probe.has_checkpoint()
    start_iter = 0
    if resuming:
        last = _peek_iteration(probe)
        start_iter = 0 if last is None else last + 1
    else:
        load_initialization(cfg, model, probe)
    # train.freeze: the frozen-backbone protocol (before the optimizer sees the parameters)
    from vitdet_bench.modeling.freeze import apply_freeze_config

    apply_freeze_config(cfg, model, output_dir)
    _use_channels_last(cfg, model, device)

    factory, n_images = _train_dataset_and_loader(cfg, seed, start_iter, False)
    max_iter = compute_max_iter(cfg, n_images)
    if _get(cfg.train, "epochs") is not None:
        _notice(f"train.epochs={cfg.train.epochs} x {cfg.train.num_train_images or n_images} "
                f"images / batch {cfg.dataloader.train.total_batch_size} -> max_iter={max_iter}")
    check_schedule(cfg, max_iter)  # again: an epoch schedule is known only now
    if resuming and start_iter >= max_iter:
        return _finished_run(output_dir, probe.get_checkpoint_file(), start_iter, max_iter)
    cfg.train.max_iter = max_iter
    if cfg.train.get("num_train_images", None) is None and n_images is not None \
            and "num_train_images" in cfg.train:
        cfg.train.num_train_images = n_images
    _apply_warmup_iters(cfg, max_iter)
    if comm.is_main_process():
        save_config(cfg, os.path.join(output_dir, "config.yaml"))

    cfg.optimizer.params.model = model
    optimizer = instantiate(cfg.optimizer)
    ddp_model = _wrap_ddp(model, cfg, device)
    loader = factory(start_iter)
    trainer = (VitdetAMPTrainer if amp else VitdetSimpleTrainer)(ddp_model, loader, optimizer)
    trainer._output_dir = output_dir
    trainer.grad_accum = grad_accum_steps(cfg)
    if trainer.grad_accum > 1:
        logger.info(f"Gradient accumulation: {trainer.grad_accum} micro-batches of "
                    f"{int(cfg.dataloader.train.total_batch_size) // trainer.grad_accum} images "
                    f"per optimizer step (total batch {cfg.dataloader.train.total_batch_size})")
    checkpointer = AtomicCheckpointer(model, output_dir, trainer=trainer,
                                      trust_checkpoint=bool(_get(cfg.train, "trust_checkpoint", False)))

    def eval_fn(kind: str, iteration: int):
        if kind == "final":
            return do_test(cfg, ddp_model, inference_dir,
                           report_path=os.path.join(output_dir, "report.json"))
        return do_test(cfg, ddp_model, os.path.join(output_dir, f"eval_{iteration}"))

    ck = cfg.train.checkpointer
    trainer.register_hooks([
        hooks.IterationTimer(),
        hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
        VitdetEvalHook(int(_get(cfg.train, "eval_period", 0)), eval_fn),
        # after evaluation, so a resumed run sees the RNG state the uninterrupted run had
        hooks.PeriodicCheckpointer(checkpointer, period=int(ck.period),
                                   max_to_keep=_get(ck, "max_to_keep"))
        if comm.is_main_process() else None,
        hooks.PeriodicWriter(default_writers(output_dir, max_iter),
                             period=int(_get(cfg.train, "log_period", 20)))
        if comm.is_main_process() else None,
        CheckpointOnSignalHook(checkpointer),  # last: saves the state the others left
    ])

    if resuming:
        extra = checkpointer.resume_or_load("", resume=True)
        start_iter = trainer.iter + 1
        rng = extra.get("rng_state") if isinstance(extra, dict) else None
        if rng is not None and comm.get_world_size() == 1:
            set_rng_state(rng)
        else:
            seed_everything(seed + comm.get_rank() + 1_000 * start_iter)
        _notice(f"Resuming from {checkpointer.get_checkpoint_file()} at iteration {start_iter}")
    try:
        trainer.train(start_iter, max_iter)
    finally:
        _log_skip_counts(cfg)
    storage_results = {}
    rp = os.path.join(output_dir, "report.json")
    if os.path.isfile(rp):
        storage_results["report_json"] = rp
    if trainer.iter >= max_iter - 1:
        _notice(f"Training done ({max_iter} iterations): "
                f"{_report_locations(output_dir, inference_dir)}")
    return storage_results

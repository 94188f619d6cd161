"""Timing cells: inference and training-step time of one model, with each phase's peak.

A cell measures, on one device, for ``target`` "backbone" (a module taking an image
batch; loss = sum of its outputs' means) or "model" (a detectron2 detector; its training
step on :func:`~vitdet_bench.measure.inputs.synthetic_batch`):

* parameters; FLOPs per image (:mod:`vitdet_bench.measure.flops`, one image);
* inference time per image (eval, no grad): median over ``steps`` after ``warmup``;
* training step (forward + backward + AdamW) and forward + backward alone: medians;
* peak memory of each phase (reset in between: :mod:`vitdet_bench.measure.memory`).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Dict, Optional

import torch
import torch.nn as nn

from .flops import count_backbone_flops, detector_flops
from .inputs import synthetic_batch
from .memory import peak_gb, reset_peak

__all__ = ["CellSettings", "measure_model", "AMP_DTYPES"]

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class CellSettings:
    """What one cell measures and how."""

    device: str = "cpu"
    size: int = 1024
    target: str = "backbone"  # "backbone" or "model"
    batch_size: int = 1
    amp: str = "none"  # "none", "bf16" or "fp16"
    steps: int = 5
    warmup: int = 2
    flops: bool = True
    infer: bool = True
    train: bool = True

    def __post_init__(self):
        if self.target not in ("backbone", "model"):
            raise ValueError(f"target={self.target!r}: expected 'backbone' or 'model'")
        if self.amp not in AMP_DTYPES:
            raise ValueError(f"amp={self.amp!r}: expected one of {', '.join(AMP_DTYPES)}")

    @classmethod
    def from_dict(cls, spec: Dict) -> "CellSettings":
        """From a cell spec (extra keys ignored; ``no_flops``/``no_infer``/``no_train``
        accepted, as the command lines name them)."""
        names = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in spec.items() if k in names}
        for phase in ("flops", "infer", "train"):
            if f"no_{phase}" in spec:
                kwargs[phase] = not spec[f"no_{phase}"]
        return cls(**kwargs)

    def to_dict(self) -> Dict:
        return asdict(self)


def measure_model(model: nn.Module, settings: CellSettings, result: Optional[Dict] = None) -> Dict:
    """Measure ``model`` (already on ``settings.device``) as the module docstring says;
    the figures are added to ``result`` (returned) with ``status`` "ok"."""
    s = settings
    res = {} if result is None else result
    res["params_M"] = sum(p.numel() for p in model.parameters()) / 1e6
    dev_type = "cuda" if s.device.startswith("cuda") else "cpu"
    amp = AMP_DTYPES[s.amp]

    def autocast():
        return torch.autocast(dev_type, dtype=amp, enabled=amp is not None)

    def sync():
        if dev_type == "cuda":
            torch.cuda.synchronize()

    if s.target == "backbone":
        def make_input():
            return torch.randn(s.batch_size, 3, s.size, s.size, device=s.device)

        def loss_fn(out):
            return sum(o.float().mean() for o in out.values())

        def infer(x):
            return model(x)
    else:
        roi_heads = getattr(model, "roi_heads", None)
        batch = synthetic_batch(s.size, s.batch_size, int(getattr(roi_heads, "num_classes", 80)))

        def make_input():
            return batch

        def loss_fn(out):
            return sum(out.values())

        def infer(x):
            return model([{"image": d["image"], "height": s.size, "width": s.size} for d in x])

    res["rss_after_build_GB"] = peak_gb("cpu")
    if s.flops:
        try:
            if s.target == "backbone":
                x1 = torch.randn(1, 3, s.size, s.size, device=s.device)
                res["gflops_per_image"] = count_backbone_flops(model, x1).total / 1e9
            else:
                res["gflops_per_image"] = detector_flops(model, s.size, s.device)[0]
        except Exception as e:  # noqa: BLE001  a model the tracer cannot take: the rest still runs
            res["gflops_error"] = repr(e)[:200]

    if s.infer:
        model.eval()
        reset_peak(s.device)
        times = []
        with torch.no_grad(), autocast():
            x = make_input()
            for _ in range(s.warmup + s.steps):
                sync()
                t = time.perf_counter()
                infer(x)
                sync()
                times.append(time.perf_counter() - t)
        res["infer_s_per_image"] = statistics.median(times[s.warmup:]) / s.batch_size
        res["infer_peak_GB"] = peak_gb(s.device)

    if s.train:
        # detectron2's detector logs training statistics to the current event storage
        from detectron2.utils.events import EventStorage

        with EventStorage(0):
            _time_training(model, s, res, make_input, loss_fn, autocast, sync)
    res["status"] = "ok"
    return res


def _time_training(model, s: CellSettings, res, make_input, loss_fn, autocast, sync):
    """Training steps (fwd + bwd + AdamW): median times and peak memory into ``res``."""
    dev_type = "cuda" if s.device.startswith("cuda") else "cpu"
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    scaler = torch.amp.GradScaler(dev_type, enabled=s.amp == "fp16")
    x = make_input()
    reset_peak(s.device)
    times, fwd_bwd = [], []
    for i in range(s.warmup + s.steps):
        sync()
        t = time.perf_counter()
        with autocast():
            loss = loss_fn(model(x))
        scaler.scale(loss).backward()
        sync()
        fwd_bwd.append(time.perf_counter() - t)
        if i == 0:
            # Forward + backward alone (gradients allocated, no optimizer state yet):
            # the quantity upstream forward/backward memory figures quote.
            res["fwd_bwd_peak_GB"] = peak_gb(s.device)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        sync()
        times.append(time.perf_counter() - t)
        if i == 0:
            res["train_first_step_s"] = times[0]
    timed = times[s.warmup:] or times
    res["train_fwd_bwd_s"] = statistics.median(fwd_bwd[s.warmup:] or fwd_bwd)
    res["train_step_s"] = statistics.median(timed)
    res["train_steps_timed"] = len(timed)
    res["train_peak_GB"] = peak_gb(s.device)

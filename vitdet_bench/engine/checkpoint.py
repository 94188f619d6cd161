"""Atomic checkpoints and RNG state capture for exact resume."""
from __future__ import annotations

import os
import random
from typing import Any, Dict

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer

from vitdet_bench.utils.io import atomic_torch_save, atomic_write_text

__all__ = ["AtomicCheckpointer", "get_rng_state", "set_rng_state"]


def get_rng_state() -> Dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except Exception:  # different number of devices
            pass


class AtomicCheckpointer(DetectionCheckpointer):
    """DetectionCheckpointer whose files appear atomically.

    The checkpoint goes to a temp file that is renamed over ``<name>.pth`` once
    complete; only then is ``last_checkpoint`` rewritten (atomically, too). A kill at
    any moment leaves ``last_checkpoint`` naming a complete file. Every save also
    stores the python/numpy/torch RNG states (``rng_state``) unless given.
    """

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        kwargs.setdefault("rng_state", get_rng_state())
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info("Saving checkpoint to {}".format(save_file))
        atomic_torch_save(data, save_file)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        atomic_write_text(os.path.join(self.save_dir, "last_checkpoint"), last_filename_basename)

    def _load_file(self, f: str) -> Dict[str, Any]:
        # Our own checkpoints hold numpy RNG state etc.: allow full unpickling for .pth
        # files written by this class (torch>=2.6 defaults to weights_only=True).
        if f.endswith(".pth") and os.path.isfile(f):
            try:
                data = torch.load(f, map_location="cpu", weights_only=False)
            except TypeError:  # pragma: no cover - old torch
                data = torch.load(f, map_location="cpu")
            if isinstance(data, dict) and "model" in data and "rng_state" in data:
                return data
        return super()._load_file(f)

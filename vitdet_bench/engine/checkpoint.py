"""Atomic checkpoints and RNG state capture for exact resume, read with ``weights_only=True``."""
from __future__ import annotations

import glob
import os
import random
import time
from typing import Any, Dict, List

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer

from vitdet_bench.utils.io import atomic_open, atomic_write_text

__all__ = ["AtomicCheckpointer", "get_rng_state", "set_rng_state", "read_run_checkpoint",
           "PAUSE_IN_SAVE_ENV"]

# Test hook (tests/test_engine_kill_save.py): with VITDET_BENCH_TEST_PAUSE_IN_SAVE=<name>
# the save of <name>.pth stops after its temporary file is fully written and before
# the rename, prints one line and sleeps, so a test can SIGKILL the process exactly
# mid-save. Unset (always, outside that test) it costs one dict lookup per save.
PAUSE_IN_SAVE_ENV = "VITDET_BENCH_TEST_PAUSE_IN_SAVE"


def get_rng_state() -> Dict[str, Any]:
    """The python / numpy / torch (/ CUDA) RNG states, in forms ``torch.load(weights_only=True)``
    reads without an allowlist: tensors, numbers, strings, tuples, lists and dicts."""
    kind, key, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": {"kind": str(kind), "key": torch.from_numpy(np.array(key, dtype=np.int64)),
                       "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state(saved) -> tuple:
    """``np.random.set_state``'s tuple from a saved state: the dict this module writes, or
    the tuple (with a numpy array) that checkpoints written before it held."""
    if isinstance(saved, dict):
        return (saved["kind"], np.asarray(saved["key"].numpy(), dtype=np.uint32), int(saved["pos"]),
                int(saved["has_gauss"]), float(saved["cached_gaussian"]))
    return tuple(saved)


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(_python_state(state["python"]))
    np.random.set_state(_numpy_state(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except Exception:  # different number of devices
            pass


def _python_state(saved) -> tuple:
    # random.setstate needs (version, tuple of ints, gauss); a list from JSON-like storage works too
    version, internal, gauss = saved
    return (int(version), tuple(int(x) for x in internal), gauss)


def read_run_checkpoint(path: str, trust: bool = False) -> Dict[str, Any]:
    """A checkpoint file read without running code from it (``weights_only=True``).

    This project's own checkpoints hold only tensors, numbers, strings and containers
    (the model, optimizer, scheduler, iteration and :func:`get_rng_state`); ones written
    before it stored the numpy RNG state as a tuple holding a numpy array, which the
    allowlist's numpy array reconstruction reads (it sets data and calls nothing the file
    chooses). ``.pkl`` / ``.safetensors`` and other users' files take the same safe
    readers (:mod:`vitdet_bench.checkpoint.safe_load`); ``trust`` is the user's opt-in.
    """
    from vitdet_bench.checkpoint import CheckpointError
    from vitdet_bench.checkpoint.safe_load import read_file

    result = read_file(path, trust=trust)
    if not isinstance(result.obj, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(result.obj).__name__}")
    return result.obj


class AtomicCheckpointer(DetectionCheckpointer):
    """DetectionCheckpointer whose files appear atomically.

    The checkpoint goes to a temp file that is renamed over ``<name>.pth`` once
    complete; only then is ``last_checkpoint`` rewritten (atomically, too). A kill at
    any moment leaves ``last_checkpoint`` naming a complete file (a leftover temp file
    is never read; :meth:`remove_stale_temp_files` deletes it). Every save also
    stores the python/numpy/torch RNG states (``rng_state``) unless given.

    Loading raises :class:`vitdet_bench.checkpoint.CheckpointError` (naming the file)
    for a missing or unreadable file and for a checkpoint that fits none of the
    model's tensors (another architecture), where detectron2 would only log warnings.
    """

    def __init__(self, model, save_dir: str = "", *, trust_checkpoint: bool = False,
                 **checkpointables: Any) -> None:
        # trust_checkpoint (train.trust_checkpoint): the user's opt-in for files the safe
        # reader refuses (full unpickler, with a warning); never needed for our own files
        super().__init__(model, save_dir, **checkpointables)
        self.trust_checkpoint = bool(trust_checkpoint)

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
        with atomic_open(save_file, "wb") as f:
            torch.save(data, f)
            if os.environ.get(PAUSE_IN_SAVE_ENV) == name:
                f.flush()
                temp = glob.glob(os.path.join(self.save_dir, f".{basename}.*.tmp"))
                print(f"[vitdet_bench] test hook {PAUSE_IN_SAVE_ENV}: {basename} written to "
                      f"{', '.join(temp)}, pausing before the rename", flush=True)
                time.sleep(3600)
        self.tag_last_checkpoint(basename)

    def remove_stale_temp_files(self) -> List[str]:
        """Delete temporary files left by a save that was killed before its rename.

        They are never read (``last_checkpoint`` only ever names a renamed, complete
        file); this just returns their disk space. Call it only while no other process
        saves into this folder (the trainer does, on the main process, at start).
        """
        if not self.save_dir or not os.path.isdir(self.save_dir):
            return []
        stale = sorted(set(glob.glob(os.path.join(self.save_dir, ".*.pth.*.tmp")))
                       | set(glob.glob(os.path.join(self.save_dir, ".last_checkpoint.*.tmp"))))
        for f in stale:
            try:
                os.unlink(f)
            except FileNotFoundError:
                pass
        if stale:
            self.logger.warning(
                "Removed %d incomplete checkpoint file(s) left by an interrupted save (never "
                "used; last_checkpoint names only complete files): %s", len(stale),
                ", ".join(os.path.basename(f) for f in stale))
        return stale

    def _load_model(self, checkpoint: Any):
        """detectron2's loading, but a checkpoint that fits no tensor of the model is an error.

        detectron2 only logs shape mismatches and missing keys, so a checkpoint of
        another architecture would "load" and leave the model as initialized.
        """
        incompatible = super()._load_model(checkpoint)
        # missing_keys includes the wrongly shaped ones; BatchNorm never reports a
        # missing num_batches_tracked, so those do not count as loaded.
        model_keys = {k for k in self.model.state_dict().keys()
                      if not k.endswith("num_batches_tracked")}
        loaded = model_keys - set(incompatible.missing_keys)
        if model_keys and not loaded:
            from vitdet_bench.checkpoint import CheckpointError

            source = getattr(self, "_loading_path", "the checkpoint")
            theirs = sorted(str(k) for k in incompatible.unexpected_keys)
            shapes = [f"{k}: checkpoint {tuple(a)} vs model {tuple(b)}"
                      for k, a, b in incompatible.incorrect_shapes[:3]]
            raise CheckpointError(
                f"{source}: checkpoint of another architecture: none of the model's "
                f"{len(model_keys)} tensors could be loaded from it"
                + (f" (shape mismatches, e.g. {'; '.join(shapes)})" if shapes else "")
                + (f"; its keys look like {theirs[:3]}" if theirs else "")
                + ". Check train.init_checkpoint / train.init_format (a pre-trained backbone "
                "needs its format, e.g. mae, beit, mocov3, supervised, not 'detectron2').")
        return incompatible

    def load(self, path: str, checkpointables=None) -> Dict[str, Any]:
        if path and "://" not in path and not os.path.isfile(path):
            from vitdet_bench.checkpoint import CheckpointError

            raise CheckpointError(f"{path}: checkpoint file does not exist.")
        self._loading_path = path
        return super().load(path, checkpointables=checkpointables)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        atomic_write_text(os.path.join(self.save_dir, "last_checkpoint"), last_filename_basename)

    def _load_file(self, f: str) -> Dict[str, Any]:
        """Every file through the safe readers (``weights_only=True`` for ``.pth``, the
        restricted unpickler for ``.pkl``), shaped as detectron2's loader shapes it."""
        data = read_run_checkpoint(f, trust=self.trust_checkpoint)
        if f.endswith(".pkl"):
            if "model" in data and "__author__" in data:
                return data  # detectron2 model zoo
            # Caffe2 / Detectron1 model zoo blobs, matched by detectron2's name heuristics
            blobs = data.get("blobs", data)
            blobs = {k: v for k, v in blobs.items() if not k.endswith("_momentum")}
            return {"model": blobs, "__author__": "Caffe2", "matching_heuristics": True}
        if "model" not in data:
            data = {"model": data}
        return data

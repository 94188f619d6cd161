"""Reading a checkpoint file without running code from it.

A ``.pth`` / ``.pkl`` is a pickle, and unpickling can call any importable function. Every
file a user hands to the project (pre-trained backbones, released detectors, ResNet /
Caffe2 blobs, ``--eval-only`` weights, ``tools/inspect_checkpoint.py``) is read here:

* ``.safetensors``: tensors and a JSON header, never code (the recommended form; files
  written by ``tools/convert_checkpoint.py`` carry the wrapper and the non-tensor
  entries the loaders use as JSON metadata, and read back as the original);
* ``.pth`` / ``.pth.tar`` / ``.pt`` and anything else ``torch.save`` wrote:
  ``torch.load(weights_only=True)`` with the allowlist :data:`SAFE_TORCH_GLOBALS`;
* ``.pkl`` (detectron2 model zoo, Caffe2 blobs): :class:`RestrictedUnpickler`, which
  rebuilds numpy arrays, numpy scalars and plain containers and nothing else;
* TorchScript archives are not read at all (loading one runs its code).

A file that asks for anything else raises :class:`UnsafeCheckpointError` naming the file
and the global, unless the caller passes ``trust=True`` (``train.trust_checkpoint=True``,
``--trust-checkpoint``): then the full unpickler reads it, one warning line is logged and
:attr:`ReadResult.trusted_pickle` is True (the load report's ``trusted_pickle``).
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from .report import CheckpointError

__all__ = ["UnsafeCheckpointError", "ReadResult", "read_file", "RestrictedUnpickler",
           "SAFE_TORCH_GLOBALS", "SAFE_PICKLE_GLOBALS", "TRUST_OPTION", "CONVERT_COMMAND",
           "SAFETENSORS_WRAPPER_KEY", "SAFETENSORS_EXTRA_KEY", "SAFETENSORS_ORDER_KEY",
           "is_torchscript_archive", "json_safe", "describe_wrapper"]

logger = logging.getLogger("vitdet_bench")

# How a user opts in; tools pass their own spelling (--trust-checkpoint).
TRUST_OPTION = "train.trust_checkpoint=True"
CONVERT_COMMAND = "tools/convert_checkpoint.py"

# Metadata keys of a safetensors file written by tools/convert_checkpoint.py.
SAFETENSORS_WRAPPER_KEY = "vitdet_bench.wrapper"   # e.g. "model", "state_dict", "blobs", ""
SAFETENSORS_EXTRA_KEY = "vitdet_bench.extra"       # JSON of the non-tensor top-level entries
SAFETENSORS_ORDER_KEY = "vitdet_bench.order"       # JSON list: the tensors' order in the source


class UnsafeCheckpointError(CheckpointError):
    """The file needs a global the safe readers do not allow (or is a TorchScript archive)."""

    def __init__(self, message: str, path: str = "", global_name: str = ""):
        super().__init__(message)
        self.path = path
        self.global_name = global_name


def _numpy_core():
    """numpy >= 2 moved ``numpy.core`` to ``numpy._core``; files name either."""
    return getattr(np, "_core", None) or np.core


_NP_MULTIARRAY = _numpy_core().multiarray

# The globals the public files of every supported family pickle, and nothing else.
# Established from how each project writes its files (docs/checkpoints.md, "What each
# public file pickles"):
#   argparse.Namespace   - the ``args`` entry of training checkpoints written by MAE's and
#                          BEiT's ``misc.save_model`` / ``utils.save_model`` (also ConvMAE
#                          and iTPN, which reuse that code), DeiT's ``main.py`` and timm's
#                          ``CheckpointSaver``; MoCo v3 files written by its main scripts
#                          carry ``optimizer`` state (tensors, numbers: allowed by default)
#   collections.OrderedDict - every ``state_dict()`` (torchvision's files are one); torch
#                          allows it by default, listed here for the record
#   numpy arrays, scalars and dtypes - numpy values (``np.float64`` metrics, arrays) in
#                          training checkpoints, and the numpy RNG state that this
#                          project's own run checkpoints held before they stored it as
#                          tensors (vitdet_bench/engine/checkpoint.py)
# Rebuilding a Namespace, a dict or a numpy array/scalar sets data only: none of them
# calls anything the file chooses.
_NUMPY_GLOBALS: List[Any] = [
    np.ndarray,
    np.dtype,
    (_NP_MULTIARRAY._reconstruct, "numpy.core.multiarray._reconstruct"),
    (_NP_MULTIARRAY._reconstruct, "numpy._core.multiarray._reconstruct"),
    (_NP_MULTIARRAY.scalar, "numpy.core.multiarray.scalar"),
    (_NP_MULTIARRAY.scalar, "numpy._core.multiarray.scalar"),
]
# numpy >= 1.25 pickles some dtypes by their class (numpy.dtypes.Float32DType ...)
_NUMPY_DTYPE_CLASSES = sorted({type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDGSUV"},
                              key=lambda t: t.__name__)
SAFE_TORCH_GLOBALS: List[Any] = ([argparse.Namespace, collections.OrderedDict]
                                 + _NUMPY_GLOBALS + list(_NUMPY_DTYPE_CLASSES))

def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What Python 3 pickles at protocol <= 2 write for ``bytes`` (``_codecs.encode(s,
    'latin1')``): only that string-to-bytes encoding, nothing else of ``_codecs``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode({type(text).__name__}, {encoding!r}) is "
                                     "not the bytes encoding of a protocol-2 pickle")
    return text.encode("latin1")


# The .pkl reader's allowlist: (module, name) -> object. detectron2 model-zoo files
# ({'model': {name: ndarray}, '__author__': str, 'matching_heuristics': bool}) and
# Caffe2 blobs ({'blobs': {name: ndarray}}) need numpy arrays and plain containers;
# files written by Python 2 name numpy.core and __builtin__.
SAFE_PICKLE_GLOBALS: Dict[Tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _NP_MULTIARRAY._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _NP_MULTIARRAY._reconstruct,
    ("numpy.core.multiarray", "scalar"): _NP_MULTIARRAY.scalar,
    ("numpy._core.multiarray", "scalar"): _NP_MULTIARRAY.scalar,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "set"): set, ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset, ("__builtin__", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray, ("__builtin__", "bytearray"): bytearray,
}
SAFE_PICKLE_GLOBALS.update({("numpy.dtypes", t.__name__): t for t in _NUMPY_DTYPE_CLASSES})


@dataclass
class ReadResult:
    """What :func:`read_file` read and how."""

    obj: Any
    trusted_pickle: bool = False  # read with the full unpickler (the user's opt-in)
    reader: str = ""              # "safetensors", "torch.load(weights_only=True)", ...


def _refusal(path: str, global_name: str, why: str, trust_option: str) -> UnsafeCheckpointError:
    return UnsafeCheckpointError(
        f"{path}: not loaded: reading it needs the Python global {global_name!r}, which the "
        f"safe checkpoint reader does not allow ({why}). Unpickling runs whatever the file "
        "names, so a checkpoint may only rebuild tensors, numbers, strings, containers, "
        "numpy arrays and argparse.Namespace (docs/checkpoints.md lists what each public "
        "layout needs). If you trust where the file comes from, either convert it once: "
        f"python {CONVERT_COMMAND} {path} OUT.safetensors --trust-checkpoint, and use "
        f"OUT.safetensors from then on; or pass {trust_option} to read it with the full "
        "unpickler this time.", path=path, global_name=global_name)


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader for detectron2 / Caffe2 ``.pkl`` files: numpy arrays, numpy
    scalars and plain containers (dict, list, tuple, set, OrderedDict) only."""

    def find_class(self, module: str, name: str):
        obj = SAFE_PICKLE_GLOBALS.get((module, name))
        if obj is None:
            raise _GlobalRefused(f"{module}.{name}")
        return obj


class _GlobalRefused(pickle.UnpicklingError):
    def __init__(self, global_name: str):
        super().__init__(f"global {global_name} is not allowed")
        self.global_name = global_name


_TORCH_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def is_torchscript_archive(path: str) -> bool:
    """A zip written by ``torch.jit.save`` (``constants.pkl`` / ``code/`` next to ``data.pkl``)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def _warn_trusted(path: str, global_name: str, trust_option: str) -> None:
    logger.warning("%s needs %s, which the safe reader refuses; read with the full unpickler "
                   "because of %s (it can run code from the file)", path, global_name,
                   trust_option)
    if not logging.getLogger("vitdet_bench").hasHandlers():
        print(f"WARNING: {path} needs {global_name}, which the safe reader refuses; read with "
              f"the full unpickler because of {trust_option} (it can run code from the file)")


# ---------------------------------------------------------------- the readers
def _read_safetensors(path: str) -> Dict[str, Any]:
    try:
        from safetensors import safe_open

        with safe_open(path, framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # noqa: BLE001  safetensors raises its own error types
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from e
    if SAFETENSORS_WRAPPER_KEY not in meta:
        return tensors  # a plain safetensors file (timm / Hugging Face): a bare state dict
    try:
        extra = json.loads(meta.get(SAFETENSORS_EXTRA_KEY, "{}"))
    except ValueError as e:
        raise CheckpointError(f"{path}: metadata {SAFETENSORS_EXTRA_KEY!r} is not JSON ({e})") from e
    try:  # safetensors stores keys sorted; the source's order gives the same report order
        order = json.loads(meta.get(SAFETENSORS_ORDER_KEY, "[]"))
    except ValueError:
        order = []
    if sorted(order) == sorted(tensors):
        tensors = {k: tensors[k] for k in order}
    wrapper = meta[SAFETENSORS_WRAPPER_KEY]
    out: Dict[str, Any] = dict(extra) if isinstance(extra, dict) else {}
    if wrapper:
        out[wrapper] = tensors
    else:
        out.update(tensors)
    return out


def _read_torch(path: str, trust: bool, trust_option: str) -> ReadResult:
    if is_torchscript_archive(path):
        raise UnsafeCheckpointError(
            f"{path}: a TorchScript archive (torch.jit.save), not a checkpoint: loading one "
            "runs the code it contains, so it is never read, also not with "
            f"{trust_option}. Save the model's weights instead (torch.save(model.state_dict(), "
            "...) or safetensors) and pass that file.", path=path, global_name="TorchScript")
    try:
        with torch.serialization.safe_globals(SAFE_TORCH_GLOBALS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
        return ReadResult(obj, False, "torch.load(weights_only=True)")
    except pickle.UnpicklingError as e:
        m = _TORCH_GLOBAL.search(str(e))
        refused = re.search(r"WeightsUnpickler error: ([^\n]+)", str(e))
        if m is None and refused is None:  # not a refusal: a damaged or foreign file
            from .loader import describe_unreadable

            raise CheckpointError(describe_unreadable(path, e)) from None
        if m is not None:
            global_name = m.group(1)
            if "." not in global_name:  # torch names builtins without their module
                global_name = f"builtins.{global_name}"
        else:  # refused for another reason (e.g. a BUILD of a type not allowlisted)
            global_name = refused.group(1).strip()[:200]
    except Exception as e:  # noqa: BLE001  the unpickler's errors on a foreign file vary
        # (KeyError: 101 for text, IndexError, EOFError, BadZipFile, RuntimeError ...)
        from .loader import describe_unreadable

        raise CheckpointError(describe_unreadable(path, e)) from None
    if not trust:
        raise _refusal(path, global_name, "it is not in the allowlist of the weights_only "
                       "reader", trust_option) from None
    _warn_trusted(path, global_name, trust_option)
    try:
        # Only here, behind the user's explicit opt-in (trust=True) for this file.
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(e).__name__}: {e})") from None
    return ReadResult(obj, True, "torch.load(weights_only=False)")


def _read_pickle(path: str, trust: bool, trust_option: str) -> ReadResult:
    def load(unpickler_cls):
        with open(path, "rb") as f:
            return unpickler_cls(f, encoding="latin1").load()

    try:
        return ReadResult(load(RestrictedUnpickler), False, "restricted unpickler")
    except _GlobalRefused as e:
        global_name = e.global_name
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError,
            TypeError, IndexError, KeyError, MemoryError) as e:
        raise CheckpointError(
            f"{path}: truncated or not a pickled checkpoint ({type(e).__name__}: {e})") from None
    if not trust:
        raise _refusal(path, global_name, "a .pkl checkpoint may hold numpy arrays and plain "
                       "containers only", trust_option) from None
    _warn_trusted(path, global_name, trust_option)
    try:
        # Only here, behind the user's explicit opt-in (trust=True) for this file.
        return ReadResult(load(pickle.Unpickler), True, "pickle.load")
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(
            f"{path}: truncated or not a pickled checkpoint ({type(e).__name__}: {e})") from None


def read_file(path, trust: bool = False, trust_option: str = TRUST_OPTION) -> ReadResult:
    """Read any checkpoint file by its kind, without running code from it.

    ``trust``: the user's opt-in for a file that needs more than the allowlist (read with
    the full unpickler, with one warning line; ``ReadResult.trusted_pickle`` True).
    ``trust_option``: how the user spells the opt-in, named in the refusal.
    Raises :class:`UnsafeCheckpointError` (a :class:`CheckpointError`) for a refused file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file {path!r} does not exist")
    if path.endswith(".safetensors"):
        return ReadResult(_read_safetensors(path), False, "safetensors")
    if path.endswith(".pkl"):
        return _read_pickle(path, trust, trust_option)
    return _read_torch(path, trust, trust_option)


def json_safe(value: Any, _depth: int = 0) -> Tuple[bool, Any]:
    """``(True, value as JSON)`` for numbers, strings, lists/dicts of them, a Namespace
    (as its dict) and numpy scalars; ``(False, None)`` for anything else (tensors too)."""
    if _depth > 20:
        return False, None
    if value is None or isinstance(value, (bool, int, float, str)):
        return True, value
    if isinstance(value, np.generic):
        return True, value.item()
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            ok, j = json_safe(v, _depth + 1)
            if not ok or not isinstance(k, (str, int)):
                return False, None
            out[str(k)] = j
        return True, out
    if isinstance(value, (list, tuple)):
        out_list = []
        for v in value:
            ok, j = json_safe(v, _depth + 1)
            if not ok:
                return False, None
            out_list.append(j)
        return True, out_list
    return False, None


def describe_wrapper(raw: Dict[str, Any]) -> Optional[str]:
    """The key under which ``raw`` holds its tensors (``model``, ``state_dict``, ``module``,
    ``blobs``), "" for a bare state dict, None when there are no tensors."""
    for wrapper in ("model", "state_dict", "module", "blobs"):
        inner = raw.get(wrapper)
        if isinstance(inner, dict) and any(torch.is_tensor(v) or isinstance(v, np.ndarray)
                                           for v in inner.values()):
            return wrapper
    if any(torch.is_tensor(v) or isinstance(v, np.ndarray) for v in raw.values()):
        return ""
    return None

"""Convert any supported checkpoint file to safetensors, once, for good.

The tensors the loaders use (the wrapper's: ``model``, ``state_dict``, ``module``, ``blobs``,
or the bare state dict) are written as safetensors; the wrapper's name and the top-level
entries that are plain data (numbers, strings, lists, dicts, an ``argparse.Namespace`` as
its dict) go into the file's metadata as JSON. :func:`.safe_load.read_file` rebuilds the
same dict from it, so the result is detected as the same format and loads with the same
report and bit-identical tensors. Entries that are neither (an optimizer state holding
tensors, ...) are training state the loaders never read: they are left out and listed in
the metadata (``vitdet_bench.dropped``) and in the summary.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import List

import torch

from .loader import read_checkpoint_result
from .report import CheckpointError
from .safe_load import (SAFETENSORS_EXTRA_KEY, SAFETENSORS_ORDER_KEY, SAFETENSORS_WRAPPER_KEY,
                        TRUST_OPTION,
                        describe_wrapper, json_safe)

__all__ = ["ConversionSummary", "convert_to_safetensors", "DROPPED_KEY"]

DROPPED_KEY = "vitdet_bench.dropped"
SOURCE_KEY = "vitdet_bench.source"


@dataclass
class ConversionSummary:
    source: str
    output: str
    wrapper: str
    tensors: int
    kept: List[str] = field(default_factory=list)     # top-level entries kept as JSON metadata
    dropped: List[str] = field(default_factory=list)  # entries left out (training state)
    trusted_pickle: bool = False

    def __str__(self) -> str:
        where = f"under {self.wrapper!r}" if self.wrapper else "(a bare state dict)"
        lines = [f"{self.source} -> {self.output}: {self.tensors} tensors {where}"]
        if self.kept:
            lines.append(f"  kept as JSON metadata: {', '.join(self.kept)}")
        if self.dropped:
            lines.append(f"  left out (not read by the loaders): {', '.join(self.dropped)}")
        if self.trusted_pickle:
            lines.append("  read with the full unpickler (--trust-checkpoint)")
        return "\n".join(lines)


def convert_to_safetensors(source, output, trust: bool = False,
                           trust_option: str = TRUST_OPTION) -> ConversionSummary:
    """Write ``source`` (any file the loaders read) as the safetensors file ``output``."""
    from safetensors.torch import save

    from ..utils.io import atomic_write_bytes

    source, output = os.fspath(source), os.fspath(output)
    if not output.endswith(".safetensors"):
        raise CheckpointError(f"{output}: the output must be a .safetensors file")
    if os.path.abspath(source) == os.path.abspath(output):
        raise CheckpointError(f"{output}: the output must not be the input file")
    read = read_checkpoint_result(source, trust=trust, trust_option=trust_option)
    raw = read.obj
    wrapper = describe_wrapper(raw)
    if wrapper is None:
        raise CheckpointError(f"{source}: no tensors found (top-level keys: "
                              f"{sorted(map(str, raw))[:10]}); nothing to convert")
    inner = raw[wrapper] if wrapper else raw
    tensors, dropped, kept, extra = {}, [], [], {}
    for key, value in inner.items():
        if torch.is_tensor(value) and isinstance(key, str):
            # clone: safetensors refuses tensors that share storage (tied weights)
            tensors[key] = value.detach().clone().contiguous()
        elif wrapper:
            dropped.append(f"{wrapper}.{key}")
        else:
            ok, as_json = json_safe(value)
            if ok and isinstance(key, str):
                extra[key] = as_json
                kept.append(key)
            else:
                dropped.append(str(key))
    if wrapper:
        for key, value in raw.items():
            if key == wrapper:
                continue
            ok, as_json = json_safe(value)
            if ok and isinstance(key, str):
                extra[key] = as_json
                kept.append(key)
            else:
                dropped.append(str(key))
    metadata = {SAFETENSORS_WRAPPER_KEY: wrapper, SAFETENSORS_EXTRA_KEY: json.dumps(extra),
                SAFETENSORS_ORDER_KEY: json.dumps(list(tensors)),
                DROPPED_KEY: json.dumps(dropped), SOURCE_KEY: os.path.basename(source)}
    atomic_write_bytes(output, save(tensors, metadata=metadata))
    return ConversionSummary(source, output, wrapper, len(tensors), kept, dropped,
                             read.trusted_pickle)

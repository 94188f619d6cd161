"""The public ConvMAE pre-training checkpoint format (Alpha-VL/ConvMAE).

Layout (``models_convmae.py``, ``torch.save({'model': model.state_dict(), ...})``):

* encoder: ``patch_embed{1,2,3}.{proj,norm}.*``, ``patch_embed4.*`` (Linear),
  ``blocks1.*``/``blocks2.*`` (conv blocks), ``blocks3.*`` (transformer blocks),
  ``pos_embed`` ``(1, 196, C3)`` (fixed 2-D sin-cos at 224, 14x14 grid), ``norm.*``;
* pre-training only (ignored): ``stage1_output_decode.*``, ``stage2_output_decode.*``,
  ``mask_token``, ``decoder_*`` and the encoder's final ``norm.*`` (detection uses E3
  without it, as ``ConvViTDet`` sets ``self.norm = None``).

Fine-tuned classification checkpoints (``models_convvit.py``) have the same encoder
keys plus ``head.*``/``fc_norm.*`` (ignored). A BEiT-style
``rel_pos_bias.relative_position_bias_table`` (with 3 class-token rows), if present,
is resized into both shared tables as Alpha-VL's ``ConvViTDet`` does.

Position embeddings are resized (bicubic) to the detection grid; relative tables the
checkpoint lacks are initialized (zero). Registered with
``vitdet_bench.checkpoint.register_format("convmae", ...)`` when that module exists;
otherwise :func:`load_convmae_checkpoint` runs standalone with the same report shape.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
import torch.nn as nn

from vitdet_bench.layers.attention import resize_abs_pos_embed, resize_rel_pos_table

try:  # the shared loader machinery (written concurrently)
    from vitdet_bench.checkpoint import CheckpointError, LoadReport  # type: ignore
except Exception:  # pragma: no cover - depends on the tree
    class CheckpointError(ValueError):
        """A checkpoint that cannot be loaded into the target model."""

    @dataclass
    class LoadReport:  # same fields as vitdet_bench.checkpoint.LoadReport
        loaded: List[str] = field(default_factory=list)
        resized: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
        initialized: List[Tuple[str, str]] = field(default_factory=list)
        ignored: List[Tuple[str, str]] = field(default_factory=list)
        unexpected: List[str] = field(default_factory=list)

__all__ = ["FORMAT_NAME", "detect_convmae", "convert_convmae", "load_convmae_checkpoint",
           "register", "CheckpointError", "LoadReport", "IGNORE_RULES"]

FORMAT_NAME = "convmae"

# (key prefix, rule) of pre-training-only keys.
IGNORE_RULES = (
    ("decoder_", "MAE decoder (pre-training only)"),
    ("mask_token", "MAE mask token (pre-training only)"),
    ("stage1_output_decode.", "multi-scale decoder projection (pre-training only)"),
    ("stage2_output_decode.", "multi-scale decoder projection (pre-training only)"),
    ("norm.", "encoder final norm (unused by ConvViTDet)"),
    ("fc_norm.", "classification head"),
    ("head.", "classification head"),
)
_REL_TABLE = "rel_pos_bias.relative_position_bias_table"


def _state_dict(raw) -> Dict[str, torch.Tensor]:
    if not isinstance(raw, dict):
        raise CheckpointError(f"checkpoint is a {type(raw).__name__}, not a dict")
    for k in ("model", "state_dict"):
        if isinstance(raw.get(k), dict):
            raw = raw[k]
            break
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in raw.items()}


def detect_convmae(raw) -> bool:
    """A ConvMAE encoder checkpoint: three conv patch embeddings, ``patch_embed4`` and ``blocks3``."""
    try:
        sd = _state_dict(raw)
    except CheckpointError:
        return False
    return ("patch_embed1.proj.weight" in sd and "patch_embed4.weight" in sd
            and any(k.startswith("blocks3.") for k in sd))


def _find_convmae(net: nn.Module) -> Tuple[str, nn.Module]:
    from .backbone import ConvMAE

    for name, m in net.named_modules():
        if isinstance(m, ConvMAE):
            return (name + "." if name else ""), m
    raise CheckpointError(f"the target {type(net).__name__} contains no ConvMAE backbone")


def _grid_pos_embed(pe: torch.Tensor, key: str) -> torch.Tensor:
    if pe.dim() == 4:
        return pe
    n = pe.shape[1]
    side = math.isqrt(n)
    if side * side != n:
        side = math.isqrt(n - 1)
        if side * side != n - 1:
            raise CheckpointError(f"{key}: {n} positions are not a square grid (with or without a class token)")
        pe = pe[:, 1:]
    return pe.reshape(1, side, side, pe.shape[-1])


def convert_convmae(state_dict, net: nn.Module, report: LoadReport) -> Dict[str, torch.Tensor]:
    """ConvMAE checkpoint -> ``net``'s key space (the ConvMAE inside ``net``, prefixed)."""
    sd = _state_dict(state_dict)
    prefix, cm = _find_convmae(net)
    target = cm.state_dict()
    out: Dict[str, torch.Tensor] = {}
    consumed = set()
    mismatched, missing = [], []
    for k, t in target.items():
        if k.endswith("relative_position_index"):
            continue
        full = prefix + k
        if k == "pos_embed":
            if k not in sd:
                missing.append(k)
                continue
            src = _grid_pos_embed(sd[k], k)
            if src.shape[-1] != t.shape[-1]:
                mismatched.append(f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(t.shape)}")
                continue
            new = resize_abs_pos_embed(src, tuple(t.shape[1:3])).to(t.dtype)
            out[full] = new
            consumed.add(k)
            if tuple(sd[k].shape) != tuple(t.shape):
                report.resized.append((full, tuple(sd[k].shape), tuple(t.shape)))
            else:
                report.loaded.append(full)
            continue
        if k.endswith("rel_pos_bias.relative_position_bias_table"):
            if _REL_TABLE in sd:
                src = sd[_REL_TABLE]
                if src.shape[1] != t.shape[1]:
                    mismatched.append(f"{_REL_TABLE}: {src.shape[1]} heads vs model {t.shape[1]}")
                    continue
                src = src[:-3] if int(math.isqrt(src.shape[0] - 3)) ** 2 == src.shape[0] - 3 else src
                s = (math.isqrt(src.shape[0]) + 1) // 2
                mod = cm.get_submodule(k.rsplit(".", 1)[0])
                out[full] = resize_rel_pos_table(src, (s, s), mod.size).to(t.dtype)
                consumed.add(_REL_TABLE)
                report.resized.append((full, tuple(sd[_REL_TABLE].shape), tuple(t.shape)))
            else:
                report.initialized.append((full, "zero (the checkpoint has no relative positions)"))
            continue
        if k.endswith(".rel_pos_h") or k.endswith(".rel_pos_w"):
            if k in sd and sd[k].shape == t.shape:
                out[full] = sd[k]
                consumed.add(k)
                report.loaded.append(full)
            else:
                report.initialized.append((full, "zero (decomposed relative positions are new)"))
            continue
        if k not in sd:
            missing.append(k)
            continue
        if tuple(sd[k].shape) != tuple(t.shape):
            mismatched.append(f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(t.shape)}")
            continue
        out[full] = sd[k]
        consumed.add(k)
        report.loaded.append(full)
    if mismatched or missing:
        lines = []
        if mismatched:
            lines.append(f"{len(mismatched)} shape mismatch(es): " + "; ".join(mismatched[:8]))
        if missing:
            lines.append(f"{len(missing)} key(s) missing from the checkpoint: " + ", ".join(missing[:8]))
        raise CheckpointError(
            "ConvMAE checkpoint does not fit this ConvMAE backbone (another model size?): "
            + " | ".join(lines))
    for k in sd:
        if k in consumed:
            continue
        rule = next((r for p, r in IGNORE_RULES if k.startswith(p)), None)
        if rule is not None:
            report.ignored.append((k, rule))
        else:
            report.unexpected.append(k)
    return out


def load_convmae_checkpoint(model_or_net: nn.Module, path: str) -> LoadReport:
    """Load a ConvMAE checkpoint; through ``vitdet_bench.checkpoint`` when it exists."""
    try:
        from vitdet_bench.checkpoint import load_pretrained  # type: ignore
    except Exception:
        load_pretrained = None
    if load_pretrained is not None:
        return load_pretrained(model_or_net, path, format=FORMAT_NAME)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # truncated / not a torch file
        raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint ({type(e).__name__}: {e})") from e
    if not detect_convmae(raw):
        raise CheckpointError(f"{path}: not a ConvMAE checkpoint (no patch_embed1/patch_embed4/blocks3 keys)")
    report = LoadReport()
    sd = convert_convmae(raw, model_or_net, report)
    model_or_net.load_state_dict(sd, strict=False)
    return report


def register() -> bool:
    """Register the format with the shared machinery; False if it has not landed."""
    try:
        from vitdet_bench.checkpoint import register_format  # type: ignore
    except Exception:
        return False
    try:
        register_format(FORMAT_NAME, detect_convmae, convert_convmae)
    except Exception:  # already registered (module reloaded)
        pass
    return True

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
``vitdet_bench.checkpoint.register_format("convmae", ...)`` on ``import convmae``, so
``load_pretrained(model, path)`` (auto-detected) and ``train.init_format="convmae"``
go through the same loader, report and errors as the ViT formats.
"""
from __future__ import annotations

import math
from typing import Dict, Tuple

import torch
import torch.nn as nn

from vitdet_bench.checkpoint import CheckpointError, LoadReport, load_pretrained, register_format
from vitdet_bench.checkpoint.formats import match_rule, model_state_dict, pos_embed_to_grid

__all__ = ["FORMAT_NAME", "detect_convmae", "convert_convmae", "load_convmae_checkpoint",
           "register", "find_convmae", "CheckpointError", "LoadReport", "IGNORE_RULES"]

FORMAT_NAME = "convmae"

# (regex on the checkpoint key, rule) of pre-training-only keys; first match wins.
IGNORE_RULES = (
    (r"^decoder_", "MAE decoder (pre-training only)"),
    (r"^mask_token", "MAE mask token (pre-training only)"),
    (r"^stage1_output_decode\.", "multi-scale decoder projection (pre-training only)"),
    (r"^stage2_output_decode\.", "multi-scale decoder projection (pre-training only)"),
    (r"^norm\.", "encoder final norm (unused by ConvViTDet)"),
    (r"^fc_norm\.", "classification head"),
    (r"^head\.", "classification head"),
)
_REL_TABLE = "rel_pos_bias.relative_position_bias_table"


def detect_convmae(raw) -> bool:
    """A ConvMAE encoder checkpoint: three conv patch embeddings, ``patch_embed4`` and ``blocks3``."""
    try:
        sd = model_state_dict(raw)
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


def find_convmae(model: nn.Module):
    """The first :class:`ConvMAE` inside ``model`` (the loader's ``find_net``)."""
    return _find_convmae(model)[1]


def convert_convmae(state_dict, net: nn.Module, report: LoadReport) -> Dict[str, torch.Tensor]:
    """ConvMAE checkpoint tensors -> ``net``'s key space (``net`` a ConvMAE, or a model holding one).

    Keys keep their names (the backbone mirrors the public layout); ``pos_embed`` is
    returned as a ``(1, h, w, C)`` grid (the loader resizes it to the detection grid
    and reports it); a BEiT-style shared table, if present, goes to both shared
    tables (class-token rows dropped). Pre-training-only keys are reported as
    ignored; anything else is passed through so the loader reports it as unexpected.
    """
    sd = model_state_dict(state_dict, report.path)
    prefix, cm = _find_convmae(net)
    target = cm.state_dict()
    out: Dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if k == "pos_embed":
            out[prefix + k] = pos_embed_to_grid(v, k, report)
        elif k == _REL_TABLE:
            rows = v.shape[0]
            if math.isqrt(rows - 3) ** 2 == rows - 3:
                v = v[:-3]
            for name in ("window_rel_pos_bias", "global_rel_pos_bias"):
                if f"{name}.relative_position_bias_table" in target:
                    out[f"{prefix}{name}.relative_position_bias_table"] = v
        elif k in target:
            out[prefix + k] = v
        else:
            rule = match_rule(k, IGNORE_RULES)
            if rule is not None:
                report.ignored.append((k, rule))
            else:
                out[prefix + k] = v  # the loader reports it as unexpected
    return out


def load_convmae_checkpoint(model_or_net: nn.Module, path: str, format: str = FORMAT_NAME,
                            strict_architecture: bool = True) -> LoadReport:
    """``vitdet_bench.checkpoint.load_pretrained`` with the ConvMAE format."""
    register()
    return load_pretrained(model_or_net, path, format=format, strict_architecture=strict_architecture)


def register() -> None:
    """Register the format with the shared loader (auto-detection tries it first)."""
    register_format(FORMAT_NAME, detect_convmae, convert_convmae, find_net=find_convmae)

"""The released ConvMAE detector (Alpha-VL/ConvMAE ``DET/``, design 1), loaded whole.

``convmae_det``: ``{"model": state_dict}`` of ``FPN(bottom_up=ConvViTDet)`` whose ConvMAE
keys equal ours but for the shared window table, ``windowed_rel_pos_bias`` (ours
``window_rel_pos_bias``), the absolute embedding, stored flat at the detection grid
``(1, 64*64, C)`` (ours a ``(1, 64, 64, C)`` map), and the tables'
``relative_position_index`` buffers (recomputed by the model).

Registered on ``import convmae`` as a released whole-detector format
(``whole_detector=True``): auto-detected by :func:`vitdet_bench.checkpoint.load_pretrained`,
evaluated with ``--eval-only``, skipped by the frozen-backbone protocol's trunk search.
Every tensor of the file must land in the model or be reported as ignored with its rule.
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn as nn

from vitdet_bench.checkpoint import LoadReport, register_format
from vitdet_bench.checkpoint.formats import pos_embed_to_grid
from vitdet_bench.checkpoint.released import find_detector, model_dict

__all__ = ["CONVMAE_DET", "detect_convmae_det", "convert_convmae_det", "register_released"]

CONVMAE_DET = "convmae_det"


def detect_convmae_det(raw: dict) -> bool:
    sd = model_dict(raw)
    return (sd is not None and "backbone.bottom_up.patch_embed1.proj.weight" in sd
            and any(k.startswith("backbone.bottom_up.blocks3.") for k in sd)
            and any(k.startswith("roi_heads.") for k in sd))


def convert_convmae_det(state_dict, net: nn.Module, report: LoadReport) -> Dict[str, torch.Tensor]:
    """Alpha-VL ConvMAE detector -> our ConvMAE design-1 detector's key space."""
    target = net.state_dict()
    out = {}
    for key, value in state_dict.items():
        if key.endswith("relative_position_index"):
            report.ignored.append((key, "index buffer: recomputed by the model"))
            continue
        ours = key.replace(".windowed_rel_pos_bias.", ".window_rel_pos_bias.")
        if ours.endswith(".pos_embed") and value.dim() == 3 and ours in target \
                and target[ours].dim() == 4:
            value = pos_embed_to_grid(value, key, report)  # flat square grid -> (1, h, w, C)
        out[ours] = value
    return out


def register_released() -> None:
    """Register ``convmae_det`` with the shared loader (a whole-detector format)."""
    register_format(CONVMAE_DET, detect_convmae_det, convert_convmae_det, find_net=find_detector,
                    whole_detector=True)

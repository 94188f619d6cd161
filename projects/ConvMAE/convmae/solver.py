"""Layer-wise lr decay for ConvMAE (Official-ConvMAE-Det ``get_vit_lr_decay_rate``).

Layer ids: patch embeddings, stages 1-2 (``blocks1``/``blocks2``), ``pos_embed`` and
shared relative tables -> 0; ``blocks3.<i>`` -> i + 1; everything else (neck,
heads) -> num_layers + 1. lr = base_lr * decay ** (num_layers + 1 - layer_id).
Weight decay follows ``vitdet_bench.solver.get_param_groups``.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional

import torch.nn as nn

__all__ = ["convmae_layer_id", "get_convmae_param_groups"]

_B3 = re.compile(r"(?:^|\.)blocks3\.(\d+)\.")
_ZERO = ("patch_embed", "blocks1", "blocks2", "pos_embed", "window_rel_pos_bias", "global_rel_pos_bias")


def convmae_layer_id(name: str, num_layers: int, backbone_prefix: str = "backbone.") -> int:
    if backbone_prefix and not name.startswith(backbone_prefix):
        return num_layers + 1
    m = _B3.search(name)
    if m:
        return int(m.group(1)) + 1
    parts = name.split(".")
    if any(p.startswith(tok) for p in parts for tok in _ZERO):
        return 0
    return num_layers + 1


def get_convmae_param_groups(model: nn.Module, base_lr: float, weight_decay: float,
                             layer_decay: float = 1.0, num_layers: int = 11,
                             backbone_prefix: str = "backbone.",
                             no_weight_decay_names: Iterable[str] = (
                                 "pos_embed", "relative_position_bias_table", "rel_pos_h",
                                 "rel_pos_w"),
                             weight_decay_norm: Optional[float] = 0.0,
                             weight_decay_bias: Optional[float] = 0.0) -> List[Dict[str, Any]]:
    """``vitdet_bench.solver.get_param_groups`` with ConvMAE's layer ids."""
    from vitdet_bench.solver import get_param_groups

    return get_param_groups(model, base_lr, weight_decay, layer_decay=layer_decay,
                            num_layers=num_layers, backbone_prefix=backbone_prefix,
                            no_weight_decay_names=no_weight_decay_names,
                            weight_decay_norm=weight_decay_norm,
                            weight_decay_bias=weight_decay_bias, layer_id_fn=convmae_layer_id)

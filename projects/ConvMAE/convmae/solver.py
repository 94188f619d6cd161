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
    """Same contract as ``vitdet_bench.solver.get_param_groups`` with ConvMAE layer ids."""
    if model is None:
        raise ValueError("get_convmae_param_groups: model is None; set optimizer.params.model")
    from vitdet_bench.solver.param_groups import _is_norm_module

    wd_norm = weight_decay if weight_decay_norm is None else weight_decay_norm
    wd_bias = weight_decay if weight_decay_bias is None else weight_decay_bias
    no_wd = tuple(no_weight_decay_names)
    seen, groups, order = set(), {}, []
    for mname, module in model.named_modules():
        is_norm = _is_norm_module(module)
        for pname, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            full = f"{mname}.{pname}" if mname else pname
            lid = convmae_layer_id(full, num_layers, backbone_prefix)
            scale = layer_decay ** (num_layers + 1 - lid)
            comps = full.split(".")
            if any(c.startswith(t) for t in no_wd for c in comps):
                wd = 0.0
            elif is_norm:
                wd = wd_norm
            elif pname == "bias":
                wd = wd_bias
            else:
                wd = weight_decay
            key = (base_lr * scale, wd)
            if key not in groups:
                groups[key] = {"params": [], "lr": key[0], "weight_decay": wd, "lr_scale": scale,
                               "layer_ids": set()}
                order.append(key)
            groups[key]["params"].append(p)
            groups[key]["layer_ids"].add(lid)
    out = []
    for k in order:
        groups[k]["layer_ids"] = sorted(groups[k]["layer_ids"])
        out.append(groups[k])
    return out

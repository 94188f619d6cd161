"""Layer-wise lr decay for iTPN / HiViT, in two numberings.

lr = base_lr * decay ** (num_layers + 1 - layer_id) with ``num_layers`` = the non-merge
trunk blocks (30 for B: 3 + 3 + 24; 44 for L: 2 + 2 + 40), as the official configs say.

``layer_ids="blocks"`` (default, our decision): stem (``patch_embed``) and
``absolute_pos_embed`` -> 0; the k-th non-merge trunk block (k = 1..num_layers) -> k; a merge
module shares the id of the block before it; pyramid and heads -> num_layers + 1 (full lr).
The top block gets ``decay ** 1`` and the decay runs over exactly ``num_layers`` blocks.

``layer_ids="official"``: the official configs' ``LayerDecayOptimizerConstructor`` (BEiT's
constructor, which iTPN's ``mmcv_custom`` ships) numbers ``backbone.blocks.{i}`` as i + 1 with
``i`` counting the two merge modules, ``backbone.patch_embed`` as 0 and everything else,
``absolute_pos_embed`` included (its name list holds only ``pos_embed``/``cls_token``/
``mask_token``), as num_layers + 1. With num_layers = 30 but 32 modules in ``blocks``, blocks
30 and 31 get ids 31 and 32: lr scales 1.0 and 1/0.9 = 1.11 (L: 1/0.95 = 1.05).

Weight decay is the same in both: none on biases, norms, position embeddings, layer
scale and relative-position tables (``vitdet_bench.solver.get_param_groups``).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

import torch.nn as nn

__all__ = ["LAYER_ID_SCHEMES", "itpn_layer_id", "get_itpn_param_groups"]

LAYER_ID_SCHEMES = ("blocks", "official")
_BLOCK = re.compile(r"(?:^|\.)blocks\.(\d+)\.")


def _find_itpn(model: nn.Module):
    from .backbone import ITPN

    for name, m in model.named_modules():
        if isinstance(m, ITPN):
            return (name + "." if name else ""), m
    raise ValueError(f"get_itpn_param_groups: {type(model).__name__} contains no ITPN backbone")


def itpn_layer_id(name: str, num_layers: int, net_prefix: str = "backbone.", merge_indexes=(3, 7),
                  scheme: str = "blocks") -> int:
    """Layer id of parameter ``name`` (full name in the model); ``net_prefix`` locates the ITPN."""
    if scheme not in LAYER_ID_SCHEMES:
        raise ValueError(f"iTPN layer_ids must be one of {LAYER_ID_SCHEMES}, got {scheme!r}")
    if not name.startswith(net_prefix):
        return num_layers + 1
    sub = name[len(net_prefix):]
    m = _BLOCK.match(sub)
    if m:
        i = int(m.group(1))
        if scheme == "official":
            return i + 1
        return i + 1 - sum(1 for j in merge_indexes if j <= i)  # a merge shares the block before it
    if sub.startswith("patch_embed."):
        return 0
    if sub == "absolute_pos_embed":
        return 0 if scheme == "blocks" else num_layers + 1
    return num_layers + 1


def get_itpn_param_groups(model: nn.Module, base_lr: float, weight_decay: float,
                          layer_decay: float = 0.9, num_layers: Optional[int] = None,
                          layer_ids: str = "blocks",
                          weight_decay_norm: Optional[float] = 0.0,
                          weight_decay_bias: Optional[float] = 0.0) -> List[Dict[str, Any]]:
    """``vitdet_bench.solver.get_param_groups`` with iTPN's layer ids (see the module doc).

    ``num_layers`` defaults to the model's non-merge trunk blocks (30 / 44 / 24 for HiViT-B).
    Frozen parameters (``requires_grad=False``) are left out, as by the library builder.
    """
    from vitdet_bench.solver import get_param_groups

    if model is None:
        raise ValueError("get_itpn_param_groups: model is None; set optimizer.params.model = model "
                         "before instantiating the optimizer")
    if layer_ids not in LAYER_ID_SCHEMES:
        raise ValueError(f"iTPN layer_ids must be one of {LAYER_ID_SCHEMES}, got {layer_ids!r}")
    prefix, net = _find_itpn(model)
    n = net.num_layers if num_layers is None else int(num_layers)
    merges = net.merge_indexes

    def layer_id(name, num, _prefix):
        return itpn_layer_id(name, num, prefix, merges, layer_ids)

    return get_param_groups(model, base_lr, weight_decay, layer_decay=layer_decay, num_layers=n,
                            backbone_prefix=prefix,
                            no_weight_decay_names=("absolute_pos_embed", "relative_position_bias_table",
                                                   "rel_pos_h", "rel_pos_w", "gamma"),
                            weight_decay_norm=weight_decay_norm, weight_decay_bias=weight_decay_bias,
                            layer_id_fn=layer_id)

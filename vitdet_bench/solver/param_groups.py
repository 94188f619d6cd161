"""Parameter groups with layer-wise learning-rate decay (BEiT / ViTDet convention).

detectron2 main has ``get_default_optimizer_params(lr_factor_func=...)``; 0.6 does not,
so the grouping is done here, independently of the detectron2 version.

Layer ids (for a ViT with ``num_layers`` blocks living under ``backbone_prefix``):

* ``pos_embed``, ``patch_embed``, ``cls_token``, ``reg_token``, the shared relative-position
  tables (``window_rel_pos_bias`` / ``global_rel_pos_bias`` / ``rel_pos_bias``) and the
  pre-block norm of CLIP-style trunks (``norm_pre``) -> 0
* ``blocks.<i>.`` -> ``i + 1``
* everything else (the ViT's final norm, simple-FPN neck, FPN, RPN, ROI heads) ->
  ``num_layers + 1`` (lr factor 1.0)

lr = base_lr * layer_decay ** (num_layers + 1 - layer_id).
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch.nn as nn

__all__ = ["get_layer_id", "get_param_groups", "NORM_TYPES", "TORCH_NORM_TYPES"]

_BLOCK_RE = re.compile(r"(?:^|\.)blocks\.(\d+)\.")
_LAYER0_TOKENS = ("pos_embed", "patch_embed", "cls_token", "window_rel_pos_bias",
                  "global_rel_pos_bias", "rel_pos_bias", "reg_token", "norm_pre")


def _norm_types() -> Tuple[type, ...]:
    types = [nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm,
             nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LayerNorm,
             nn.LocalResponseNorm]
    try:
        from vitdet_bench.layers.norm import LayerNorm2d

        types.append(LayerNorm2d)
    except Exception:  # pragma: no cover
        pass
    try:
        from detectron2.layers import FrozenBatchNorm2d, LayerNorm as D2LayerNorm

        types.extend([FrozenBatchNorm2d, D2LayerNorm])
    except Exception:
        try:
            from detectron2.layers import FrozenBatchNorm2d

            types.append(FrozenBatchNorm2d)
        except Exception:  # pragma: no cover
            pass
    return tuple(types)


NORM_TYPES = _norm_types()


def get_layer_id(name: str, num_layers: int, backbone_prefix: str = "backbone.") -> int:
    """Layer id of parameter ``name`` (full name in the model)."""
    if backbone_prefix and not name.startswith(backbone_prefix):
        return num_layers + 1
    sub = name[len(backbone_prefix):] if backbone_prefix else name
    m = _BLOCK_RE.search(sub)
    if m:
        return int(m.group(1)) + 1
    parts = sub.split(".")
    if any(tok in parts or any(p.startswith(tok) for p in parts) for tok in _LAYER0_TOKENS):
        return 0
    return num_layers + 1


# The norms detectron2's ``get_default_optimizer_params`` recognises: torch.nn's only, so
# detectron2's own channel ``LayerNorm`` ("LN" in ViTDet's pyramid and heads) is decayed
# there like any weight.
TORCH_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
                    nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
                    nn.LayerNorm, nn.LocalResponseNorm)


def _is_norm_module(module: nn.Module, norm_types: str = "all") -> bool:
    if norm_types == "torch":
        return isinstance(module, TORCH_NORM_TYPES)
    if isinstance(module, NORM_TYPES):
        return True
    cls = type(module).__name__.lower()
    return "norm" in cls and not list(module.children())


def get_param_groups(model: nn.Module, base_lr: float, weight_decay: float,
                     layer_decay: float = 1.0, num_layers: int = 12,
                     backbone_prefix: str = "backbone.",
                     no_weight_decay_names: Iterable[str] = (
                         "pos_embed", "relative_position_bias_table", "rel_pos_h", "rel_pos_w",
                         "cls_token", "gamma"),
                     weight_decay_norm: Optional[float] = 0.0,
                     weight_decay_bias: Optional[float] = 0.0,
                     layer_id_fn=None,
                     norm_types: str = "all",
                     ) -> List[Dict[str, Any]]:
    """Optimizer param groups with layer-wise lr decay and per-kind weight decay.

    Every trainable parameter appears in exactly one group (shared parameters once).
    Groups with the same (lr, weight_decay) are merged. Each group carries ``lr``,
    ``weight_decay``, ``lr_scale`` (lr / base_lr) and ``layer_ids`` (for inspection;
    torch optimizers keep extra keys untouched).

    ``weight_decay_norm`` / ``weight_decay_bias`` of None mean "use ``weight_decay``".
    A parameter whose name contains a ``no_weight_decay_names`` token (as a name
    component, e.g. ``blocks.0.gamma_1`` matches ``gamma`` as prefix of a component)
    gets weight decay 0.

    ``layer_id_fn(name, num_layers, backbone_prefix) -> int`` replaces the ViT layer
    numbering (:func:`get_layer_id`) for other backbone families (e.g. ConvMAE).

    ``norm_types``: which modules ``weight_decay_norm`` applies to: "all" (every norm,
    channel LayerNorms included) or "torch" (torch.nn's norms only, as detectron2's
    ``get_default_optimizer_params`` that ViTDet's configs use).
    """
    if norm_types not in ("all", "torch"):
        raise ValueError(f"get_param_groups: norm_types must be 'all' or 'torch', got {norm_types!r}")
    if model is None:
        raise ValueError("get_param_groups: model is None; set optimizer.params.model = model "
                         "before instantiating the optimizer")
    wd_norm = weight_decay if weight_decay_norm is None else weight_decay_norm
    wd_bias = weight_decay if weight_decay_bias is None else weight_decay_bias
    no_wd = tuple(no_weight_decay_names)

    seen = set()
    groups: Dict[Tuple[float, float], Dict[str, Any]] = {}
    order: List[Tuple[float, float]] = []
    for module_name, module in model.named_modules():
        is_norm = _is_norm_module(module, norm_types)
        for pname, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            full = f"{module_name}.{pname}" if module_name else pname
            layer_id = (layer_id_fn or get_layer_id)(full, num_layers, backbone_prefix)
            scale = layer_decay ** (num_layers + 1 - layer_id)
            comps = full.split(".")
            if any(c == tok or c.startswith(tok) for tok in no_wd for c in comps):
                wd = 0.0
            elif is_norm:
                wd = wd_norm
            elif pname == "bias":
                wd = wd_bias
            else:
                wd = weight_decay
            lr = base_lr * scale
            key = (lr, wd)
            if key not in groups:
                groups[key] = {"params": [], "lr": lr, "weight_decay": wd, "lr_scale": scale,
                               "layer_ids": set()}
                order.append(key)
            g = groups[key]
            g["params"].append(p)
            g["layer_ids"].add(layer_id)
    out = []
    for key in order:
        g = groups[key]
        g["layer_ids"] = sorted(g["layer_ids"])
        out.append(g)
    return out

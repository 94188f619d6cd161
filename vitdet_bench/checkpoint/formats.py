"""The five built-in initializations: MAE, BEiT, MoCo v3, supervised (DeiT/timm), random.

Every converter maps a public checkpoint's tensors into the key space of
:class:`vitdet_bench.modeling.backbone.vit.ViT` and records in the report every
key it drops and why. Shapes are left as in the file (in the ViT's layout, e.g. the
absolute embedding as ``(1, h, w, C)``); :func:`apply_state_dict` resizes them.
"""
from __future__ import annotations

import math
import re
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .loader import register_format, unwrap_state_dict
from .report import CheckpointError, LoadReport

__all__ = ["ignore_rule", "match_rule", "model_state_dict", "convert_timm_vit", "convert_mae",
           "convert_supervised", "convert_mocov3", "convert_beit", "pos_embed_to_grid"]

# (regex on the checkpoint key, rule). First match wins.
_IGNORE_RULES = (
    (r"^(cls_token|dist_token|reg_token)$", "prefix token: the detection backbone has no class token"),
    (r"^(norm|fc_norm)\.", "final norm: the backbone's features are taken before it"),
    (r"^(head|head_dist)(\.|$)", "classifier / projection head"),
    (r"^decoder_|^decoder\.", "MAE decoder (pre-training only)"),
    (r"^mask_token$", "mask token (pre-training only)"),
    (r"^lm_head\.", "BEiT masked-image-modeling head (pre-training only)"),
    (r"relative_position_index$", "index buffer: recomputed by the model"),
    (r"^pre_logits\.", "pre-logits layer (classification only)"),
)


def match_rule(key: str, rules: Sequence[Tuple[str, str]]) -> Optional[str]:
    """The rule of the first ``(regex, rule)`` pair whose regex is found in ``key``, or None.

    Converters use it with their own tables of pre-training-only keys.
    """
    for pattern, rule in rules:
        if re.search(pattern, key):
            return rule
    return None


def ignore_rule(key: str) -> Optional[str]:
    """Why the ViT formats drop ``key`` (class token, heads, decoders ...), or None."""
    return match_rule(key, _IGNORE_RULES)


def model_state_dict(raw, path: str = "") -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint as a converter wants them: unwrapped from
    ``{'model': ...}`` and the like (:func:`~vitdet_bench.checkpoint.unwrap_state_dict`), with
    DistributedDataParallel's ``module.`` prefix stripped. Raises :class:`CheckpointError`
    for anything but a dict of tensors."""
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path or 'checkpoint'}: a {type(raw).__name__}, not a dict")
    return {(k[len("module."):] if k.startswith("module.") else k): v
            for k, v in unwrap_state_dict(raw, path).items()}


def pos_embed_to_grid(pos: torch.Tensor, key: str, report: LoadReport) -> torch.Tensor:
    """``(1, P + h*w, C)`` (P prefix tokens, e.g. cls) -> ``(1, h, w, C)``; the prefix
    positions are reported as ignored. The grid is assumed square."""
    if pos.dim() == 4:
        return pos
    if pos.dim() != 3:
        raise CheckpointError(f"{report.path}: {key} has shape {tuple(pos.shape)}, expected (1, N, C)")
    n = pos.shape[1]
    side = math.isqrt(n)
    prefix = n - side * side
    if prefix > 4:  # not "square grid + a few tokens"
        raise CheckpointError(f"{report.path}: {key} of length {n} is not a square grid plus prefix tokens")
    if prefix:
        report.ignored.append((f"{key}[:, :{prefix}]", "class-token position(s) of the absolute embedding"))
    return pos[:, prefix:].reshape(1, side, side, pos.shape[-1])


def convert_timm_vit(state_dict: Dict[str, torch.Tensor], net: nn.Module, report: LoadReport,
                     prefix: str = "", other_rule: str = "") -> Dict[str, torch.Tensor]:
    """timm/DeiT/MAE key layout -> ViT key space (keys identical but for the dropped ones)."""
    out = {}
    outside: Dict[str, int] = {}
    for key, value in state_dict.items():
        if prefix:
            if not key.startswith(prefix):
                # one report line per foreign module ("module.momentum_encoder.*": N tensors)
                head = ".".join(key.split(".")[:2]) if key.startswith("module.") else key.split(".")[0]
                outside[head] = outside.get(head, 0) + 1
                continue
            key = key[len(prefix):]
        rule = ignore_rule(key)
        if rule:
            report.ignored.append((prefix + key, rule))
            continue
        if key == "pos_embed":
            value = pos_embed_to_grid(value, prefix + key, report)
        out[key] = value
    for head, n in outside.items():
        report.ignored.append((f"{head}.*", f"{other_rule or 'outside ' + repr(prefix)} ({n} tensors)"))
    return out


def _has_vit_blocks(sd, prefix="") -> bool:
    return f"{prefix}blocks.0.attn.qkv.weight" in sd and f"{prefix}patch_embed.proj.weight" in sd


def _inner(raw: dict, wrapper: str):
    inner = raw.get(wrapper)
    return inner if isinstance(inner, dict) else None


# ------------------------------------------------------------------- MoCo v3
def detect_mocov3(raw: dict) -> bool:
    sd = _inner(raw, "state_dict")
    return sd is not None and _has_vit_blocks(sd, "module.base_encoder.")


def convert_mocov3(state_dict, net, report):
    return convert_timm_vit(state_dict, net, report, prefix="module.base_encoder.",
                            other_rule="MoCo v3 momentum encoder / predictor (only the base encoder transfers)")


# ---------------------------------------------------------------------- BEiT
def _is_beit(sd) -> bool:
    return any(k.endswith("attn.q_bias") or k.endswith("relative_position_bias_table") for k in sd)


def detect_beit(raw: dict) -> bool:
    sd = _inner(raw, "model") or _inner(raw, "module") or raw
    return "patch_embed.proj.weight" in sd and _is_beit(sd)


def _beit_table(table: torch.Tensor, key: str, report: LoadReport) -> Tuple[torch.Tensor, int]:
    """Drop the 3 class-token rows of a BEiT table; return it and its (square) grid side."""
    rows = table.shape[0] - 3
    side = math.isqrt(rows)
    if side * side != rows or side % 2 == 0:
        raise CheckpointError(
            f"{report.path}: {key} has {table.shape[0]} rows, not (2h-1)^2 + 3 for a square grid")
    report.ignored.append((f"{key}[-3:]", "class-token rows (cls->token, token->cls, cls->cls)"))
    return table[:rows], (side + 1) // 2


def convert_beit(state_dict, net, report):
    """BEiT -> ViT by the paper's rules.

    * ``q_bias``/``v_bias`` -> ``qkv.bias`` with a zero k bias.
    * the shared table ``rel_pos_bias.relative_position_bias_table`` (class rows
      dropped) fills both the shared window table and the shared global table; the
      loader resizes each to its grid.
    * per-block tables (``blocks.N.attn.relative_position_bias_table``): the paper
      shares one table, so the per-block tables are averaged (mean over blocks) into
      it; the per-block keys are reported as ignored with that rule.
    * an absolute ``pos_embed`` is not transferred (paper: random for BEiT).
    * ``gamma_1``/``gamma_2`` are layer scale: the model must have it on.
    """
    out = {}
    tables = []
    for key, value in state_dict.items():
        m = re.fullmatch(r"(blocks\.\d+\.attn)\.(q_bias|v_bias)", key)
        if m:
            if m.group(2) == "q_bias":
                v_bias = state_dict.get(m.group(1) + ".v_bias")
                if v_bias is None:
                    raise CheckpointError(f"{report.path}: {key} without {m.group(1)}.v_bias")
                out[m.group(1) + ".qkv.bias"] = torch.cat([value, torch.zeros_like(value), v_bias])
                report.initialized.append((m.group(1) + ".qkv.bias[C:2C]",
                                           "zeros (k bias: BEiT has none)"))
            continue
        if key == "rel_pos_bias.relative_position_bias_table":
            tables.append(("shared", key, value))
            continue
        if re.fullmatch(r"blocks\.\d+\.attn\.relative_position_bias_table", key):
            tables.append(("block", key, value))
            continue
        if key == "pos_embed":
            report.ignored.append((key, "BEiT transfer: the absolute embedding is initialized randomly (paper)"))
            continue
        rule = ignore_rule(key)
        if rule:
            report.ignored.append((key, rule))
            continue
        out[key] = value
    shared = [t for t in tables if t[0] == "shared"]
    per_block = [t for t in tables if t[0] == "block"]
    table = None
    if shared:
        table, _ = _beit_table(shared[0][2], shared[0][1], report)
        for _, key, _v in per_block:
            report.ignored.append((key, "per-block table next to a shared one: the shared one is used"))
    elif per_block:
        cut = [_beit_table(v, k, report)[0] for _, k, v in per_block]
        if len({tuple(c.shape) for c in cut}) != 1:
            raise CheckpointError(f"{report.path}: per-block relative position tables differ in shape")
        table = torch.stack(cut).mean(0)
        for _, key, _v in per_block:
            report.ignored.append((key, f"per-block table: averaged over {len(per_block)} blocks "
                                        "into the shared tables (paper shares one table)"))
    if table is not None:
        placed = False
        for name in ("window_rel_pos_bias", "global_rel_pos_bias"):
            if getattr(net, name, None) is not None:
                out[f"{name}.relative_position_bias_table"] = table
                placed = True
        if not placed:
            report.ignored.append(("relative_position_bias_table",
                                   "model has no shared relative-position tables (rel_pos != 'shared')"))
    return out


# ------------------------------------------------------- MAE and supervised
def detect_mae(raw: dict) -> bool:
    sd = _inner(raw, "model")
    if sd is None or not _has_vit_blocks(sd) or _is_beit(sd):
        return False
    # Pre-training files have no classifier; visualization files carry the decoder.
    return (any(k.startswith("decoder_") for k in sd) or "mask_token" in sd
            or not any(k.startswith("head.") for k in sd))


def convert_mae(state_dict, net, report):
    return convert_timm_vit(state_dict, net, report)


def detect_supervised(raw: dict) -> bool:
    sd = _inner(raw, "model") or raw
    return _has_vit_blocks(sd) and not _is_beit(sd)


def convert_supervised(state_dict, net, report):
    return convert_timm_vit(state_dict, net, report)


def _convert_random(state_dict, net, report):
    raise CheckpointError(f"{report.path}: format 'random' takes no checkpoint file")


# Registration order = reverse detection priority (newest first): generic last.
register_format("random", None, _convert_random)
register_format("supervised", detect_supervised, convert_supervised)
register_format("mae", detect_mae, convert_mae)
register_format("beit", detect_beit, convert_beit)
register_format("mocov3", detect_mocov3, convert_mocov3)

"""The public iTPN / HiViT pre-training checkpoint format (sunsmarterjie/iTPN).

Layout (``torch.save({'model': state_dict, ...})``, keys without prefix):

* trunk: ``patch_embed.{proj,norm}.*``, ``absolute_pos_embed`` ``(1, 196, C)``,
  ``blocks.{i}.*`` where ``i`` counts the two merge modules too (B: 0..31, merges 3 and 7;
  L: 0..45, merges 2 and 5); CLIP-supervised files add ``gamma_1`` / ``gamma_2``;
* pyramid: ``align_dim_16tofpn.*``, ``align_dim_16to8.weight``, ``align_dim_8to4.weight``,
  ``split_16to8.*``, ``split_8to4.*``, ``block_16to8.{k}.*``, ``block_8to4.{k}.*``,
  ``fpn_modules.{0,1,2}.*``.

Ignored by rule (and reported): ``mask_token``, ``decoder_*`` (pixel pre-training),
``lm_head.*``, ``lm_cls_head.*``, ``norm.*``, ``norm_cls.*``, ``cls_pt_layers.*``, per-block
``relative_position_bias_table`` and ``relative_position_index`` (CLIP pre-training),
``fc_norm.*`` / ``head.*`` (classification fine-tuning) and the pyramid blocks beyond the
detector's ``fpn_depth`` (pre-training with ``fpn_depth=2``: ``block_16to8.1.*``, ``block_8to4.1.*``).

The official loader (``mmcv_custom/checkpoint.py``, ``strict=False``) skips tensors whose
shape differs without a word; a user report (iTPN issue #3) says the released pixel-B file
has a 512-d pyramid, which the 256-d detector would then train from random weights. Here a
pyramid that does not fit is a :class:`CheckpointError` naming the file and keys, unless the
model says ``pyramid_init="random"`` (then the file's pyramid is ignored and the model's is
reported as initialized fresh). Design 2 (``integral_pyramid=False``) ignores the pyramid by rule.

ViTDet-style decomposed tables of CLIP-L (``rel_pos_h/w``) are not in any pre-training file:
they keep the model's trunc-normal(0.02) init, as the official ``iTPN_CLIP`` does.
Registered with ``vitdet_bench.checkpoint.register_format("itpn", ...)`` on ``import itpn``.
"""
from __future__ import annotations

import re
from typing import Dict, Optional

import torch
import torch.nn as nn

from vitdet_bench.checkpoint import CheckpointError, LoadReport, load_pretrained, register_format
from vitdet_bench.checkpoint.formats import match_rule, model_state_dict

from .backbone import ITPN, PYRAMID_PREFIXES

__all__ = ["FORMAT_NAME", "IGNORE_RULES", "detect_itpn", "convert_itpn", "find_itpn",
           "load_itpn_checkpoint", "register"]

FORMAT_NAME = "itpn"

# (regex on the checkpoint key, rule); first match wins.
IGNORE_RULES = (
    (r"^mask_token$", "mask token (pre-training only)"),
    (r"^decoder_", "pixel-reconstruction decoder (pre-training only)"),
    (r"^lm_head\.", "CLIP-feature prediction head (pre-training only)"),
    (r"^lm_cls_head\.", "CLIP-feature prediction head of the class branch (pre-training only)"),
    (r"^norm\.", "norm before the pre-training head (pre-training only)"),
    (r"^norm_cls\.", "norm of the class branch (pre-training only)"),
    (r"^cls_pt_layers\.", "class-branch blocks (pre-training only)"),
    (r"(^|\.)relative_position_bias_table$",
     "BEiT relative-position table of CLIP pre-training (the detection configs use none, or decomposed tables)"),
    (r"(^|\.)relative_position_index$", "index buffer of the pre-training tables"),
    (r"^fc_norm\.", "classification head"),
    (r"^head\.", "classification head"),
)
_PYRAMID_BLOCK = re.compile(r"^(block_16to8|block_8to4)\.(\d+)\.")


def detect_itpn(raw) -> bool:
    """An iTPN / HiViT checkpoint: the stride-4 stem, ``absolute_pos_embed`` and a merge module in ``blocks``."""
    try:
        sd = model_state_dict(raw)
    except CheckpointError:
        return False
    return ("patch_embed.proj.weight" in sd and "absolute_pos_embed" in sd
            and any(re.fullmatch(r"blocks\.\d+\.reduction\.weight", k) for k in sd))


def find_itpn(model: nn.Module) -> Optional[nn.Module]:
    """The first :class:`ITPN` inside ``model`` (the loader's ``find_net``), or None."""
    for m in model.modules():
        if isinstance(m, ITPN):
            return m
    return None


def convert_itpn(state_dict, net: nn.Module, report: LoadReport) -> Dict[str, torch.Tensor]:
    """iTPN checkpoint tensors -> the :class:`ITPN` key space (identical names); see the module doc."""
    sd = model_state_dict(state_dict, report.path)
    if not isinstance(net, ITPN):
        found = find_itpn(net)
        if found is None:
            raise CheckpointError(f"{report.path}: the target {type(net).__name__} contains no ITPN backbone")
        net = found
    target = net.state_dict()
    fpn_depth = len(net.block_16to8) if net.integral_pyramid else 0
    out: Dict[str, torch.Tensor] = {}
    bad_pyramid, bad_keys = [], []
    ckpt_pyramid_dims = set()
    for key, value in sd.items():
        is_pyramid = key.startswith(PYRAMID_PREFIXES)
        m = _PYRAMID_BLOCK.match(key)
        if is_pyramid and not net.integral_pyramid:
            report.ignored.append((key, "integral pyramid: not used by design 2 (BN FPN neck)"))
            continue
        if is_pyramid and net.pyramid_init == "random":
            report.ignored.append((key, "integral pyramid: pyramid_init='random' (ablation)"))
            continue
        if m and int(m.group(2)) >= fpn_depth:
            report.ignored.append((key, f"pyramid block beyond the detector's fpn_depth={fpn_depth} "
                                        "(pre-training used a deeper pyramid)"))
            continue
        rule = match_rule(key, IGNORE_RULES)
        if rule is not None and key not in target:
            report.ignored.append((key, rule))
            continue
        if key == "absolute_pos_embed" and key in target and value.shape != target[key].shape:
            raise CheckpointError(
                f"{report.path}: absolute_pos_embed has shape {tuple(value.shape)} but the model's is "
                f"{tuple(target[key].shape)}: set the backbone's pretrain_img_size to the pre-training "
                f"input side (16 x the grid side; the model was built for {net.pretrain_grid * 16}).")
        if is_pyramid and key in target and value.shape != target[key].shape:
            bad_pyramid.append(f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(target[key].shape)}")
            bad_keys.append(key)
            if key == "fpn_modules.0.norm2.weight":
                ckpt_pyramid_dims.add(int(value.shape[0]))
            continue
        out[key] = value
    if bad_pyramid:
        dims = f"{sorted(ckpt_pyramid_dims)[0]}-d" if ckpt_pyramid_dims else "of another width"
        raise CheckpointError(
            f"{report.path}: the checkpoint's integral pyramid is {dims} but the detector's is "
            f"{net.fpn_dim}-d; {len(bad_pyramid)} tensors of "
            + ", ".join(sorted({k.split(".")[0] for k in bad_keys})) + " do not fit: "
            + "; ".join(bad_pyramid[:6])
            + (f" (+{len(bad_pyramid) - 6} more)" if len(bad_pyramid) > 6 else "")
            + ". The official loader would skip them silently and train a random pyramid. Set "
            "the backbone's pyramid_init='random' to train a random pyramid on purpose (reported), "
            "or fpn_dim to the checkpoint's width.")
    if net.integral_pyramid and net.pyramid_init == "random":
        for key in target:
            if key.startswith(PYRAMID_PREFIXES):
                report.initialized.append((key, "model's init (pyramid_init='random': the checkpoint's "
                                                "pyramid is not used)"))
    for key in target:
        if key.endswith(("attn.rel_pos_h", "attn.rel_pos_w")) and key not in out:
            report.initialized.append((key, "trunc_normal(std=0.02), the model's init (as the official "
                                            "iTPN_CLIP: no pre-trained decomposed table exists)"))
    return out


def load_itpn_checkpoint(model_or_net: nn.Module, path: str, format: str = FORMAT_NAME,
                         strict_architecture: bool = True) -> LoadReport:
    """``vitdet_bench.checkpoint.load_pretrained`` with the iTPN format."""
    register()
    return load_pretrained(model_or_net, path, format=format, strict_architecture=strict_architecture)


def register() -> None:
    """Register the format with the shared loader (auto-detection tries it first)."""
    register_format(FORMAT_NAME, detect_itpn, convert_itpn, find_net=find_itpn)

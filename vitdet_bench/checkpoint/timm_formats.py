"""Checkpoint formats of the timm families, converted by timm's own filter functions.

Every official layout is turned into timm's key space by timm itself
(``timm.models.vision_transformer.checkpoint_filter_fn``: DINOv2, OpenAI CLIP /
OpenCLIP, AIMv2, DeiT III; ``timm.models.eva.checkpoint_filter_fn``: EVA-02,
DINOv3, Perception Encoder), then fitted into a
:class:`~vitdet_bench.modeling.backbone.timm_trunk.TimmTrunk` with the project's
load report. Two Hugging Face ``transformers`` layouts have no timm filter: their
keys are renamed here and then go through timm's filter like the others.
SigLIP 2 (``SiglipVisionModel``): ``vision_model.encoder.layers.N.self_attn.{q,k,v}_proj``
-> ``blocks.N.attn.qkv``. AIMv2 (``Aimv2VisionModel``, and ``Aimv2Model`` with the
``vision_model.`` prefix; key names of transformers' ``modeling_aimv2.py`` and its
``convert_aimv2_original_pytorch_to_hf.py``): ``embeddings.patch_embed``,
``embeddings.rms_norm``, ``embeddings.position_embedding``,
``encoder.layers.N.attention.{q,k,v,out}_proj``, ``encoder.layers.N.ffn.{gate,up,down}_proj``,
``encoder.layers.N.rms_norm{1,2}``, ``rms_norm``. The AIMv2 files of the Hugging Face hub
(``apple/aimv2-*``, ``model.safetensors``) keep the ml-aim names
(``preprocessor.patchifier``, ``trunk.blocks``) of format ``aimv2``.

Strictness: timm's filters drop some tensors silently (pre-training mask tokens,
text towers, RoPE buffers). Here every tensor of the file is accounted for: the
filter runs on tensors that record autograd history, and each output is traced
back to the file tensors it was computed from. A file tensor is *loaded* when an
output fitted into the trunk depends on it, *ignored* when a named rule drops it
(before the filter, or as the source of an output the trunk has no place for), and
otherwise *unexpected*, an error under ``strict_architecture``. A trunk with
LayerScale and a file without it is always an error naming the file and keys.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Set, Tuple

import torch
import torch.nn as nn

from .loader import register_format
from .report import CheckpointError, LoadReport

__all__ = ["TIMM_FORMATS", "find_timm_trunk", "convert_with_timm_filter", "siglip_hf_to_timm",
           "aimv2_hf_to_timm", "trace_sources"]

LAYER_SCALE_KEY = re.compile(r"^blocks\.\d+\.(ls[12]\.gamma|gamma_[12])$")


def find_timm_trunk(model: nn.Module) -> nn.Module:
    from ..modeling.backbone.timm_trunk import TimmTrunk

    for m in model.modules():
        if isinstance(m, TimmTrunk):
            return m
    raise CheckpointError(
        f"no TimmTrunk in {type(model).__name__}: the timm family formats load into the "
        "timm trunk (MODEL.BACKBONE.NAME='build_timm_trunk_backbone', MODEL.TIMM.MODEL_NAME)")


# ------------------------------------------------------------- provenance
def trace_sources(outputs: Dict[str, torch.Tensor], inputs: Dict[str, torch.Tensor]) -> Dict[str, Set[str]]:
    """For each output tensor, the input keys it was computed from (autograd graph walk)."""
    leaf_key = {id(t): k for k, t in inputs.items()}
    result = {}
    for out_key, out in outputs.items():
        found: Set[str] = set()
        if id(out) in leaf_key:
            found.add(leaf_key[id(out)])
        stack = [out.grad_fn] if torch.is_tensor(out) and out.grad_fn is not None else []
        seen = set()
        while stack:
            fn = stack.pop()
            if fn is None or id(fn) in seen:
                continue
            seen.add(id(fn))
            var = getattr(fn, "variable", None)  # AccumulateGrad: a leaf input
            if var is not None and id(var) in leaf_key:
                found.add(leaf_key[id(var)])
            stack.extend(next_fn for next_fn, _ in fn.next_functions)
        result[out_key] = found
    return result


# ------------------------------------------------------------- SigLIP 2 (HF)
def siglip_hf_to_timm(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Hugging Face ``SiglipVisionModel`` keys -> timm ``VisionTransformer`` keys."""
    pre = "vision_model."
    out = {}
    layers = sorted({int(m.group(1)) for k in sd
                     for m in [re.match(re.escape(pre) + r"encoder\.layers\.(\d+)\.", k)] if m})
    for i in layers:
        src = f"{pre}encoder.layers.{i}."
        dst = f"blocks.{i}."
        for part in ("weight", "bias"):
            out[f"{dst}attn.qkv.{part}"] = torch.cat(
                [sd[f"{src}self_attn.{p}_proj.{part}"] for p in ("q", "k", "v")], dim=0)
            out[f"{dst}attn.proj.{part}"] = sd[f"{src}self_attn.out_proj.{part}"]
            out[f"{dst}norm1.{part}"] = sd[f"{src}layer_norm1.{part}"]
            out[f"{dst}norm2.{part}"] = sd[f"{src}layer_norm2.{part}"]
            out[f"{dst}mlp.fc1.{part}"] = sd[f"{src}mlp.fc1.{part}"]
            out[f"{dst}mlp.fc2.{part}"] = sd[f"{src}mlp.fc2.{part}"]
    emb = f"{pre}embeddings."
    out["patch_embed.proj.weight"] = sd[f"{emb}patch_embedding.weight"]
    out["patch_embed.proj.bias"] = sd[f"{emb}patch_embedding.bias"]
    out["pos_embed"] = sd[f"{emb}position_embedding.weight"][None]
    for part in ("weight", "bias"):
        if f"{pre}post_layernorm.{part}" in sd:
            out[f"norm.{part}"] = sd[f"{pre}post_layernorm.{part}"]
    for k, v in sd.items():
        if k.startswith(f"{pre}head."):
            # the MAP head; kept under timm's name so its tensors are reported as the head
            out["attn_pool." + k[len(f"{pre}head."):]] = v
    return out


# ------------------------------------------------------------- AIMv2 (HF transformers)
def _aimv2_hf_prefix(sd) -> Optional[str]:
    for pre in ("", "vision_model."):
        if f"{pre}encoder.layers.0.attention.q_proj.weight" in sd and \
                f"{pre}embeddings.patch_embed.weight" in sd:
            return pre
    return None


def aimv2_hf_to_timm(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Hugging Face ``Aimv2VisionModel`` keys -> timm ``VisionTransformer`` (aimv2_*) keys.

    Keys outside the image tower are left out (the format's rule names them); a
    vision-tower key this renaming does not know is left out too and reported
    unexpected by the load.
    """
    pre = _aimv2_hf_prefix(sd)
    if pre is None:
        raise KeyError("encoder.layers.0.attention.q_proj.weight / embeddings.patch_embed.weight")
    out = {}
    layers = sorted({int(m.group(1)) for k in sd
                     for m in [re.match(re.escape(pre) + r"encoder\.layers\.(\d+)\.", k)] if m})
    # AIMv2 has no biases in attention and MLP (qkv_bias / mlp_bias False); a file that
    # has them gets them moved with the weights.
    renames = (("attention.out_proj", "attn.proj"), ("ffn.gate_proj", "mlp.fc1_g"),
               ("ffn.up_proj", "mlp.fc1_x"), ("ffn.down_proj", "mlp.fc2"),
               ("rms_norm1", "norm1"), ("rms_norm2", "norm2"))
    for i in layers:
        src = f"{pre}encoder.layers.{i}."
        dst = f"blocks.{i}."
        for part in ("weight", "bias"):
            qkv = [f"{src}attention.{p}_proj.{part}" for p in ("q", "k", "v")]
            if all(k in sd for k in qkv):
                out[f"{dst}attn.qkv.{part}"] = torch.cat([sd[k] for k in qkv], dim=0)
            for hf, timm_name in renames:
                if f"{src}{hf}.{part}" in sd:
                    out[f"{dst}{timm_name}.{part}"] = sd[f"{src}{hf}.{part}"]
    emb = f"{pre}embeddings."
    for part in ("weight", "bias"):
        if f"{emb}patch_embed.{part}" in sd:
            out[f"patch_embed.proj.{part}"] = sd[f"{emb}patch_embed.{part}"]
    if f"{emb}rms_norm.weight" in sd:
        out["patch_embed.norm.weight"] = sd[f"{emb}rms_norm.weight"]
    if f"{emb}position_embedding.weight" in sd:
        out["pos_embed"] = sd[f"{emb}position_embedding.weight"][None]
    if f"{pre}rms_norm.weight" in sd:
        out["norm.weight"] = sd[f"{pre}rms_norm.weight"]
    for k, v in sd.items():
        if k.startswith(f"{pre}head."):
            # the attention-pooling head; kept under timm's name so it is reported as the head
            out["attn_pool." + k[len(f"{pre}head."):]] = v
    return out


# ------------------------------------------------------------- the formats
def _vit_filter(**kwargs) -> Callable:
    def run(sd, model):
        from timm.models.vision_transformer import checkpoint_filter_fn

        return checkpoint_filter_fn(sd, model, **kwargs)
    return run


def _eva_filter(sd, model):
    from timm.models.eva import checkpoint_filter_fn

    return checkpoint_filter_fn(sd, model)


def _timm_filter(sd, model):
    from timm.models.eva import Eva

    return _eva_filter(sd, model) if isinstance(model, Eva) else _vit_filter()(sd, model)


def _siglip_filter(sd, model):
    return _vit_filter()(siglip_hf_to_timm(sd), model)


def _aimv2_hf_filter(sd, model):
    return _vit_filter()(aimv2_hf_to_timm(sd), model)


def _sd(raw: dict) -> dict:
    for wrapper in ("model", "state_dict", "module", "model_ema"):
        inner = raw.get(wrapper)
        if isinstance(inner, dict):
            return inner
    return raw


def _detect_dinov2(raw):
    # The official files are bare state dicts with a (1, C) mask token (MAE's is
    # (1, 1, C), inside {'model': ...}, next to its decoder).
    mask = raw.get("mask_token")
    return (torch.is_tensor(mask) and mask.dim() == 2 and "storage_tokens" not in raw
            and "blocks.0.attn.qkv.weight" in raw and "pos_embed" in raw
            and not any(k.startswith("decoder") for k in raw))


def _detect_dinov3(raw):
    sd = _sd(raw)
    return "storage_tokens" in sd and "blocks.0.attn.qkv.weight" in sd


def _detect_eva02(raw):
    sd = _sd(raw)
    return "blocks.0.attn.q_proj.weight" in sd and any(
        k.startswith("blocks.0.mlp.w1") for k in sd)


def _detect_openai_clip(raw):
    sd = _sd(raw)
    return "visual.class_embedding" in sd and "visual.transformer.resblocks.0.ls_1.gamma" not in sd


def _detect_pe(raw):
    sd = _sd(raw)
    # PE-Spatial files: the image tower alone, its keys without a prefix (conv1,
    # transformer.resblocks.N); B and L have no LayerScale. OpenAI CLIP and OpenCLIP
    # files always keep the image tower under "visual." (their bare
    # "transformer.resblocks" are the text tower).
    if "conv1.weight" in sd and not any(k.startswith("visual.") for k in sd) and any(
            k.startswith("transformer.resblocks.0.") for k in sd):
        return True
    # PE-Core CLIP files: "visual." next to the text tower, told from OpenAI CLIP by LayerScale
    return any(k in sd for k in ("visual.conv1.weight", "conv1.weight")) and any(
        ".resblocks.0.ls_1.gamma" in k for k in sd)


def _detect_open_clip_timm(raw):
    sd = _sd(raw)
    return "visual.trunk.patch_embed.proj.weight" in sd


def _detect_siglip_hf(raw):
    return "vision_model.encoder.layers.0.self_attn.q_proj.weight" in _sd(raw)


def _detect_aimv2(raw):
    return "preprocessor.patchifier.proj.weight" in _sd(raw)


def _detect_aimv2_hf(raw):
    return _aimv2_hf_prefix(_sd(raw)) is not None


def _detect_deit3(raw):
    sd = _sd(raw)
    return ("blocks.0.gamma_1" in sd and "blocks.0.attn.qkv.weight" in sd and "cls_token" in sd
            and not any(k.endswith(("attn.q_bias", "relative_position_bias_table")) for k in sd))


_TEXT_TOWER = "text tower, projection scales and other non-image parts of the image-text model"

# name -> (detect, filter, [(regex over file keys, rule)] naming the file tensors the
# filter drops)
TIMM_FORMATS: Dict[str, Tuple[Optional[Callable], Callable, List[Tuple[str, str]]]] = {
    "timm": (None, _timm_filter, []),
    "dinov2": (_detect_dinov2, _vit_filter(), [
        (r"^mask_token$", "DINOv2 pre-training mask token (masked image modeling only)")]),
    "dinov3": (_detect_dinov3, _eva_filter, [
        (r"^mask_token$", "DINOv3 pre-training mask token (masked image modeling only)"),
        (r"\.periods$", "DINOv3 RoPE periods: recomputed by timm's RotaryEmbeddingDinoV3"),
        (r"\.bias_mask$", "DINOv3 qkv bias mask (the k bias is fixed at zero: timm keeps q/v biases)"),
        (r"^local_cls_norm\.", "DINOv3 local-crop class norm (pre-training only)"),
        (r"^projectors\.", "distillation projection heads (pre-training only)")]),
    "eva02": (_detect_eva02, _eva_filter, [
        (r"^mask_token$", "EVA-02 MIM mask token (pre-training only)"),
        (r"^lm_head\.", "EVA-02 MIM head (pre-training only)"),
        (r"(^|\.)rope\.", "EVA-02 RoPE tables: recomputed by timm from the grid")]),
    "openai_clip": (_detect_openai_clip, _vit_filter(), [
        (r"^(?!visual\.)", _TEXT_TOWER)]),
    "pe": (_detect_pe, _eva_filter, [
        (r"^(?!visual\.|conv1\.|class_embedding$|positional_embedding$|ln_pre\.|ln_post\.|"
         r"transformer\.|attn_pool\.|proj$)", _TEXT_TOWER)]),
    # OpenCLIP models whose image tower is a timm model (SigLIP, EVA-02 CLIP, ...)
    "open_clip_timm": (_detect_open_clip_timm, _timm_filter, [
        (r"^(?!visual\.)", _TEXT_TOWER),
        (r"^visual\.head\.", "OpenCLIP image projection head (not part of the detection trunk)")]),
    "siglip2_hf": (_detect_siglip_hf, _siglip_filter, [
        (r"^(?!vision_model\.)", _TEXT_TOWER)]),
    "aimv2": (_detect_aimv2, _vit_filter(), []),
    "aimv2_hf": (_detect_aimv2_hf, _aimv2_hf_filter, [
        (r"^(text_model\.|visual_projection\.|text_projection\.|logit_scale$)", _TEXT_TOWER)]),
    "deit3": (_detect_deit3, _vit_filter(adapt_layer_scale=True), []),
}

# Outputs of timm's filters the trunk has no place for, and why.
_HEAD_RULE = "classification / pooling head (not part of the detection trunk)"


def _output_rule(key: str, net) -> Optional[str]:
    if re.match(r"^(head|fc_norm|attn_pool|head_drop)(\.|$)", key):
        return _HEAD_RULE
    if key in ("cls_token", "reg_token") and net.prefix_tokens == "drop":
        return (f"prefix token ({'class' if key == 'cls_token' else 'register / storage'}) "
                "dropped before the first detection block (prefix_tokens='drop')")
    if key.startswith("norm.") and net.norm is None:
        return "final norm unused: the taps are block outputs (use_final_norm=False)"
    return None


def convert_with_timm_filter(fmt_name: str, state_dict: Dict[str, torch.Tensor], net,
                             report: LoadReport) -> Dict[str, torch.Tensor]:
    """Convert ``state_dict`` (layout ``fmt_name``) into ``net``'s key space, accounting
    for every tensor (see the module docstring)."""
    _, filt, pre_rules = TIMM_FORMATS[fmt_name]
    rules = [(re.compile(rx), why) for rx, why in pre_rules]
    # Every tensor goes through timm's filter (some filters key on pre-training-only
    # tensors, e.g. DINOv2's mask_token); the format's rules name those it drops.
    kept = {key: value.detach().requires_grad_(value.is_floating_point())
            for key, value in state_dict.items()}
    model = net.source_model
    with torch.enable_grad():
        try:
            out = filt(dict(kept), model)
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(
                f"{report.path}: timm's checkpoint filter for format {fmt_name!r} (model "
                f"{net.model_name!r}) failed: {type(e).__name__}: {e}. The file does not have "
                f"this layout or was made for another architecture.") from e
    sources = trace_sources(out, kept)
    target = net.state_dict()
    converted: Dict[str, torch.Tensor] = {}
    used: Set[str] = set()
    dropped: Dict[str, Tuple[str, str]] = {}
    for key, value in out.items():
        rule = _output_rule(key, net)
        if rule is not None:
            for src in sources[key]:
                dropped.setdefault(src, (rule, key))
            continue
        value = value.detach()
        if key == "pos_embed" and net.pos_embed is not None and net.pos_embed_grid == "detection":
            value = _pos_table_to_grid(value, net, report)
        if key == "patch_embed.proj.weight" and key in target and tuple(value.shape) == tuple(
                target[key].shape):
            src_shape = [tuple(kept[s].shape) for s in sources[key]]
            if src_shape and src_shape[0] != tuple(value.shape):
                report.resized.append((key, src_shape[0], tuple(value.shape)))
                report.notes.append(
                    f"patch kernel {src_shape[0][-2:]} -> {tuple(value.shape[-2:])} by timm's "
                    f"resample_patch_embed (patch_route={net.patch_route!r})")
        converted[key] = value
        used |= sources[key]
    for src, (rule, key) in dropped.items():
        if src not in used:
            report.ignored.append((src, f"{rule} [as {key}]" if key != src else rule))
            used.add(src)
    silent = []
    for key in kept:
        if key in used:
            continue
        why = next((w for rx, w in rules if rx.search(key)), None)
        if why is None and fmt_name == "dinov3" and key.endswith("attn.qkv.bias") and not bool(
                kept[key].detach().any()):
            # DINOv3's distilled ViT-S/B/L files carry all-zero qkv biases; timm's models
            # without qkv bias drop them (a non-zero one stays an error).
            why = "DINOv3 qkv bias, all zeros in this file: the model has no qkv bias"
        if why is None:
            silent.append(key)
        else:
            report.ignored.append((key, why))
    report.unexpected.extend(f"{k} (dropped by timm's filter without a named rule)" for k in silent)
    _check_layer_scale(converted, target, report)
    if net.resample_taps:
        p = net.patch_size
        report.notes.append(
            f"patch {p}x{p} kept (patch_route='native'): blocks on the stride-{p} grid of the "
            f"input padded to a multiple of {net.input_multiple}, each tap resampled bilinearly "
            f"onto the stride-{net.tap_stride} grid of the input")
    return converted


def _pos_table_to_grid(value: torch.Tensor, net, report: LoadReport) -> torch.Tensor:
    """timm's ``(1, P + s*s, C)`` table -> ``(1, s, s, C)`` (the loader resizes it)."""
    prefix = net.pos_embed_num_prefix
    grid = value[:, prefix:]
    side_h, side_w = net.pretrain_grid
    if grid.shape[1] != side_h * side_w:
        raise CheckpointError(
            f"{report.path}: position table of {value.shape[1]} slots does not fit the "
            f"pre-training grid {net.pretrain_grid} plus {prefix} prefix slots of {net.model_name!r}")
    if prefix:
        report.ignored.append(
            ("pos_embed[:, :%d]" % prefix,
             "prefix-token slots of the position table (prefix tokens dropped)"))
    return grid.reshape(1, side_h, side_w, -1)


def _check_layer_scale(converted, target, report: LoadReport) -> None:
    missing = [k for k in target if LAYER_SCALE_KEY.match(k) and k not in converted]
    if missing:
        raise CheckpointError(
            f"{report.path}: the model's blocks have LayerScale but the checkpoint "
            f"({report.format}) has none for {len(missing)} tensors: {missing[:6]}"
            f"{' ...' if len(missing) > 6 else ''}. LayerScale is never dropped or set to one: "
            "a file without it is not this family's pre-training (or was converted by hand "
            "without it); use the family's original file or a model without LayerScale.")


def _register():
    for name, (detect, _, _) in TIMM_FORMATS.items():
        def convert(state_dict, net, report, _name=name):
            return convert_with_timm_filter(_name, state_dict, net, report)
        register_format(name, detect, convert, find_net=find_timm_trunk)


_register()

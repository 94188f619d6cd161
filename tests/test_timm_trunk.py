"""The timm-family detection trunk and its checkpoint formats.

For each family a small timm model (depth and width shrunk through
``timm.create_model``) gets random weights, is written in the family's official
layout (built from the official projects' key names, i.e. timm's filter inverted),
loaded back through the format, and compared in float64 with timm's own
``forward_features`` (all blocks global, prefix tokens kept, pre-training size).
Windowed blocks, dropped prefix tokens and the RoPE window schemes are compared
with references written out here.
"""
import copy
import math
from pathlib import Path

import pytest
import timm
import torch
import torch.nn as nn

from vitdet_bench.checkpoint import CheckpointError, load_pretrained
from vitdet_bench.checkpoint.timm_formats import TIMM_FORMATS
from vitdet_bench.modeling.backbone.timm_trunk import TimmTrunk, window_rope_tables

REPO_ROOT = Path(__file__).resolve().parents[1]

SMALL = dict(depth=4, embed_dim=64, num_heads=2)


# ------------------------------------------------------------ official layouts
def _no_head(sd):
    return {k: v for k, v in sd.items() if not k.startswith(("head.", "fc_norm.", "attn_pool."))}


def write_dinov2(sd, model):
    out = _no_head(sd)
    out["mask_token"] = torch.randn(1, sd["cls_token"].shape[-1])
    if "reg_token" in out:
        # official: the class token's slot is in pos_embed; timm folds it into cls_token
        slot = torch.randn(1, 1, sd["cls_token"].shape[-1])
        out["register_tokens"] = out.pop("reg_token")
        out["cls_token"] = sd["cls_token"] - slot[:, 0]
        out["pos_embed"] = torch.cat([slot, sd["pos_embed"]], dim=1)
    return out


def write_dinov3(sd, model):
    out = {}
    dim = sd["cls_token"].shape[-1]
    for k, v in _no_head(sd).items():
        if k.endswith("attn.q_bias"):
            v_bias = sd[k.replace("q_bias", "v_bias")]
            out[k.replace("q_bias", "qkv.bias")] = torch.cat([v, torch.zeros(dim), v_bias])
            out[k.replace("q_bias", "qkv.bias_mask")] = torch.cat(
                [torch.ones(dim), torch.zeros(dim), torch.ones(dim)]).bool()
            continue
        if k.endswith("attn.v_bias"):
            continue
        k = k.replace("gamma_1", "ls1.gamma").replace("gamma_2", "ls2.gamma")
        out[k.replace("reg_token", "storage_tokens")] = v
    out["mask_token"] = torch.randn(1, dim)
    out["rope_embed.periods"] = torch.rand(model.rope.periods.shape[0]).to(torch.bfloat16)
    return out


def write_dinov3_distilled(sd, model):
    # the distilled ViT-S/B/L files: qkv biases present but all zero, with their mask
    out = write_dinov3(sd, model)
    dim = sd["cls_token"].shape[-1]
    for i in range(len(model.blocks)):
        out[f"blocks.{i}.attn.qkv.bias"] = torch.zeros(3 * dim)
        out[f"blocks.{i}.attn.qkv.bias_mask"] = torch.ones(3 * dim).bool()
    return out


def write_eva02(sd, model):
    out = {}
    for k, v in _no_head(sd).items():
        k = k.replace("attn.q_proj.bias", "attn.q_bias").replace("attn.v_proj.bias", "attn.v_bias")
        k = (k.replace("mlp.fc1_g", "mlp.w1").replace("mlp.fc1_x", "mlp.w2")
             .replace("mlp.fc2", "mlp.w3").replace("mlp.norm", "mlp.ffn_ln"))
        out[k] = v
    dim = sd["cls_token"].shape[-1]
    out["mask_token"] = torch.randn(1, 1, dim)
    out["norm.weight"], out["norm.bias"] = torch.ones(dim), torch.zeros(dim)  # MIM's final norm
    out["lm_head.weight"], out["lm_head.bias"] = torch.randn(32, dim), torch.zeros(32)
    out["rope.freqs_cos"] = out["rope.freqs_sin"] = torch.randn(16, 8)
    return {"module": out}


def _clip_blocks(sd, pre, ls):
    out = {}
    for k, v in sd.items():
        if not k.startswith("blocks."):
            continue
        i, rest = k.split(".", 2)[1:]
        name = {"norm1": "ln_1", "norm2": "ln_2", "attn.qkv.weight": "attn.in_proj_weight",
                "attn.qkv.bias": "attn.in_proj_bias", "attn.proj": "attn.out_proj",
                "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj", "gamma_1": "ls_1.gamma",
                "gamma_2": "ls_2.gamma", "ls1.gamma": "ls_1.gamma", "ls2.gamma": "ls_2.gamma"}
        for a, b in name.items():
            if rest.startswith(a):
                rest = b + rest[len(a):]
                break
        out[f"{pre}transformer.resblocks.{i}.{rest}"] = v
    return out


def write_openai_clip(sd, model):
    out = _clip_blocks(sd, "visual.", ls=False)
    out["visual.conv1.weight"] = sd["patch_embed.proj.weight"]
    out["visual.class_embedding"] = sd["cls_token"][0, 0]
    out["visual.positional_embedding"] = sd["pos_embed"][0]
    for a, b in (("norm_pre", "ln_pre"), ("norm", "ln_post")):
        out[f"visual.{b}.weight"], out[f"visual.{b}.bias"] = sd[f"{a}.weight"], sd[f"{a}.bias"]
    out["visual.proj"] = torch.randn(sd["cls_token"].shape[-1], 16)
    # the text tower (same block names as the image tower, without "visual.")
    out["transformer.resblocks.0.attn.in_proj_weight"] = torch.randn(48, 16)
    out["token_embedding.weight"] = torch.randn(100, 16)
    out["positional_embedding"] = torch.randn(8, 16)
    out["text_projection"], out["logit_scale"] = torch.randn(16, 16), torch.tensor(4.6)
    return out


def write_pe(sd, model):
    out = _clip_blocks(sd, "", ls=True)
    out["conv1.weight"] = sd["patch_embed.proj.weight"]
    if "cls_token" in sd:
        out["class_embedding"] = sd["cls_token"][0, 0]
    out["positional_embedding"] = sd["pos_embed"][0]
    out["ln_pre.weight"], out["ln_pre.bias"] = sd["norm_pre.weight"], sd["norm_pre.bias"]
    if "norm.weight" in sd:
        out["ln_post.weight"], out["ln_post.bias"] = sd["norm.weight"], sd["norm.bias"]
    return out


def write_open_clip_timm(sd, model):
    out = {"visual.trunk." + k: v for k, v in sd.items() if not k.startswith("head.")}
    out["visual.head.proj.weight"] = torch.randn(16, sd["pos_embed"].shape[-1])
    out["text.transformer.resblocks.0.ln_1.weight"] = torch.randn(16)
    out["logit_scale"] = torch.tensor(4.6)
    return out


def write_siglip2_hf(sd, model):
    pre, out = "vision_model.", {}
    dim = sd["pos_embed"].shape[-1]
    for k, v in sd.items():
        if not k.startswith("blocks."):
            continue
        i, rest = k.split(".", 2)[1:]
        lay = f"{pre}encoder.layers.{i}."
        if rest.startswith("attn.qkv."):
            part = rest.rsplit(".", 1)[1]
            for name, chunk in zip("qkv", v.split(dim, dim=0)):
                out[f"{lay}self_attn.{name}_proj.{part}"] = chunk
            continue
        rest = (rest.replace("attn.proj", "self_attn.out_proj").replace("norm1", "layer_norm1")
                .replace("norm2", "layer_norm2"))
        out[lay + rest] = v
    out[f"{pre}embeddings.patch_embedding.weight"] = sd["patch_embed.proj.weight"]
    out[f"{pre}embeddings.patch_embedding.bias"] = sd["patch_embed.proj.bias"]
    out[f"{pre}embeddings.position_embedding.weight"] = sd["pos_embed"][0]
    out[f"{pre}post_layernorm.weight"], out[f"{pre}post_layernorm.bias"] = sd["norm.weight"], sd["norm.bias"]
    for k, v in sd.items():
        if k.startswith("attn_pool."):
            out[f"{pre}head." + k[len("attn_pool."):]] = v
    out["text_model.embeddings.token_embedding.weight"] = torch.randn(100, 16)
    out["logit_scale"], out["logit_bias"] = torch.tensor(2.3), torch.tensor(-10.0)
    return out


def write_aimv2(sd, model):
    out = {}
    for k, v in sd.items():
        if k.startswith("blocks."):
            k = "trunk." + k.replace("norm1", "norm_1").replace("norm2", "norm_2").replace(
                "mlp.fc1_g", "mlp.fc1").replace("mlp.fc1_x", "mlp.fc3")
        elif k.startswith("patch_embed."):
            k = "preprocessor.patchifier." + k[len("patch_embed."):]
        elif k == "pos_embed":
            k = "preprocessor.pos_embed"
        elif k.startswith("norm."):
            k = "trunk.post_trunk_norm." + k[len("norm."):]
        else:
            continue
        out[k] = v
    return out


def write_aimv2_hf(sd, model, pre=""):
    """transformers' ``Aimv2VisionModel`` layout (modeling_aimv2.py; the renaming of
    convert_aimv2_original_pytorch_to_hf.py applied to the ml-aim keys)."""
    out = {}
    dim = sd["pos_embed"].shape[-1]
    names = {"attn.proj": "attention.out_proj", "mlp.fc1_g": "ffn.gate_proj",
             "mlp.fc1_x": "ffn.up_proj", "mlp.fc2": "ffn.down_proj", "norm1": "rms_norm1",
             "norm2": "rms_norm2"}
    for k, v in sd.items():
        if not k.startswith("blocks."):
            continue
        i, rest = k.split(".", 2)[1:]
        lay = f"{pre}encoder.layers.{i}."
        if rest.startswith("attn.qkv."):
            part = rest.rsplit(".", 1)[1]
            for name, chunk in zip("qkv", v.split(dim, dim=0)):
                out[f"{lay}attention.{name}_proj.{part}"] = chunk
            continue
        for a, b in names.items():
            if rest.startswith(a + "."):
                rest = b + rest[len(a):]
                break
        out[lay + rest] = v
    out[f"{pre}embeddings.patch_embed.weight"] = sd["patch_embed.proj.weight"]
    out[f"{pre}embeddings.patch_embed.bias"] = sd["patch_embed.proj.bias"]
    out[f"{pre}embeddings.rms_norm.weight"] = sd["patch_embed.norm.weight"]
    out[f"{pre}embeddings.position_embedding.weight"] = sd["pos_embed"][0]
    out[f"{pre}rms_norm.weight"] = sd["norm.weight"]
    return out


def write_aimv2_hf_lit(sd, model):
    """transformers' ``Aimv2Model`` (image-text, apple/aimv2-large-patch14-224-lit): the image
    tower under ``vision_model.`` with its attention-pooling head, the text tower, projections."""
    out = write_aimv2_hf(sd, model, pre="vision_model.")
    dim = sd["pos_embed"].shape[-1]
    for name in ("k_proj", "v_proj", "output_proj"):
        out[f"vision_model.head.{name}.weight"] = torch.randn(dim, dim)
    out["vision_model.head.output_proj.bias"] = torch.zeros(dim)
    out["vision_model.head.cls_token"] = torch.randn(1, 1, dim)
    out["text_model.embeddings.token_embedding.weight"] = torch.randn(100, 16)
    out["text_model.encoder.layers.0.attention.q_proj.weight"] = torch.randn(16, 16)
    out["text_model.rms_norm.weight"] = torch.ones(16)
    out["visual_projection.weight"] = torch.randn(16, dim)
    out["text_projection.weight"] = torch.randn(16, 16)
    out["logit_scale"] = torch.tensor(2.66)
    return out


def write_deit3(sd, model):
    out = {k.replace("ls1.gamma", "gamma_1").replace("ls2.gamma", "gamma_2"): v for k, v in sd.items()}
    return {"model": out}


def write_timm(sd, model):
    return dict(sd)


# family: (timm model, extra kwargs, pre-training img size, format, writer, final norm in file)
FAMILIES = {
    "dinov2": ("vit_small_patch14_dinov2", {}, 56, "dinov2", write_dinov2, True),
    "dinov2_reg": ("vit_small_patch14_reg4_dinov2", {}, 56, "dinov2", write_dinov2, True),
    "dinov3": ("vit_small_patch16_dinov3_qkvb", {}, 64, "dinov3", write_dinov3, True),
    "dinov3_distilled": ("vit_small_patch16_dinov3", {}, 64, "dinov3", write_dinov3_distilled, True),
    "open_clip_siglip": ("vit_base_patch16_siglip_224", {}, 64, "open_clip_timm",
                         write_open_clip_timm, True),
    "open_clip_eva02": ("eva02_tiny_patch14_224", {}, 56, "open_clip_timm", write_open_clip_timm, True),
    "eva02": ("eva02_base_patch14_224", {}, 56, "eva02", write_eva02, False),
    "openai_clip": ("vit_base_patch16_clip_224", {}, 64, "openai_clip", write_openai_clip, True),
    # PE-Spatial: no class token, LayerScale, patch 14
    "pe_spatial": ("vit_pe_spatial_gigantic_patch14_448", dict(mlp_ratio=4.0), 56, "pe", write_pe, False),
    "siglip2_hf": ("vit_base_patch16_siglip_224", {}, 64, "siglip2_hf", write_siglip2_hf, True),
    "aimv2": ("aimv2_large_patch14_224", {}, 56, "aimv2", write_aimv2, True),
    # the hub file (apple/aimv2-large-patch14-224, model.safetensors): the ml-aim names
    "aimv2_hub": ("aimv2_large_patch14_224", {}, 56, "aimv2", write_aimv2, True),
    "aimv2_hf": ("aimv2_large_patch14_224", {}, 56, "aimv2_hf", write_aimv2_hf, True),
    "aimv2_hf_lit": ("aimv2_large_patch14_224", {}, 56, "aimv2_hf", write_aimv2_hf_lit, True),
    "deit3": ("deit3_small_patch16_224", {}, 64, "deit3", write_deit3, True),
    "timm_dinov2_reg": ("vit_small_patch14_reg4_dinov2", {}, 56, "timm", write_timm, True),
    "timm_eva02": ("eva02_tiny_patch14_224", {}, 56, "timm", write_timm, True),
}


# written as Hugging Face model.safetensors files
SAFETENSORS_FAMILIES = ("siglip2_hf", "aimv2_hub", "aimv2_hf", "aimv2_hf_lit")


def _source(name, kw, img, seed=0):
    """A small timm model with random weights (every tensor, LayerScale included, O(0.1-1))."""
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False, dynamic_img_size=True, img_size=img,
                              num_classes=16, **dict(SMALL, **kw))
    with torch.no_grad():
        for key, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in key or "gamma" in key):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    return model.eval()


def _write(family, tmp_path, seed=0):
    name, kw, img, fmt, writer, _ = FAMILIES[family]
    model = _source(name, kw, img, seed)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    data = writer(sd, model)
    if family in SAFETENSORS_FAMILIES:
        from safetensors.torch import save_file

        path = tmp_path / "model.safetensors"
        save_file({k: v.contiguous() for k, v in data.items()}, str(path))
    else:
        path = tmp_path / f"{family}.pth"
        torch.save(data, path)
    return model, path


def _timm_loaded(family, path):
    """The same file loaded into a timm model by timm's own filter (the reference)."""
    from vitdet_bench.checkpoint import read_checkpoint, unwrap_state_dict

    name, kw, img, fmt, _, _ = FAMILIES[family]
    model = _source(name, kw, img, seed=1)
    sd = unwrap_state_dict(read_checkpoint(path), str(path))
    missing, _ = model.load_state_dict(TIMM_FORMATS[fmt][1](sd, model), strict=False)
    assert all(k.startswith(("head.", "fc_norm.", "attn_pool.", "norm.")) for k in missing), missing
    return model.eval()


def _trunk(family, **kw):
    name, extra, img, _, _, _ = FAMILIES[family]
    args = dict(img_size=img, pretrain_img_size=img, model_kwargs=dict(SMALL, **extra))
    args.update(kw)
    return TimmTrunk(name, **args)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def _grid(tokens, side):
    """(B, side*side, C) tokens -> (B, C, side, side) map."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, side, side)


def _bilinear_rows(n_out, n_in, patch, stride=16):
    """(n_out, n_in) weights: output cell i, centred at stride*(i+0.5) px, reads the
    stride-``patch`` map at position stride*(i+0.5)/patch - 0.5, clamped to the map."""
    weights = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        pos = min(max(stride * (i + 0.5) / patch - 0.5, 0.0), n_in - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, n_in - 1)
        frac = pos - lo
        weights[i, lo] += 1.0 - frac
        weights[i, hi] += frac
    return weights


def _reference_stride16(feature, patch, input_hw):
    """The stride-16 taps of the native route, written out: ceil(H/16) x ceil(W/16) cells."""
    if patch == 16:
        return feature
    rows = _bilinear_rows(math.ceil(input_hw[0] / 16), feature.shape[-2], patch).to(feature)
    cols = _bilinear_rows(math.ceil(input_hw[1] / 16), feature.shape[-1], patch).to(feature)
    return torch.einsum("ih,bchw,jw->bcij", rows, feature, cols)


def _tokens(out, key):
    return out[key].flatten(2).transpose(1, 2)


# --------------------------------------------------------- load + equivalence
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_official_layout_loads_and_matches_timm(family, tmp_path):
    model, path = _write(family, tmp_path)
    fmt, final_norm = FAMILIES[family][3], FAMILIES[family][5]
    trunk = _trunk(family, patch_route="native", attention_strategy="global", prefix_tokens="keep",
                   pos_embed_grid="pretrain", use_final_norm=final_norm, out_block_indexes=(3,))
    report = load_pretrained(trunk, path, format="auto" if fmt != "timm" else "timm")
    assert report.format == fmt
    assert not report.unexpected
    # every trunk tensor comes from the file, none initialized fresh
    assert sorted(report.loaded) == sorted(trunk.state_dict())
    assert not report.initialized
    model = _timm_loaded(family, path)
    if not final_norm:
        # the file's final norm is not the forward_features one (EVA-02 MIM: timm moves it to fc_norm)
        model.norm = nn.Identity()
    model, trunk = model.double(), trunk.double()
    img = FAMILIES[family][2]
    x = torch.randn(2, 3, img, img, dtype=torch.float64)
    with torch.no_grad():
        want = model.forward_features(x)[:, model.num_prefix_tokens:]
        got = trunk(x)["block3"]
    # patch 14 (native): the blocks' stride-14 map, then resampled onto the stride-16 grid
    want = _reference_stride16(_grid(want, img // trunk.patch_size), trunk.patch_size, (img, img))
    assert trunk.output_shape()["block3"].stride == 16
    assert _rel(got, want) <= 1e-10, family


@pytest.mark.parametrize("family", ["dinov2_reg", "openai_clip", "siglip2_hf", "dinov3", "pe_spatial",
                                    "aimv2_hub", "aimv2_hf_lit"])
def test_every_file_tensor_is_loaded_or_ignored_by_a_named_rule(family, tmp_path):
    _, path = _write(family, tmp_path)
    trunk = _trunk(family, attention_strategy="window_global", window_size=2)
    report = load_pretrained(trunk, path)
    assert not report.unexpected
    assert all(rule for _, rule in report.ignored)
    ignored = {k for k, _ in report.ignored}
    if family == "dinov2_reg":
        assert {"mask_token", "register_tokens", "cls_token"} <= ignored
        assert any(k.startswith("pos_embed[") for k in ignored) is False  # no_embed_class: no slot
    if family == "openai_clip":
        assert {"token_embedding.weight", "logit_scale", "transformer.resblocks.0.attn.in_proj_weight",
                "visual.proj", "visual.class_embedding", "visual.ln_post.weight"} <= ignored
        assert "pos_embed[:, :1]" in ignored
    if family == "dinov3":
        assert {"rope_embed.periods", "mask_token", "storage_tokens",
                "blocks.0.attn.qkv.bias_mask"} <= ignored
    if family == "siglip2_hf":
        assert {"logit_scale", "vision_model.head.latent"} <= ignored
    if family == "aimv2_hub":
        assert path.suffix == ".safetensors" and report.format == "aimv2"
    if family == "aimv2_hf_lit":
        assert report.format == "aimv2_hf"
        assert {"logit_scale", "text_model.embeddings.token_embedding.weight", "visual_projection.weight",
                "vision_model.head.cls_token", "vision_model.head.k_proj.weight",
                "vision_model.rms_norm.weight"} <= ignored


# every family's timm hub layout: timm's own state_dict (the official layouts have their
# entries in FAMILIES; timm_* there are two of these)
TIMM_LAYOUT_FAMILIES = sorted(f for f, spec in FAMILIES.items() if spec[3] != "timm")


@pytest.mark.parametrize("family", TIMM_LAYOUT_FAMILIES)
def test_timm_layout_of_every_family_loads_and_matches_timm(family, tmp_path):
    name, kw, img, _, _, _ = FAMILIES[family]
    model = _source(name, kw, img)
    data = {k: v.detach().clone() for k, v in model.state_dict().items()}
    path = tmp_path / f"{family}_timm.pth"
    torch.save(data, path)
    final_norm = not isinstance(model.norm, nn.Identity)
    trunk = _trunk(family, patch_route="native", attention_strategy="global", prefix_tokens="keep",
                   pos_embed_grid="pretrain", use_final_norm=final_norm, out_block_indexes=(3,))
    report = load_pretrained(trunk, path, format="timm")
    assert report.format == "timm" and not report.unexpected and not report.initialized
    assert sorted(report.loaded) == sorted(trunk.state_dict())
    # every tensor of the file: loaded, or ignored by a named rule (the head here)
    ignored = {k for k, _ in report.ignored}
    assert all(rule for _, rule in report.ignored)
    assert set(data) <= set(report.loaded) | ignored, set(data) - set(report.loaded) - ignored
    assert {k for k in data if k.startswith("head.")} <= ignored
    model, trunk = model.double(), trunk.double()
    x = torch.randn(2, 3, img, img, dtype=torch.float64)
    with torch.no_grad():
        want = model.forward_features(x)[:, model.num_prefix_tokens:]
        got = trunk(x)["block3"]
    want = _reference_stride16(_grid(want, img // trunk.patch_size), trunk.patch_size, (img, img))
    assert _rel(got, want) <= 1e-10, family
    # the detection defaults (windows, prefix tokens dropped, table resized) load it strictly too
    report = load_pretrained(_trunk(family, img_size=2 * img, attention_strategy="window_global",
                                    window_size=2), path, format="timm")
    assert not report.unexpected and not report.initialized


def test_unknown_tensor_in_file_is_an_error(tmp_path):
    _, path = _write("dinov2", tmp_path)
    sd = torch.load(path)
    sd["blocks.0.attn.extra_scale"] = torch.ones(3)
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r"dinov2\.pth.*blocks\.0\.attn\.extra_scale"):
        load_pretrained(_trunk("dinov2"), path)


def test_aimv2_hf_vision_key_it_does_not_know_is_an_error(tmp_path):
    # the renaming leaves out what it does not know; the load names it unexpected
    from safetensors.torch import load_file, save_file

    _, path = _write("aimv2_hf", tmp_path)
    sd = load_file(str(path))
    sd["encoder.layers.1.attention.k_norm.weight"] = torch.ones(64)
    save_file(sd, str(path))
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*encoder\.layers\.1\.attention\.k_norm"):
        load_pretrained(_trunk("aimv2_hf"), path)


def test_dinov2_file_without_layer_scale_is_an_error(tmp_path):
    _, path = _write("dinov2", tmp_path)
    sd = torch.load(path)
    sd = {k: v for k, v in sd.items() if ".ls1." not in k and ".ls2." not in k}
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r"dinov2\.pth.*LayerScale.*blocks\.0\.ls1\.gamma"):
        load_pretrained(_trunk("dinov2"), path, format="dinov2")


def test_patch14_resampled_to_16_by_timm(tmp_path):
    from timm.layers import resample_patch_embed

    model, path = _write("dinov2_reg", tmp_path)
    trunk = _trunk("dinov2_reg", img_size=64, attention_strategy="window", window_size=2)
    report = load_pretrained(trunk, path)
    w = trunk.patch_embed.proj.weight.detach()
    assert w.shape[-2:] == (16, 16) and trunk.grid_size == (4, 4)
    want = resample_patch_embed(model.patch_embed.proj.weight.detach(), (16, 16))
    assert torch.equal(w, want)
    assert ("patch_embed.proj.weight", (64, 3, 14, 14), (64, 3, 16, 16)) in report.resized
    assert ("pos_embed", (1, 4, 4, 64), (1, 4, 4, 64)) not in report.resized
    out = trunk(torch.randn(1, 3, 64, 64))
    assert sorted(out) == ["block0", "block1", "block2", "block3"]
    assert all(v.shape == (1, 64, 4, 4) for v in out.values())
    assert {k: (s.channels, s.stride) for k, s in trunk.output_shape().items()} == {
        f"block{i}": (64, 16) for i in range(4)}


def test_native_patch14_pads_input_to_whole_windows():
    trunk = _trunk("dinov2", img_size=64, patch_route="native", attention_strategy="window", window_size=3)
    assert trunk.patch_size == 14 and trunk.input_multiple == 42 and trunk.grid_size == (6, 6)
    x = torch.randn(1, 3, 64, 64)
    assert trunk.forward_patch_grid(x)["block3"].shape == (1, 64, 6, 6)
    # the taps the necks get: the stride-16 grid of the 64 px input
    out = trunk(x)
    assert all(v.shape == (1, 64, 4, 4) for v in out.values())
    assert {k: s.stride for k, s in trunk.output_shape().items()} == {f"block{i}": 16 for i in range(4)}


@pytest.mark.parametrize("side", [56, 64, 100, 112, 129])
def test_native_taps_resampling_is_the_exact_14_to_16_mapping(side):
    # The padded map may be shorter than the last stride-16 cells need (56 px: 4 tokens at
    # 14, 4 cells at 16 reading up to position 3.5): those read the map's last row/column.
    from vitdet_bench.modeling.backbone.timm_trunk import resample_taps_to_stride

    grid = math.ceil(side / 14)
    feature = torch.randn(2, 5, grid, grid + 1, dtype=torch.float64)
    got = resample_taps_to_stride(feature, 14, (side, side + 14))
    want = _reference_stride16(feature, 14, (side, side + 14))
    assert got.shape == (2, 5, math.ceil(side / 16), math.ceil((side + 14) / 16))
    assert _rel(got, want) <= 1e-14


def test_native_route_is_named_in_the_load_report(tmp_path):
    _, path = _write("dinov2_reg", tmp_path)
    native = load_pretrained(_trunk("dinov2_reg", img_size=64, patch_route="native",
                                    attention_strategy="window", window_size=2), path)
    assert any("patch_route='native'" in note and "stride-16" in note for note in native.notes)
    assert not any(k == "patch_embed.proj.weight" for k, _, _ in native.resized)
    resampled = load_pretrained(_trunk("dinov2_reg", img_size=64, attention_strategy="window",
                                       window_size=2), path)
    assert any("patch_route='resample16'" in note for note in resampled.notes)
    assert not any("patch_route='native'" in note for note in resampled.notes)


# ------------------------------------------------ references written out here
def _reference_tokens(trunk, x, window_blocks, window_size):
    """Drop prefix tokens, then run timm's blocks window by window with explicit loops."""
    B, unit = x.shape[0], trunk.input_multiple
    x = torch.nn.functional.pad(x, (0, (-x.shape[-1]) % unit, 0, (-x.shape[-2]) % unit))
    t = trunk.patch_embed.proj(x).permute(0, 2, 3, 1)
    t = trunk.patch_embed.norm(t)
    H, W, C = t.shape[1:]
    if trunk.pos_embed is not None:
        table = trunk.pos_embed[:, trunk.pos_embed_num_prefix:] if trunk.pos_embed.dim() == 3 else trunk.pos_embed
        t = t + table.reshape(1, H, W, C)
    t = trunk.norm_pre(t)
    full_rope = trunk.rope.get_embed(shape=[H, W]).reshape(H, W, -1) if trunk.rope is not None else None
    ws = window_size
    for i, blk in enumerate(trunk.blocks):
        if hasattr(blk.attn, "num_prefix_tokens"):
            # Eva attention: no prefix tokens are left, every token is rotated
            blk = copy.deepcopy(blk)
            blk.attn.num_prefix_tokens = 0
        if i not in window_blocks:
            kw = {"rope": full_rope.reshape(H * W, -1)} if full_rope is not None else {}
            t = blk(t.reshape(B, H * W, C), **kw).reshape(B, H, W, C)
            continue
        # ViTDet's windowed block: the normalized tokens zero-padded into windows, the
        # attention branch per window (LayerScale: ls1 / gamma_1), then the MLP branch
        # on the whole grid
        normed = blk.norm1(t)
        attn = torch.zeros_like(t)
        for r0 in range(0, H, ws):
            for c0 in range(0, W, ws):
                win = torch.zeros(B, ws, ws, C, dtype=t.dtype)
                h, w = min(ws, H - r0), min(ws, W - c0)
                win[:, :h, :w] = normed[:, r0:r0 + h, c0:c0 + w]
                kw = {}
                if full_rope is not None:
                    D = full_rope.shape[-1] // 2
                    rope = torch.cat([torch.zeros(ws, ws, D), torch.ones(ws, ws, D)], -1).to(t.dtype)
                    rope[:h, :w] = full_rope[r0:r0 + h, c0:c0 + w]
                    kw = {"rope": rope.reshape(ws * ws, -1)}
                y = blk.attn(win.reshape(B, ws * ws, C), **kw).reshape(B, ws, ws, C)
                attn[:, r0:r0 + h, c0:c0 + w] = y[:, :h, :w]
        t = t + _layer_scale(blk, 1, attn)
        t = t + _layer_scale(blk, 2, blk.mlp(blk.norm2(t)))
    return t.reshape(B, H * W, C)


def _layer_scale(blk, branch, y):
    """timm's LayerScale of a block branch: ``ls1`` / ``ls2`` (Block), ``gamma_1`` / ``gamma_2`` (EvaBlock)."""
    if hasattr(blk, f"ls{branch}"):
        return getattr(blk, f"ls{branch}")(y)
    gamma = getattr(blk, f"gamma_{branch}")
    return y if gamma is None else gamma * y


@pytest.mark.parametrize("family", ["dinov2_reg", "eva02", "dinov3", "siglip2_hf", "pe_spatial"])
def test_windowed_blocks_match_a_windowed_reference(family, tmp_path):
    _, path = _write(family, tmp_path)
    # patch 16: a 4x4 grid, padded to 3x3 windows; patch 14 (native): the input padded
    # to a multiple of 14 x 3, a 6x6 grid
    img = 64 if FAMILIES[family][2] == 64 else 70
    trunk = _trunk(family, img_size=img, patch_route="native", attention_strategy=None,
                   window_block_indexes=(0, 1, 2), window_size=3, out_block_indexes=(3,))
    load_pretrained(trunk, path)
    trunk = trunk.double().eval()
    x = torch.randn(2, 3, img, img, dtype=torch.float64)
    with torch.no_grad():
        got = trunk(x)["block3"]
        want = _reference_tokens(trunk, x, trunk.window_block_indexes, 3)
    side = trunk.grid_size[0]
    want = _reference_stride16(_grid(want, side), trunk.patch_size, (img, img))
    assert trunk.window_block_indexes == (0, 1, 2)
    assert _rel(got, want) <= 1e-12


def test_checkpointed_blocks_give_the_same_values_and_gradients(tmp_path):
    _, path = _write("eva02", tmp_path)
    nets = []
    for strategy in ("global", "global_checkpoint"):
        trunk = _trunk("eva02", attention_strategy=strategy, out_block_indexes=(3,))
        load_pretrained(trunk, path)
        nets.append(trunk.double().train())
    x = torch.randn(1, 3, 56, 56, dtype=torch.float64)
    outs = [n(x)["block3"] for n in nets]
    for o in outs:
        o.square().sum().backward()
    assert torch.equal(outs[0], outs[1])
    g = [n.blocks[0].attn.q_proj.weight.grad for n in nets]
    assert torch.allclose(g[0], g[1], rtol=0, atol=1e-12)


# --------------------------------------------------------------- RoPE formulas
def test_rope_partition_is_the_full_grid_cut_into_windows():
    trunk = _trunk("eva02", img_size=70, patch_route="native")
    H = W = 5
    ws = 3
    full, windows = window_rope_tables(trunk.rope, (H, W), ws, "partition")
    D = full.shape[-1] // 2
    assert windows.shape == (4, ws * ws, 2 * D)
    for win in range(4):
        r0, c0 = (win // 2) * ws, (win % 2) * ws
        for i in range(ws):
            for j in range(ws):
                row = windows[win, i * ws + j]
                if r0 + i < H and c0 + j < W:
                    assert torch.equal(row, full[(r0 + i) * W + c0 + j])
                else:  # padding: identity rotation
                    assert torch.equal(row, torch.cat([torch.zeros(D), torch.ones(D)]))


def test_rope_eva02_window_grid_rescales_to_the_pretraining_grid():
    # EVA-02 (reference grid 16x16, 224/14): both a window of ws tokens and the full grid
    # of H span the reference grid, so window position i has the coordinate of global
    # position i * H / ws (EVA-02 det's rope_win / rope_glb).
    trunk = _trunk("eva02", img_size=112, patch_route="native")
    assert tuple(trunk.rope.ref_feat_shape) == (16, 16)
    H = W = 8
    ws = 4
    full, win = window_rope_tables(trunk.rope, (H, W), ws, "window_grid")
    assert win.shape == (1, ws * ws, full.shape[-1])
    for i in range(ws):
        for j in range(ws):
            assert torch.allclose(win[0, i * ws + j], full[(2 * i) * W + 2 * j], rtol=0, atol=1e-6)
    # and the coordinate is i / ws * ref: at i = 1 the lowest band turns by ref/ws = 1 grid unit
    part = window_rope_tables(trunk.rope, (H, W), ws, "partition")[1]
    assert not torch.allclose(win[0], part[0])


def test_rope_dinov3_stays_normalized_to_the_whole_grid():
    trunk = _trunk("dinov3", img_size=96, patch_route="native")
    rope = trunk.rope
    H = W = 6
    ws = 3
    full, win = window_rope_tables(rope, (H, W), ws, "window_grid")
    _, part = window_rope_tables(rope, (H, W), ws, "partition")
    # DINOv3's formula: coordinate c = 2 (i + 0.5) / H - 1, angle 2 pi c / period
    ii, jj = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    coords = torch.stack([(ii + 0.5) / H, (jj + 0.5) / W], -1).reshape(-1, 2) * 2 - 1
    angles = (2 * math.pi * coords[:, :, None] / rope.periods[None, None]).flatten(1)
    want = torch.cat([angles.sin(), angles.sin(), angles.cos(), angles.cos()], -1)
    assert torch.allclose(full, want, rtol=0, atol=1e-6)
    # window scheme: the first window's positions of the whole grid, not a 3x3 grid of its own
    assert torch.equal(win[0], part[0])
    assert not torch.allclose(win[0], rope.get_embed(shape=[ws, ws]))


def test_keep_prefix_needs_global_blocks():
    with pytest.raises(ValueError, match="prefix_tokens='keep' needs every block global"):
        _trunk("dinov2", prefix_tokens="keep", attention_strategy="window", pos_embed_grid="pretrain")


def test_formats_are_registered():
    from vitdet_bench.checkpoint import registered_formats

    assert set(TIMM_FORMATS) <= set(registered_formats())


def test_rope_dinov3_window_schemes_agree_without_padding(tmp_path):
    # RoPE scores depend on offsets only: with whole-grid coordinates the first window's
    # table serves every window, so both schemes give the same features when no
    # window is padded (6x6 grid, 3x3 windows).
    _, path = _write("dinov3", tmp_path)
    outs = []
    for scheme in ("partition", "window_grid"):
        trunk = _trunk("dinov3", img_size=96, attention_strategy="window", window_size=3,
                       rope_windows=scheme, out_block_indexes=(3,))
        load_pretrained(trunk, path)
        trunk = trunk.double().eval()
        torch.manual_seed(0)
        x = torch.randn(1, 3, 96, 96, dtype=torch.float64)
        with torch.no_grad():
            outs.append(trunk(x)["block3"])
    # timm builds the rotary tables in float32: offset invariance holds to its rounding
    # (a scheme that cut the wrong positions is off by ~1e-1).
    assert _rel(outs[1], outs[0]) <= 1e-6


def test_position_table_at_pretraining_grid_equals_the_one_resized_at_load(tmp_path):
    # ViTDet's recipe (resize in every forward) and the Benchmarking one (resize once)
    # give the same features at img_size from the same file.
    _, path = _write("openai_clip", tmp_path)
    outs = []
    for grid in ("detection", "pretrain"):
        trunk = _trunk("openai_clip", img_size=128, attention_strategy="window", window_size=4,
                       pos_embed_grid=grid, out_block_indexes=(3,))
        report = load_pretrained(trunk, path)
        if grid == "detection":
            assert trunk.pos_embed.shape == (1, 8, 8, 64)
            assert ("pos_embed", (1, 4, 4, 64), (1, 8, 8, 64)) in report.resized
        else:
            assert trunk.pos_embed.shape == (1, 17, 64)
        torch.manual_seed(0)
        with torch.no_grad():
            outs.append(trunk(torch.randn(1, 3, 128, 128))["block3"])
    assert torch.allclose(outs[0], outs[1], rtol=0, atol=1e-5)


def test_sdpa_switch_is_timms_fused_attention(tmp_path):
    _, path = _write("eva02", tmp_path)
    outs = []
    for use_sdpa in (True, False):
        trunk = _trunk("eva02", attention_strategy="window", window_size=2, use_sdpa=use_sdpa,
                       out_block_indexes=(3,))
        load_pretrained(trunk, path)
        assert all(b.attn.fused_attn is use_sdpa for b in trunk.blocks)
        trunk = trunk.double()
        torch.manual_seed(0)
        with torch.no_grad():
            outs.append(trunk(torch.randn(1, 3, 64, 64, dtype=torch.float64))["block3"])
    assert _rel(outs[1], outs[0]) <= 1e-12


def test_layer_decay_counts_the_family_blocks():
    from vitdet_bench.solver.param_groups import get_layer_id

    trunk = _trunk("openai_clip", prefix_tokens="keep", attention_strategy="global",
                   pos_embed_grid="pretrain")
    ids = {name: get_layer_id("backbone.net." + name, 4) for name, _ in trunk.named_parameters()}
    assert ids["pos_embed"] == ids["cls_token"] == ids["patch_embed.proj.weight"] == 0
    assert ids["norm_pre.weight"] == 0
    assert ids["blocks.0.attn.qkv.weight"] == 1 and ids["blocks.3.mlp.fc2.bias"] == 4
    reg = _trunk("dinov2_reg", prefix_tokens="keep", attention_strategy="global",
                 pos_embed_grid="pretrain")
    assert get_layer_id("backbone.net.reg_token", 4) == 0 and hasattr(reg, "reg_token")


def test_yacs_builder_equals_the_lazy_config():
    from detectron2.config import CfgNode, LazyConfig, get_cfg, instantiate
    from detectron2.layers import ShapeSpec
    from detectron2.modeling import BACKBONE_REGISTRY
    import os

    cfg = get_cfg()
    cfg.MODEL.FPN.OUT_CHANNELS = 64
    cfg.MODEL.TIMM = CfgNode(dict(
        MODEL_NAME="vit_small_patch14_reg4_dinov2", MODEL_KWARGS=dict(embed_dim=128, depth=8, num_heads=4),
        IMG_SIZE=256, PRETRAIN_IMG_SIZE=56, WINDOW_SIZE=8, DROP_PATH_RATE=0.0))
    ours = BACKBONE_REGISTRY.get("build_timm_trunk_backbone")(cfg, ShapeSpec(channels=3))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lazy = instantiate(LazyConfig.load(os.path.join(repo, "configs", "families",
                                                    "dinov2reg_tiny_shapes.py")).model.backbone)
    shapes = lambda m: {k: tuple(v.shape) for k, v in m.state_dict().items()}  # noqa: E731
    assert shapes(ours) == shapes(lazy)
    assert ours.bottom_up.net.window_block_indexes == (0, 2, 4, 6)


def test_eva02_p14to16_file_keeps_its_16x16_kernel(tmp_path):
    _, path = _write("eva02", tmp_path)
    data = torch.load(path)
    kernel16 = torch.randn(64, 3, 16, 16)
    data["module"]["patch_embed.proj.weight"] = kernel16
    torch.save(data, path)
    trunk = _trunk("eva02", img_size=64, attention_strategy="window", window_size=2)
    report = load_pretrained(trunk, path)
    assert report.format == "eva02" and not report.unexpected
    assert torch.equal(trunk.patch_embed.proj.weight.detach(), kernel16)
    assert not any(k == "patch_embed.proj.weight" for k, _, _ in report.resized)


def test_dinov3_nonzero_qkv_bias_into_a_model_without_bias_is_an_error(tmp_path):
    _, path = _write("dinov3_distilled", tmp_path)
    sd = torch.load(path)
    sd["blocks.1.attn.qkv.bias"][0] = 0.5
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r"dinov3_distilled\.pth.*blocks\.1\.attn\.qkv\.bias"):
        load_pretrained(_trunk("dinov3_distilled"), path)
    # all zero: ignored by its named rule
    sd["blocks.1.attn.qkv.bias"].zero_()
    torch.save(sd, path)
    report = load_pretrained(_trunk("dinov3_distilled"), path)
    assert ("blocks.1.attn.qkv.bias",
            "DINOv3 qkv bias, all zeros in this file: the model has no qkv bias") in report.ignored


# ------------------------------------------- native patch 14 through the detectors
def _native_detector(config, family="dinov2_reg", size=128):
    """A detector of ``configs/common/<config>`` with an 8-block, 64-d trunk on the native
    route (window_global: blocks 1/3/5/7 global, the others in 4x4 windows)."""
    from detectron2.config import LazyConfig, instantiate

    cfg = LazyConfig.load(str(REPO_ROOT / "configs" / "common" / config))
    name, extra, img, _, _, _ = FAMILIES[family]
    simple = config == "mask_rcnn_vitdet_timm.py"
    net = cfg.model.backbone.net if simple else cfg.model.backbone.bottom_up.net
    net.update(model_name=name, model_kwargs=dict(SMALL, depth=8, **extra), img_size=size,
               pretrain_img_size=img, patch_route="native", window_size=4, drop_path_rate=0.0)
    if simple:
        net.out_block_indexes = [7]
        cfg.model.backbone.in_feature = "block7"
    else:
        cfg.model.backbone.bottom_up.in_features = ["block1", "block3", "block5", "block7"]
    cfg.model.backbone.square_pad = size
    cfg.model.roi_heads.num_classes = 3
    cfg.model.roi_heads.batch_size_per_image = 32
    cfg.model.proposal_generator.post_nms_topk = (64, 64)
    torch.manual_seed(0)
    return instantiate(cfg.model)


@pytest.mark.parametrize("config", ["mask_rcnn_timm.py", "mask_rcnn_vitdet_timm.py"])
def test_native_patch14_detector_trains_a_step(config, tmp_path):
    # The native route (stride-14 blocks, taps resampled to 16) through the multi-scale
    # adaptor + BN FPN and through ViTDet's simple pyramid: forward and backward, loaded
    # from an official DINOv2 file.
    from detectron2.utils.events import EventStorage

    from vitdet_bench.measure.inputs import synthetic_batch

    source = _source("vit_small_patch14_reg4_dinov2", dict(depth=8), 56)
    path = tmp_path / "dinov2_reg4.pth"
    torch.save(write_dinov2({k: v.detach().clone() for k, v in source.state_dict().items()}, source), path)
    model = _native_detector(config)
    simple = config == "mask_rcnn_vitdet_timm.py"
    trunk = model.backbone.net if simple else model.backbone.bottom_up.net
    report = load_pretrained(trunk, path)
    assert report.format == "dinov2" and not report.unexpected
    # 128 px padded to a multiple of 14 x 4 (168): a 12x12 grid of stride-14 tokens
    assert trunk.patch_size == 14 and trunk.input_multiple == 56 and trunk.grid_size == (12, 12)
    assert trunk.window_block_indexes == (0, 2, 4, 6)
    feats = model.backbone(torch.zeros(1, 3, 128, 128))
    want = {"p2": 32, "p3": 16, "p4": 8, "p5": 4, "p6": 2}
    assert {k: tuple(v.shape[-2:]) for k, v in feats.items()} == {k: (s, s) for k, s in want.items()}
    model.train()
    with EventStorage(0):
        losses = model(synthetic_batch(128, 2, num_classes=3))
    assert {"loss_rpn_cls", "loss_cls", "loss_box_reg", "loss_mask"} <= set(losses)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    for key in ("patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "blocks.7.ls2.gamma"):
        grad = trunk.get_parameter(key).grad
        assert grad is not None and bool(grad.abs().sum() > 0), key


def test_yacs_builder_takes_the_native_route():
    from detectron2.config import CfgNode, get_cfg
    from detectron2.layers import ShapeSpec
    from detectron2.modeling import BACKBONE_REGISTRY

    cfg = get_cfg()
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    cfg.MODEL.TIMM = CfgNode(dict(
        MODEL_NAME="vit_small_patch14_reg4_dinov2", MODEL_KWARGS=dict(SMALL), IMG_SIZE=128,
        PRETRAIN_IMG_SIZE=56, WINDOW_SIZE=4, PATCH_ROUTE="native", DROP_PATH_RATE=0.0))
    backbone = BACKBONE_REGISTRY.get("build_timm_trunk_backbone")(cfg, ShapeSpec(channels=3))
    net = backbone.bottom_up.net
    assert net.patch_route == "native" and net.patch_size == 14
    assert {s.stride for s in net.output_shape().values()} == {16}
    with torch.no_grad():
        feats = backbone(torch.zeros(1, 3, 128, 128))
    assert tuple(feats["p2"].shape) == (1, 32, 32, 32) and tuple(feats["p6"].shape) == (1, 32, 2, 2)


# ------------------------------------------------------------ format detection
def test_pe_file_without_layer_scale_is_detected_as_pe(tmp_path):
    """PE-Spatial-B/L files have a class token and no LayerScale (only G has it): the bare
    ``conv1`` / ``transformer.resblocks.N`` layout is PE's (OpenAI CLIP keeps ``visual.``)."""
    from vitdet_bench.checkpoint import detect_format, read_checkpoint

    name = "vit_pe_spatial_base_patch16_512"
    model = _source(name, {}, 64)
    data = write_pe({k: v.detach().clone() for k, v in model.state_dict().items()}, model)
    assert "class_embedding" in data and not any("ls_1" in k or "ls_2" in k for k in data)
    path = tmp_path / "PE-Spatial-B16-512.pt"
    torch.save(data, path)
    assert detect_format(read_checkpoint(path), str(path)) == "pe"
    trunk = TimmTrunk(name, img_size=64, pretrain_img_size=64, model_kwargs=dict(SMALL))
    report = load_pretrained(trunk, path)
    assert report.format == "pe" and not report.unexpected and not report.initialized


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_one_family_format_claims_each_official_file(family, tmp_path):
    from vitdet_bench.checkpoint import read_checkpoint

    _, path = _write(family, tmp_path)
    raw = read_checkpoint(path)
    claims = [name for name, (detect, _, _) in TIMM_FORMATS.items() if detect is not None and detect(raw)]
    fmt = FAMILIES[family][3]
    assert claims == ([] if fmt == "timm" else [fmt]), (family, claims)


def test_windowed_blocks_need_a_block_class_whose_branches_are_known():
    from timm.models.vision_transformer import ResPostBlock

    kwargs = dict(SMALL, block_fn=ResPostBlock)
    with pytest.raises(ValueError, match="ResPostBlock blocks; windowed blocks need timm's Block"):
        TimmTrunk("vit_small_patch16_224", img_size=64, pretrain_img_size=64, model_kwargs=kwargs,
                  attention_strategy="window", window_size=3)
    # all global: timm's block is called whole, whatever its class
    trunk = TimmTrunk("vit_small_patch16_224", img_size=64, pretrain_img_size=64, model_kwargs=kwargs,
                      attention_strategy="global")
    assert trunk(torch.randn(1, 3, 64, 64))["block3"].shape == (1, 64, 4, 4)


def test_windowed_block_runs_the_mlp_on_the_unpadded_grid():
    """ViTDet's windowed block: the MLP sees the H x W tokens, not the padded windows."""
    trunk = _trunk("dinov2_reg", img_size=64, patch_route="resample16", attention_strategy="window",
                   window_size=3, out_block_indexes=(3,))  # 4x4 grid, padded to 6x6 for windows
    seen = []
    hook = trunk.blocks[0].mlp.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    trunk(torch.randn(2, 3, 64, 64))
    hook.remove()
    assert seen == [(2, 4, 4, trunk.embed_dim)]

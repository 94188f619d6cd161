"""Small timm reference models saved in the public checkpoints' exact layouts.

Each ``make_*`` builds a timm model, randomizes every weight, writes it to ``path``
the way the public release stores it (wrappers, prefixes, extra keys) and returns
the timm model, configured so that its patch-token features are exactly the
function our ``ViT`` computes (no class token; see each docstring).
"""
from __future__ import annotations

import torch
import torch.nn as nn

import vitdet_bench  # noqa: F401  (before detectron2)
from vitdet_bench.modeling.backbone.vit import ViT
from vitdet_bench.utils.io import atomic_torch_save

DIM, DEPTH, HEADS, IMG = 64, 2, 2, 224


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * noise)
            elif "gamma" in name:
                p.copy_(0.5 + 0.1 * noise)
            else:
                p.copy_(0.05 * noise)
    return model.eval()


def timm_vit(seed=0, **kw) -> nn.Module:
    """A timm VisionTransformer without class token (``class_token=False``,
    ``global_pool='avg'``): its blocks see only the patch tokens, like our ViT."""
    from timm.models.vision_transformer import VisionTransformer

    m = VisionTransformer(img_size=IMG, patch_size=16, embed_dim=DIM, depth=DEPTH, num_heads=HEADS,
                          class_token=False, global_pool="avg", num_classes=10, **kw)
    return randomize(m, seed)


def timm_tokens(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """timm's token features after the last block, before the final norm: ``(B, N, C)``."""
    out = {}
    h = model.blocks[-1].register_forward_hook(lambda m, i, o: out.__setitem__("x", o))
    with torch.no_grad():
        model.forward_features(x)
    h.remove()
    return out["x"]


def our_vit(**kw) -> ViT:
    args = dict(img_size=IMG, patch_size=16, embed_dim=DIM, depth=DEPTH, num_heads=HEADS,
                attention_strategy="global", rel_pos=None, use_abs_pos=True,
                out_block_indexes=(DEPTH - 1,))
    args.update(kw)
    return ViT(**args).eval()


def our_tokens(net: ViT, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        y = net(x)[f"block{net.depth - 1}"]
    return y.flatten(2).transpose(1, 2)


def _with_cls(sd: dict, g: torch.Generator, cls_pos_value=None) -> dict:
    """Add the class token and the class position the public files carry."""
    sd = dict(sd)
    pos = sd["pos_embed"]
    cls_pos = (torch.randn(1, 1, pos.shape[-1], generator=g) if cls_pos_value is None
               else torch.full((1, 1, pos.shape[-1]), float(cls_pos_value)))
    sd["pos_embed"] = torch.cat([cls_pos, pos], dim=1)
    sd["cls_token"] = torch.randn(1, 1, pos.shape[-1], generator=g)
    return sd


def _encoder_sd(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head.")}


def make_mae(path, visualize=True, seed=1):
    """``vit_base_patch16_224``-style MAE file: ``{'model': ...}`` with ``cls_token``,
    ``pos_embed`` (1, 1+196, C), ``norm.*``, and (visualization checkpoints)
    ``mask_token`` + ``decoder_*``."""
    ref = timm_vit(seed)
    g = torch.Generator().manual_seed(seed + 100)
    sd = _with_cls(_encoder_sd(ref), g, cls_pos_value=0.0)
    if visualize:
        d = 32
        sd.update({"mask_token": torch.zeros(1, 1, d),
                   "decoder_embed.weight": torch.randn(d, DIM, generator=g),
                   "decoder_embed.bias": torch.zeros(d),
                   "decoder_pos_embed": torch.zeros(1, 197, d),
                   "decoder_blocks.0.norm1.weight": torch.ones(d),
                   "decoder_blocks.0.attn.qkv.weight": torch.randn(3 * d, d, generator=g),
                   "decoder_norm.weight": torch.ones(d), "decoder_norm.bias": torch.zeros(d),
                   "decoder_pred.weight": torch.randn(768, d, generator=g),
                   "decoder_pred.bias": torch.zeros(768)})
    atomic_torch_save({"model": sd}, path)
    return ref


def make_deit(path, bare=False, seed=2):
    """``deit_base_patch16_224`` file: ``{'model': ...}`` (or a bare timm state dict)
    with ``cls_token``, ``pos_embed`` (1, 197, C), ``norm.*`` and ``head.*``."""
    ref = timm_vit(seed)
    g = torch.Generator().manual_seed(seed + 100)
    sd = _with_cls({k: v.clone() for k, v in ref.state_dict().items()}, g)
    atomic_torch_save(sd if bare else {"model": sd}, path)
    return ref


def mocov3_sincos(grid: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """MoCo v3's ``build_2d_sincos_position_embedding`` (vits.py), without the cls slot:
    ``(1, grid*grid, dim)`` = [sin(w*ω), cos(w*ω), sin(h*ω), cos(h*ω)]."""
    gw = torch.arange(grid, dtype=torch.float32)
    gh = torch.arange(grid, dtype=torch.float32)
    gw, gh = torch.meshgrid(gw, gh, indexing="ij")  # MoCo v3 calls meshgrid(grid_w, grid_h)
    pos_dim = dim // 4
    omega = 1.0 / (temperature ** (torch.arange(pos_dim, dtype=torch.float32) / pos_dim))
    out_w = torch.einsum("m,d->md", gw.flatten(), omega)
    out_h = torch.einsum("m,d->md", gh.flatten(), omega)
    return torch.cat([out_w.sin(), out_w.cos(), out_h.sin(), out_h.cos()], dim=1)[None]


def make_mocov3(path, seed=3):
    """MoCo v3 ``vit-b-300ep.pth.tar`` layout: ``{'epoch', 'arch', 'state_dict':
    {'module.base_encoder.*', 'module.momentum_encoder.*', 'module.predictor.*'},
    'optimizer'}``; fixed 2-D sin-cos ``pos_embed`` with a zero class slot; the
    projection MLP under ``head.*``."""
    ref = timm_vit(seed)
    with torch.no_grad():
        ref.pos_embed.copy_(mocov3_sincos(IMG // 16, DIM))
    g = torch.Generator().manual_seed(seed + 100)
    enc = _with_cls(_encoder_sd(ref), g, cls_pos_value=0.0)
    enc["head.0.weight"] = torch.randn(128, DIM, generator=g)
    enc["head.1.running_mean"] = torch.zeros(128)
    sd = {f"module.base_encoder.{k}": v for k, v in enc.items()}
    sd.update({f"module.momentum_encoder.{k}": v.clone() + 1 for k, v in enc.items()})
    sd["module.predictor.0.weight"] = torch.randn(128, 128, generator=g)
    atomic_torch_save({"epoch": 300, "arch": "vit_base", "state_dict": sd,
                       "optimizer": {"state": {}, "param_groups": [{"lr": 1.5e-4, "params": [0]}]}}, path)
    return ref


def timm_beit(seed=4, shared=True):
    """timm ``Beit`` (``beit_base_patch16_224`` family), no absolute embedding, layer scale on."""
    from timm.models.beit import Beit

    m = Beit(img_size=IMG, patch_size=16, embed_dim=DIM, depth=DEPTH, num_heads=HEADS, num_classes=0,
             use_abs_pos_emb=False, use_shared_rel_pos_bias=shared, use_rel_pos_bias=not shared,
             init_values=0.1)
    return randomize(m, seed)


def beit_tokens(model, x: torch.Tensor) -> torch.Tensor:
    """timm Beit's own blocks run on the patch tokens only, with its shared
    relative-position bias sliced to the patch-patch part (``[:, 1:, 1:]``). This
    is exactly Beit minus its class token (which our backbone does not have)."""
    with torch.no_grad():
        t = model.patch_embed(x)
        bias = model.rel_pos_bias()[:, 1:, 1:]
        for blk in model.blocks:
            t = blk(t, shared_rel_pos_bias=bias)
    return t


def make_beit(path, shared=True, seed=4):
    """BEiT ``beit_base_patch16_224_pt22k`` layout: ``{'model': ...}`` with ``cls_token``,
    ``mask_token``, ``blocks.N.gamma_1/2``, ``attn.q_bias/v_bias`` (no k bias),
    ``rel_pos_bias.relative_position_bias_table`` ((2*14-1)^2+3, heads) and its
    ``relative_position_index`` buffer (or per-block tables), ``norm.*``, ``lm_head.*``."""
    ref = timm_beit(seed, shared)
    g = torch.Generator().manual_seed(seed + 100)
    sd = {k: v.clone() for k, v in ref.state_dict().items()}
    n = (IMG // 16) ** 2 + 1
    if shared:
        sd["rel_pos_bias.relative_position_index"] = torch.zeros(n, n, dtype=torch.long)
    else:
        for i in range(DEPTH):
            sd[f"blocks.{i}.attn.relative_position_index"] = torch.zeros(n, n, dtype=torch.long)
    sd["mask_token"] = torch.randn(1, 1, DIM, generator=g)
    sd["norm.weight"], sd["norm.bias"] = torch.ones(DIM), torch.zeros(DIM)
    sd["lm_head.weight"] = torch.randn(8192, DIM, generator=g)
    sd["lm_head.bias"] = torch.zeros(8192)
    atomic_torch_save({"model": sd}, path)
    return ref

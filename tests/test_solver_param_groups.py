"""Layer-wise lr decay param groups (vitdet_bench.solver.get_param_groups)."""
import pytest
import torch.nn as nn

import vitdet_bench  # noqa: F401
from vitdet_bench.layers.norm import LayerNorm2d
from vitdet_bench.solver import get_layer_id, get_param_groups


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.Linear(d, d)
        self.mlp = nn.Linear(d, d)


class TinyViT(nn.Module):
    def __init__(self, d=8, n=3):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, d, 4)
        self.pos_embed = nn.Parameter(nn.init.zeros_(nn.Parameter(__import__("torch").zeros(1, 4, d))))
        self.window_rel_pos_bias = nn.Linear(2, 2)
        self.blocks = nn.ModuleList(Block(d) for _ in range(n))
        self.norm = nn.LayerNorm(d)


class Net(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.net = TinyViT(n=n)
        self.backbone.neck = nn.Sequential(nn.Conv2d(8, 8, 1), LayerNorm2d(8))
        self.roi_heads = nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4), nn.GroupNorm(2, 4))


def _lookup(groups):
    return {id(p): g for g in groups for p in g["params"]}


def test_layer_ids():
    assert get_layer_id("backbone.net.pos_embed", 12) == 0
    assert get_layer_id("backbone.net.patch_embed.proj.weight", 12) == 0
    assert get_layer_id("backbone.net.window_rel_pos_bias.weight", 12) == 0
    assert get_layer_id("backbone.net.blocks.0.attn.qkv.weight", 12) == 1
    assert get_layer_id("backbone.net.blocks.11.mlp.fc1.bias", 12) == 12
    assert get_layer_id("backbone.simfp_2.0.weight", 12) == 13
    assert get_layer_id("roi_heads.box_predictor.cls_score.weight", 12) == 13


def test_exact_lr_factors_and_coverage():
    n, base, decay = 3, 1e-3, 0.7
    model = Net(n)
    groups = get_param_groups(model, base_lr=base, weight_decay=0.1, layer_decay=decay,
                              num_layers=n)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    look = _lookup(groups)
    vit = model.backbone.net
    for i, blk in enumerate(vit.blocks):
        for p in blk.parameters():
            assert look[id(p)]["lr"] == pytest.approx(base * decay ** (n - i))
    for p in [vit.pos_embed, *vit.patch_embed.parameters(), *vit.window_rel_pos_bias.parameters()]:
        assert look[id(p)]["lr"] == pytest.approx(base * decay ** (n + 1))
    for p in [*model.backbone.neck.parameters(), *model.roi_heads.parameters(),
              *vit.norm.parameters()]:
        assert look[id(p)]["lr"] == pytest.approx(base)
    # merged: one group per distinct (lr, wd)
    keys = [(g["lr"], g["weight_decay"]) for g in groups]
    assert len(keys) == len(set(keys))


def test_no_weight_decay_sets():
    model = Net(2)
    groups = get_param_groups(model, base_lr=1.0, weight_decay=0.1, layer_decay=0.5, num_layers=2)
    look = _lookup(groups)
    vit = model.backbone.net
    zero = [vit.pos_embed, vit.patch_embed.bias, vit.blocks[0].norm1.weight,
            vit.blocks[0].norm1.bias, vit.blocks[1].attn.bias, vit.norm.weight,
            model.backbone.neck[1].weight, model.roi_heads[1].weight, model.roi_heads[2].weight,
            model.roi_heads[0].bias]
    decayed = [vit.patch_embed.weight, vit.blocks[0].attn.weight, vit.blocks[1].mlp.weight,
               model.backbone.neck[0].weight, model.roi_heads[0].weight]
    for p in zero:
        assert look[id(p)]["weight_decay"] == 0.0
    for p in decayed:
        assert look[id(p)]["weight_decay"] == 0.1


def test_frozen_params_excluded_and_none_model_error():
    model = Net(2)
    model.backbone.net.pos_embed.requires_grad_(False)
    groups = get_param_groups(model, base_lr=1.0, weight_decay=0.1)
    assert id(model.backbone.net.pos_embed) not in _lookup(groups)
    with pytest.raises(ValueError, match="optimizer.params.model"):
        get_param_groups(None, base_lr=1.0, weight_decay=0.1)

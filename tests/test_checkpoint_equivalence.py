"""Each public layout, loaded into our ViT, computes timm's function to 1e-4.

The public models all carry a class token; our detection backbone has none (the
paper drops it), so a token-for-token comparison needs a reference without one:
timm ViTs are built with ``class_token=False`` (the saved file still gets a
``cls_token`` and a class slot in ``pos_embed``, exactly as the public files do, and
the loader must drop both), and for BEiT - whose timm model always has a class
token - the reference runs timm's own blocks on the patch tokens with timm's
shared bias sliced to the patch-patch part (``tests/checkpoint_fixtures.beit_tokens``).
"""

import torch

import checkpoint_fixtures as F
from vitdet_bench.checkpoint import load_pretrained

X = torch.randn(2, 3, F.IMG, F.IMG, generator=torch.Generator().manual_seed(0))


def _check(ref_tokens, net):
    ours = F.our_tokens(net, X)
    assert ours.shape == ref_tokens.shape
    err = (ours - ref_tokens).abs().max().item()
    assert err < 1e-4, err


def test_mae_matches_timm(tmp_path):
    ref = F.make_mae(tmp_path / "mae_pretrain_vit_base.pth")
    net = F.our_vit()
    rep = load_pretrained(net, tmp_path / "mae_pretrain_vit_base.pth")
    assert rep.format == "mae" and not rep.unexpected and not rep.resized
    _check(F.timm_tokens(ref, X), net)


def test_deit_matches_timm(tmp_path):
    for bare in (False, True):
        p = tmp_path / f"deit_{bare}.pth"
        ref = F.make_deit(p, bare=bare)
        net = F.our_vit()
        rep = load_pretrained(net, p)
        assert rep.format == "supervised"
        assert any(k.startswith("head.") for k, _ in rep.ignored)
        _check(F.timm_tokens(ref, X), net)


def test_mocov3_matches_timm(tmp_path):
    ref = F.make_mocov3(tmp_path / "vit-b-300ep.pth.tar")
    net = F.our_vit()
    rep = load_pretrained(net, tmp_path / "vit-b-300ep.pth.tar")
    assert rep.format == "mocov3"
    ign = dict(rep.ignored)
    assert "momentum encoder" in ign["module.momentum_encoder.*"]
    assert "predictor" in ign["module.predictor.*"]
    _check(F.timm_tokens(ref, X), net)


def test_beit_matches_timm(tmp_path):
    ref = F.make_beit(tmp_path / "beit.pth")
    net = F.our_vit(use_abs_pos=False, rel_pos="shared", layer_scale_init_value=0.1)
    rep = load_pretrained(net, tmp_path / "beit.pth")
    assert rep.format == "beit" and not rep.resized
    assert "global_rel_pos_bias.relative_position_bias_table" in rep.loaded
    _check(F.beit_tokens(ref, X), net)

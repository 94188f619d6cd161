"""ViT: checkpointing (any subset of blocks) and the attention paths change neither outputs nor gradients.

The first two tests run on each device (``device`` fixture, tests/conftest.py); the
query-blocked kernel is CPU-only, so its instances are CPU-only too."""
import pytest
import torch

import vitdet_bench  # noqa: F401
from vitdet_bench.layers import attention as A
from vitdet_bench.modeling.backbone.vit import ViT

TINY = dict(img_size=64, patch_size=8, embed_dim=32, depth=4, num_heads=2, window_size=3,
            rel_pos_init="random")


def _run(model, x):
    out = model(x)
    loss = sum((o * torch.linspace(0, 1, o.numel(), device=o.device).view_as(o)).sum()
               for o in out.values())
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in out.items()}, grads


def _assert_same(a, b):
    (oa, ga), (ob, gb) = a, b
    assert oa.keys() == ob.keys() and ga.keys() == gb.keys()
    for k in oa:
        torch.testing.assert_close(oa[k], ob[k], atol=1e-5, rtol=1e-5)
    for k in ga:
        torch.testing.assert_close(ga[k], gb[k], atol=1e-5, rtol=1e-5, msg=k)


@pytest.mark.parametrize("rel_pos", ["shared", "decomposed"])
@pytest.mark.parametrize("ckpt", [(0, 1, 2, 3), (1, 2)])
@pytest.mark.parametrize("chunked", [False, True])
def test_checkpointing_same_outputs_and_grads(monkeypatch, device, rel_pos, ckpt, chunked):
    if chunked and device != "cpu":
        pytest.skip("the query-blocked attention kernel is CPU-only")
    monkeypatch.setattr(A, "CPU_CHUNKED_MIN_TOKENS", 1 if chunked else 0)
    torch.manual_seed(0)
    kw = dict(TINY, attention_strategy=None, window_block_indexes=(0, 2), rel_pos=rel_pos)
    base = ViT(**kw).to(device)
    ck = ViT(**dict(kw, checkpoint_block_indexes=ckpt)).to(device)
    ck.load_state_dict(base.state_dict())
    assert [b.use_checkpoint for b in ck.blocks] == [i in ckpt for i in range(4)]
    x = torch.randn(2, 3, 64, 64).to(device)
    _assert_same(_run(base, x), _run(ck, x))


@pytest.mark.parametrize("strategy", ["window", "window_global", "global_checkpoint", "global"])
def test_sdpa_chunked_and_reference_paths_agree(monkeypatch, device, strategy):
    torch.manual_seed(0)
    ref = ViT(**dict(TINY, attention_strategy=strategy, use_sdpa=False)).to(device)
    fast = ViT(**dict(TINY, attention_strategy=strategy, use_sdpa=True)).to(device)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 64, 64).to(device)
    r = _run(ref, x)
    # SDPA (dense mask) and the query-blocked CPU kernel (on CUDA both settings take SDPA)
    for chunk_min in (0, 1):
        monkeypatch.setattr(A, "CPU_CHUNKED_MIN_TOKENS", chunk_min)
        fast.zero_grad(set_to_none=True)
        _assert_same(r, _run(fast, x))


def test_state_dict_keys_stable():
    m = ViT(**dict(TINY, attention_strategy="global_checkpoint", layer_scale_init_value=0.1))
    keys = set(m.state_dict())
    for k in ("patch_embed.proj.weight", "pos_embed", "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight",
              "blocks.3.attn.proj.bias", "blocks.1.norm2.weight", "blocks.2.mlp.fc1.weight",
              "blocks.2.mlp.fc2.bias", "blocks.0.gamma_1", "blocks.0.gamma_2",
              "global_rel_pos_bias.relative_position_bias_table"):
        assert k in keys, k
    assert not any("_checkpoint_wrapped_module" in k for k in keys)
    assert m.pos_embed.shape == (1, 8, 8, 32)
    w = ViT(**dict(TINY, attention_strategy="window_global", rel_pos="decomposed"))
    assert "blocks.0.attn.rel_pos_h" in w.state_dict() and "blocks.3.attn.rel_pos_w" in w.state_dict()

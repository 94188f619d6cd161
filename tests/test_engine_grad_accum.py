"""Gradient accumulation (train.grad_accum): k micro-batches = one batch of k times the size.

The trainer's own step (VitdetSimpleTrainer.run_step) on a model without batch
statistics: the parameters after a few AdamW steps match a run with full batches. A BN
model in training mode does not match (each micro-batch is normalized by its own
statistics, as documented in the trainer). The resumable loader feeds the same images
in micro-batches, also when resumed.
"""
import pytest
import torch
from torch import nn

import vitdet_bench  # noqa: F401
from vitdet_bench.engine.data import build_resumable_train_loader
from vitdet_bench.engine.trainer import VitdetSimpleTrainer, grad_accum_steps


class _Regressor(nn.Module):
    """A detector-shaped model (list of dicts in, dict of losses out); the losses are
    means over the batch's images, like the per-image means of a detector."""

    def __init__(self, norm: str):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.norm = nn.LayerNorm(16) if norm == "ln" else nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, batch):
        x = torch.stack([d["x"] for d in batch])
        y = torch.stack([d["y"] for d in batch])
        h = torch.relu(self.norm(self.fc1(x)))
        out = self.fc2(h)
        return {"loss_mse": ((out - y) ** 2).mean(), "loss_l1": (out - y).abs().mean() * 0.1}


def _samples(n=48):
    g = torch.Generator().manual_seed(0)
    return [{"x": torch.randn(6, generator=g), "y": torch.randn(3, generator=g)} for _ in range(n)]


def _train(norm: str, batch: int, accum: int, steps: int = 4):
    from detectron2.utils.events import EventStorage

    torch.manual_seed(1)
    model = _Regressor(norm)
    data = _samples()
    micro = batch // accum

    def loader():
        i = 0
        while True:
            yield [data[(i + j) % len(data)] for j in range(micro)]
            i += micro

    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    trainer = VitdetSimpleTrainer(model, loader(), opt, grad_accum=accum)
    with EventStorage(0) as trainer.storage:
        for trainer.iter in range(steps):
            trainer.storage.iter = trainer.iter
            trainer.run_step()
        losses = trainer.storage.history("total_loss").values()
    return model.state_dict(), losses


@pytest.mark.parametrize("accum", [2, 4])
def test_accumulated_micro_batches_equal_one_big_batch(accum):
    big, big_losses = _train("ln", batch=8, accum=1)
    acc, acc_losses = _train("ln", batch=8, accum=accum)
    for name in big:
        torch.testing.assert_close(acc[name], big[name], rtol=1e-5, atol=1e-6, msg=name)
    # the logged loss of a step is the mean over its micro-batches = the big batch's loss
    torch.testing.assert_close(torch.tensor([v for v, _ in acc_losses]),
                               torch.tensor([v for v, _ in big_losses]), rtol=1e-5, atol=1e-6)


def test_batchnorm_in_training_sees_micro_batches():
    big, _ = _train("bn", batch=8, accum=1)
    acc, _ = _train("bn", batch=8, accum=2)
    assert not torch.allclose(acc["fc1.weight"], big["fc1.weight"], atol=1e-6)
    # k momentum updates of the running statistics per optimizer step
    assert int(acc["norm.num_batches_tracked"]) == 2 * int(big["norm.num_batches_tracked"])


def test_resumable_loader_splits_the_same_images_into_micro_batches():
    dicts = [{"image_id": i, "height": 8, "width": 8} for i in range(10)]

    def ids(loader, n):
        it = iter(loader)
        return [d["image_id"] for _ in range(n) for d in next(it)]

    for start in (0, 3):
        full = build_resumable_train_loader(dicts, dict, 4, seed=5, start_iter=start,
                                            aspect_ratio_grouping=False)
        micro = build_resumable_train_loader(dicts, dict, 2, seed=5, start_iter=2 * start,
                                             aspect_ratio_grouping=False)
        assert ids(micro, 6) == ids(full, 3)


def test_grad_accum_must_split_the_batch():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"train": {"grad_accum": 3},
                            "dataloader": {"train": {"total_batch_size": 64}}})
    with pytest.raises(ValueError, match=r"train.grad_accum=3 does not fit .*total_batch_size=64"):
        grad_accum_steps(cfg)
    cfg.train.grad_accum = 4
    assert grad_accum_steps(cfg) == 4

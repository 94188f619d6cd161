"""On CPU the trainer puts 4-D weights in channels-last layout (``train.channels_last``)."""
import pytest
import torch
import torch.nn as nn
from omegaconf import OmegaConf

import vitdet_bench  # noqa: F401
from vitdet_bench.engine import trainer
from vitdet_bench.engine.settings import channels_last_setting


def _model():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 1))


@pytest.mark.parametrize("setting,device,expected", [
    (None, "cpu", True), (None, "cuda", False), (False, "cpu", False), (True, "cuda", True)])
def test_channels_last_setting(setting, device, expected):
    cfg = OmegaConf.create({"train": {} if setting is None else {"channels_last": setting}})
    model = _model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    trainer._use_channels_last(model, channels_last_setting(cfg, device))
    w = model[0].weight  # 3x3: the two layouts differ (a 1x1 kernel is both)
    assert w.is_contiguous(memory_format=torch.channels_last) == expected
    assert w.is_contiguous() != expected
    # same values and keys either way; a checkpoint of one layout loads into the other
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
    other = _model()
    other.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(other.eval()(x), model.eval()(x))

"""The engine's settings are read once, with explicit defaults; a broken config stops."""
import pytest
from omegaconf import OmegaConf
from omegaconf.errors import InterpolationResolutionError

import vitdet_bench  # noqa: F401
from vitdet_bench.engine import ConfigError, read_settings
from vitdet_bench.engine.settings import DEFAULT_SEED, setting


def _cfg(**train):
    return OmegaConf.create({"train": dict({"output_dir": "out", "device": "cpu",
                                            "checkpointer": {"period": 10}}, **train),
                             "dataloader": {"train": {"total_batch_size": 4}}})


def test_missing_optional_keys_take_their_defaults():
    s = read_settings(_cfg(), training=True)
    assert (s.output_dir, s.device, s.amp, s.seed, s.init_checkpoint) == (
        "out", "cpu", False, DEFAULT_SEED, "")
    assert s.channels_last is True  # unset: on the CPU
    t = s.train
    assert (t.grad_accum, t.total_batch_size, t.num_workers, t.aspect_ratio_grouping) == (
        1, 4, 0, True)
    assert (t.eval_period, t.log_period, t.checkpoint_period, t.max_to_keep, t.epochs) == (
        0, 20, 10, None, None)
    assert read_settings(_cfg(), training=False).train is None


def test_none_means_the_default_and_values_are_kept():
    s = read_settings(_cfg(seed=None, eval_period=5, channels_last=False,
                           checkpointer={"period": 3, "max_to_keep": 2}), training=True)
    assert s.seed == DEFAULT_SEED and s.train.eval_period == 5 and s.channels_last is False
    assert (s.train.checkpoint_period, s.train.max_to_keep) == (3, 2)


def test_amp_needs_cuda():
    assert read_settings(_cfg(amp={"enabled": True}), training=False).amp is False


@pytest.mark.parametrize("train,key", [
    ({"eval_period": "often"}, "train.eval_period"),
    ({"log_period": 2.5}, "train.log_period"),
    ({"seed": True}, "train.seed"),
    ({"channels_last": "yes"}, "train.channels_last"),
    ({"amp": True}, "train.amp"),               # not a mapping: amp.enabled cannot be read
    ({"ddp": [1, 2]}, "train.ddp"),
    ({"checkpointer": {"max_to_keep": 2}}, "train.checkpointer.period"),  # required
])
def test_a_wrong_type_is_a_config_error_naming_the_key(train, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        read_settings(_cfg(**train), training=True)


def test_a_broken_config_is_not_swallowed():
    cfg = _cfg(seed="${train.no_such_key}")
    with pytest.raises(InterpolationResolutionError):
        setting(cfg, "train.seed", DEFAULT_SEED, int)


def test_output_dir_is_required():
    cfg = _cfg()
    cfg.train.output_dir = ""
    with pytest.raises(ConfigError, match=r"train\.output_dir is not set"):
        read_settings(cfg, training=False)

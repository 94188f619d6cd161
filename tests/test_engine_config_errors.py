"""tools/train_net.py rejects bad overrides / datasets before any heavy work."""
import os
import subprocess
import sys

import pytest

import vitdet_bench  # noqa: F401
from detectron2.config import LazyConfig
from engine_fixtures.cli_runner import cli_env
from vitdet_bench.config import ConfigError, check_datasets, check_overrides

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(ROOT, "tests", "engine_fixtures", "tiny_rcnn.py")


@pytest.fixture(scope="module")
def cfg():
    return LazyConfig.load(CFG)


def test_unknown_key_names_key_and_close_match(cfg):
    with pytest.raises(ConfigError) as e:
        check_overrides(cfg, ["train.max_iters=3"])
    msg = str(e.value)
    assert "train.max_iters" in msg and "train.max_iter" in msg


def test_wrong_type(cfg):
    with pytest.raises(ConfigError, match="Wrong type.*train.max_iter"):
        check_overrides(cfg, ["train.max_iter=abc"])
    with pytest.raises(ConfigError, match="Wrong type"):
        check_overrides(cfg, ["train.amp.enabled=3"])


def test_values_parsed_as_detectron2_applies_them(cfg):
    """hydra's grammar (what LazyConfig.apply_overrides uses): null is None, None a string."""
    check_overrides(cfg, ["train.epochs=null", "train.amp.enabled=true",
                                    "optimizer.lr=1e-3"])
    c = LazyConfig.apply_overrides(LazyConfig.load(CFG), ["train.epochs=null"])
    assert c.train.epochs is None
    with pytest.raises(ConfigError, match="gives str 'None'.*write null for None"):
        check_overrides(cfg, ["train.max_iter=None"])


def test_good_overrides_and_optional_keys(cfg):
    check_overrides(cfg, ["train.max_iter=3", "optimizer.lr=0.001", "optimizer.lr=1",
                                    "train.epochs=2", "train.warmup_iters=10",
                                    "train.output_dir=/tmp/x"])


def test_unregistered_dataset(cfg):
    c = LazyConfig.apply_overrides(LazyConfig.load(CFG),
                                   ["dataloader.train.dataset.names=shapes_trian"])
    with pytest.raises(ConfigError, match="shapes_trian.*not registered.*shapes_train"):
        check_datasets(c)


def test_cli_exits_with_one_paragraph(tmp_path):
    env = cli_env(VITDET_BENCH_CACHE=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train_net.py"),
                        "--config-file", CFG, f"train.output_dir={tmp_path / 'run'}",
                        "train.chekpointer.period=5"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Configuration error" in p.stderr and "train.chekpointer" in p.stderr
    assert "checkpointer" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "run").exists()

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


# ------------------------------------------- issue 27 item 2: an override takes effect or stops
RANDOM_VITB = os.path.join(ROOT, "configs", "random_vitb_mrcnn.py")  # train.epochs=400


def test_max_iter_override_of_an_epoch_schedule_says_which_key_wins():
    from vitdet_bench.config import compute_max_iter, load_config, preview_config

    with pytest.raises(ConfigError) as e:
        load_config(RANDOM_VITB, ["train.max_iter=5"])
    msg = str(e.value)
    assert "train.max_iter=5 would have no effect: the config sets train.epochs=400" in msg
    assert "an epoch schedule wins" in msg and "add train.epochs=null" in msg
    with pytest.raises(ConfigError, match="the overrides also set train.epochs=2"):
        load_config(CFG, ["train.epochs=2", "train.max_iter=3"])
    # what the message asks for gives the iterations asked for
    cfg, _ = preview_config(RANDOM_VITB, ["train.epochs=null", "train.max_iter=5",
                                          "train.warmup_iters=0"])
    assert compute_max_iter(cfg, 117266) == 5
    # an epoch override alone, or max_iter on an iteration schedule: no question
    cfg, _ = preview_config(RANDOM_VITB, ["train.epochs=25"])
    assert compute_max_iter(cfg, 128) == 50
    assert load_config(CFG, ["train.max_iter=3"]).train.max_iter == 3


# ------------------------------------------ issue 27 item 3: one override for the input size
VITDET_B = os.path.join(ROOT, "configs", "vitdet", "mask_rcnn_vitdet_b_100ep.py")
COUPLED = ("dataloader.train.mapper.image_size", "dataloader.test.mapper.image_size",
           "model.backbone.net.img_size", "model.backbone.square_pad")


def test_image_size_sets_every_coupled_value():
    from omegaconf import OmegaConf

    from vitdet_bench.config import image_size_entries, preview_config

    cfg, _ = preview_config(VITDET_B, ["train.image_size=512"])
    entries = dict(image_size_entries(cfg))
    assert set(COUPLED) <= set(entries) and set(entries.values()) == {512}, entries
    assert cfg.model.backbone.net.pretrain_img_size == 224  # not an input size
    # the Benchmarking detector (ViT -> adaptor -> FPN) and the CPU demo too
    cfg, _ = preview_config(os.path.join(ROOT, "configs", "mae_vitb_mrcnn.py"),
                            ["train.image_size=384"])
    assert OmegaConf.select(cfg, "model.backbone.bottom_up.net.img_size") == 384
    assert cfg.model.backbone.square_pad == 384 and cfg.dataloader.test.mapper.image_size == 384
    from vitdet_bench.config import load_config

    demo = load_config(os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py"),
                       ["train.image_size=128"])
    assert set(dict(image_size_entries(demo)).values()) == {128}
    for bad, shown in (("0", "0"), ("abc", "'abc'")):
        with pytest.raises(ConfigError, match=f"train.image_size={shown}: expected a positive"):
            load_config(CFG, [f"train.image_size={bad}"])


def test_inconsistent_image_sizes_are_a_preflight_error():
    from vitdet_bench.config import check_image_size

    cfg = LazyConfig.apply_overrides(LazyConfig.load(VITDET_B), [
        "dataloader.train.mapper.image_size=512", "dataloader.test.mapper.image_size=512"])
    with pytest.raises(ConfigError) as e:
        check_image_size(cfg)
    msg = str(e.value)
    assert "dataloader.train.mapper.image_size=512, dataloader.test.mapper.image_size=512" in msg
    assert "model.backbone.net.img_size=1024" in msg and "model.backbone.square_pad=1024" in msg
    assert "train.image_size=512" in msg
    check_image_size(LazyConfig.load(VITDET_B))


def test_cli_image_size_mismatch_exits_before_anything(tmp_path):
    demo = os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train_net.py"),
                        "--config-file", demo, f"train.output_dir={tmp_path / 'run'}",
                        "dataloader.train.mapper.image_size=128"],
                       env=cli_env(VITDET_BENCH_CACHE=str(tmp_path / "cache")),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr[-2000:]
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("Configuration error:")]
    assert len(lines) == 1 and "model.backbone.square_pad=256" in lines[0], p.stderr[-2000:]
    assert "train.image_size=128" in lines[0] and "Traceback" not in p.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


# ---------------------------- issue 27 item 4: --eval-only needs only the evaluation's data
def test_eval_only_checks_only_the_evaluation_datasets():
    from engine_fixtures.helpers import datasets_absent

    from vitdet_bench.config import load_config

    overrides = ["dataloader.train.dataset.names=coco_2017_train",
                 "dataloader.test.dataset.dicts.names=shapes_val", "train.eval_untrained=True"]
    with datasets_absent("coco_2017_train"):
        with pytest.raises(ConfigError, match="Dataset 'coco_2017_train' .* do not exist"):
            load_config(CFG, overrides)
        cfg = load_config(CFG, overrides, eval_only=True)
        assert cfg.dataloader.train.dataset.names == "coco_2017_train"
        # the evaluation's own data is still checked
        with datasets_absent("coco_2017_val"):
            with pytest.raises(ConfigError, match="Dataset 'coco_2017_val' .* do not exist"):
                load_config(CFG, overrides + ["dataloader.test.dataset.dicts.names=coco_2017_val",
                                              "dataloader.evaluator.dataset_name=coco_2017_val",
                                              "model.roi_heads.num_classes=80"], eval_only=True)


def test_cli_eval_only_without_the_training_set_on_disk(tmp_path):
    """``--eval-only`` on a machine whose $DETECTRON2_DATASETS lacks the training set."""
    (tmp_path / "datasets").mkdir()
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train_net.py"), "--eval-only",
                        "--config-file", os.path.join(ROOT, "tests", "engine_fixtures",
                                                      "demo_quick_eval.py"),
                        "dataloader.train.dataset.names=coco_2017_train",
                        "train.eval_untrained=True", f"train.output_dir={tmp_path / 'run'}"],
                       env=cli_env(DETECTRON2_DATASETS=str(tmp_path / "datasets"),
                                   VITDET_BENCH_CACHE=str(tmp_path / "cache")),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Evaluation done: report" in p.stdout and "coco_2017_train" not in p.stderr
    assert (tmp_path / "run" / "report.json").is_file()

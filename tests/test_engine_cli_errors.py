"""tools/train_net.py: one-paragraph errors for a bad strategy, a wrong checkpoint, divergence.

Unit tests of the pre-flight checks, then real command lines (one warm process forks
a fresh child per run, tests/engine_fixtures/forked_cli.py):

* an unknown ``attention_strategy`` -> exit 2 before anything starts;
* a missing ``train.init_checkpoint`` -> exit 2 before anything starts;
* a checkpoint of another architecture (pre-trained loader, detectron2 loader, and
  ``--eval-only``) -> exit 2 right after the model is built: no data read or generated,
  no training;
* a non-finite loss in the LAST iteration -> exit 1, and neither a final checkpoint
  nor a final evaluation of the diverged state (detectron2's hooks would do both).
"""
import os

import pytest
import torch

import vitdet_bench  # noqa: F401
from data_fixtures import tiny_shapes  # noqa: F401
from detectron2.config import LazyConfig
from engine_fixtures.cli_runner import cli_env, run_cli_cases
from vitdet_bench.config import ConfigError, check_attention_strategies, check_init_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEMO = os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py")
TINY = os.path.join(ROOT, "tests", "engine_fixtures", "tiny_rcnn.py")
CORPUS = os.path.join(ROOT, "tests", "engine_fixtures", "corpus_rcnn.py")
STRATEGY_KEY = "model.backbone.bottom_up.net.attention_strategy"


def _load(path, *overrides):
    return LazyConfig.apply_overrides(LazyConfig.load(path), list(overrides))


def test_unknown_attention_strategy_is_a_config_error():
    check_attention_strategies(_load(DEMO))  # the real config passes
    for ok in ("window", "global", "global_checkpoint"):
        check_attention_strategies(_load(DEMO, f"{STRATEGY_KEY}={ok}"))
    with pytest.raises(ConfigError) as e:
        check_attention_strategies(_load(DEMO, f"{STRATEGY_KEY}=window_globl"))
    msg = str(e.value)
    assert f"'window_globl' at {STRATEGY_KEY}" in msg and "Did you mean 'window_global'" in msg
    assert "window, window_global, global_checkpoint, global" in msg


def test_missing_init_checkpoint_is_a_config_error(tmp_path):
    cfg = _load(TINY, f"train.init_checkpoint={tmp_path / 'nope.pth'}",
                f"train.output_dir={tmp_path / 'run'}")
    with pytest.raises(ConfigError, match="nope.pth' does not exist"):
        check_init_checkpoint(cfg)
    # --resume from an existing run does not read it
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last_checkpoint").write_text("model_0000001.pth")
    check_init_checkpoint(cfg, resume=True)
    check_init_checkpoint(_load(TINY, "train.init_checkpoint=detectron2://x/y.pkl"))


@pytest.fixture(scope="module")
def cli(tmp_path_factory, tiny_shapes):
    work = tmp_path_factory.mktemp("cli_errors")
    foreign = str(work / "resnet_classifier.pth")  # an ImageNet ResNet, not a detector
    torch.save({"model": {"conv1.weight": torch.zeros(8, 3, 7, 7),
                          "bn1.weight": torch.ones(8),
                          "layer1.0.conv1.weight": torch.zeros(8, 8, 3, 3),
                          "fc.weight": torch.zeros(10, 8)}}, foreign)
    runs = {
        "strategy": [DEMO, f"{STRATEGY_KEY}=window_globl"],
        "missing_ckpt": [DEMO, f"train.init_checkpoint={work / 'nope.pth'}",
                         "train.init_format=mae"],
        "ckpt_pretrained": [DEMO, f"train.init_checkpoint={foreign}", "train.init_format=auto"],
        "ckpt_detectron2": [DEMO, f"train.init_checkpoint={foreign}",
                            "train.init_format=detectron2"],
        "ckpt_eval_only": ["--eval-only", TINY, f"train.init_checkpoint={foreign}"],
        # corpus_rcnn: tiny_rcnn at 128 px, 2 iterations, on the 8-image tiny split
        "nan_last_iter": [CORPUS, "optimizer.lr=1e30", "optimizer.params.base_lr=1e30"],
    }
    cases, outs = [], {}
    for name, args in runs.items():
        flags = [a for a in args if a.startswith("--")]
        cfg, *opts = [a for a in args if not a.startswith("--")]
        outs[name] = str(work / "runs" / name)
        # Its own cache: synthetic data would be generated there if the run read any.
        env = {"VITDET_BENCH_CACHE": str(work / "cache" / name),
               "VB_CORPUS_JSON": tiny_shapes.json_file, "VB_CORPUS_IMAGES": tiny_shapes.image_root}
        cases.append(dict(argv=flags + ["--config-file", cfg, *opts,
                                        f"train.output_dir={outs[name]}"], env=env))
    results = run_cli_cases(cases, str(work / "cli"), env=cli_env())
    return {name: dict(out=outs[name], cache=str(work / "cache" / name), **res)
            for name, res in zip(runs, results)}


def _one_paragraph(run, prefix):
    text = run["stdout"] + run["stderr"]
    assert "Traceback" not in text, text[-3000:]
    lines = [ln for ln in run["stderr"].splitlines() if ln.startswith(prefix)]
    assert len(lines) == 1, run["stderr"][-3000:]
    return lines[0]


def test_cli_unknown_strategy(cli):
    run = cli["strategy"]
    assert run["rc"] == 2
    line = _one_paragraph(run, "Configuration error:")
    assert "Unknown attention strategy 'window_globl'" in line and STRATEGY_KEY in line
    assert not os.path.exists(run["out"])


def test_cli_missing_checkpoint(cli):
    run = cli["missing_ckpt"]
    assert run["rc"] == 2
    line = _one_paragraph(run, "Configuration error:")
    assert "nope.pth' does not exist" in line
    assert not os.path.exists(run["out"])


@pytest.mark.parametrize("name,expected", [
    ("ckpt_pretrained", "resnet_classifier.pth: a ResNet checkpoint needs a detectron2 ResNet "
                        "backbone; GeneralizedRCNN has none"),
    ("ckpt_detectron2", "resnet_classifier.pth: checkpoint of another architecture: none of "
                        "the model's"),
    # --eval-only reads every file through the format registry, as pre-trained files
    ("ckpt_eval_only", "resnet_classifier.pth: checkpoint of another architecture; shapes "
                       "that cannot be resized: stem.conv1.weight"),
])
def test_cli_checkpoint_of_another_architecture(cli, name, expected):
    run = cli[name]
    assert run["rc"] == 2, run["stderr"][-3000:]
    line = _one_paragraph(run, "Error (CheckpointError):")
    assert expected in line, line
    # Before any heavy work: no dataset read or generated, no training, nothing saved.
    assert "Starting training" not in run["stdout"]
    assert "Loaded " not in run["stdout"] and not os.path.exists(
        os.path.join(run["cache"], "synthetic_shapes"))
    assert not {"config.yaml", "metrics.json", "last_checkpoint"} & set(os.listdir(run["out"]))


def test_cli_non_finite_loss_in_last_iteration_saves_and_evaluates_nothing(cli):
    run = cli["nan_last_iter"]
    assert run["rc"] == 1, run["stderr"][-3000:]
    line = _one_paragraph(run, "Training diverged (NonFiniteLossError):")
    assert "Non-finite loss at iteration 1" in line
    assert "Final evaluation" not in run["stdout"]
    files = set(os.listdir(run["out"]))
    assert not {"model_final.pth", "model_0000001.pth", "last_checkpoint", "report.json"} & files
    # what was logged before the failure is still written
    assert '"iteration": 0' in open(os.path.join(run["out"], "metrics.json")).read()

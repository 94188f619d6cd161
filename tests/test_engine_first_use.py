"""What a new user hits first (issue 19): start-up errors, help, logs, finished runs.

Pre-flight checks are tested as functions and as real command lines (one warm process
forks a fresh child per run, tests/engine_fixtures/forked_cli.py), in a driver whose
environment has no ``DETECTRON2_DATASETS`` (the coco128 case needs it unset; the
other cases use synthetic shapes). Then one tiny training run is trained, extended
with ``--resume``, resumed once finished and re-evaluated with ``--eval-only
--resume``, checking what each prints and writes.
"""
import json
import os
import warnings

import pytest
import torch

import vitdet_bench  # noqa: F401
from data_fixtures import tiny_shapes  # noqa: F401
from detectron2.config import LazyConfig
from engine_fixtures.cli_runner import cli_env, run_cli_cases
from vitdet_bench.config import (check_command_line, check_dataset_files, check_num_classes,
                                 load_config)
from vitdet_bench.engine import ConfigError, check_eval_only_weights, check_schedule, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEMO = os.path.join(ROOT, "configs", "demo", "vit_tiny_shapes.py")
TINY = os.path.join(ROOT, "tests", "engine_fixtures", "tiny_rcnn.py")
CORPUS = os.path.join(ROOT, "tests", "engine_fixtures", "corpus_rcnn.py")


def _load(path, *overrides):
    return LazyConfig.apply_overrides(LazyConfig.load(path), list(overrides))


# ----------------------------------------------------------------- item 1: short schedules
def test_warmup_longer_than_the_schedule_is_a_config_error():
    cfg = _load(DEMO, "train.max_iter=30")
    with pytest.raises(ConfigError) as e:
        check_schedule(cfg, 30)
    msg = str(e.value)
    assert "train.warmup_iters=50 does not fit in the schedule: train.max_iter=30" in msg
    assert "train.warmup_iters=3" in msg  # the override that fixes it
    check_schedule(_load(DEMO, "train.max_iter=30", "train.warmup_iters=3"), 30)
    check_schedule(_load(DEMO), 1000)
    with pytest.raises(ConfigError, match="at least one iteration"):
        check_schedule(cfg, 0)
    # without train.warmup_iters, the scheduler's own fraction is checked
    with pytest.raises(ConfigError, match=r"lr_multiplier.warmup_length=1.5 is not a fraction"):
        check_schedule(_load(TINY, "lr_multiplier.warmup_length=1.5"), 4)
    # load_config runs it before anything is built
    with pytest.raises(ConfigError, match="warmup_iters=50 does not fit"):
        load_config(DEMO, ["train.max_iter=30"])


# ------------------------------------------------------- item 3: --eval-only needs weights
def test_eval_only_without_weights_is_a_config_error(tmp_path):
    cfg = _load(DEMO, f"train.output_dir={tmp_path / 'run'}")
    with pytest.raises(ConfigError, match="--eval-only has no weights to evaluate") as e:
        check_eval_only_weights(cfg, resume=False)
    assert "train.eval_untrained=True" in str(e.value) and "--eval-only --resume" in str(e.value)
    with pytest.raises(ConfigError, match="--resume found no last_checkpoint"):
        check_eval_only_weights(cfg, resume=True)
    check_eval_only_weights(_load(DEMO, "train.eval_untrained=True"), resume=False)
    check_eval_only_weights(_load(DEMO, "train.init_checkpoint=x.pth"), resume=False)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last_checkpoint").write_text("model_final.pth")
    check_eval_only_weights(cfg, resume=True)
    # the Python API refuses too, before building anything (no output folder made)
    with pytest.raises(ConfigError, match="no weights"):
        run(_load(DEMO, f"train.output_dir={tmp_path / 'api'}"), eval_only=True)
    assert not (tmp_path / "api").exists()


# ---------------------------------------------------------- item 4: classes must match
def test_model_and_dataset_classes_must_match():
    check_num_classes(_load(DEMO))  # 5 shapes, 5 classes
    cfg = _load(DEMO, "dataloader.test.dataset.names=coco128_val",
                "dataloader.evaluator.dataset_name=coco128_val")
    with pytest.raises(ConfigError) as e:
        check_num_classes(cfg)
    msg = str(e.value)
    assert "model.roi_heads.num_classes=5" in msg and "model.roi_heads.mask_head.num_classes=5" in msg
    assert "'coco128_val' (at dataloader.test.dataset.names) has 80 categories ('person'" in msg


# --------------------------------------------- item 6: config file and dataset files
def test_config_file_missing_or_absent():
    with pytest.raises(ConfigError, match="No --config-file given"):
        check_command_line(None, ["train.max_iter=3"])
    with pytest.raises(ConfigError, match=r"'configs/demo/vit_tiny.py' does not exist.*Did you "
                                          r"mean .*'configs/demo/vit_tiny_shapes.py'"):
        check_command_line("configs/demo/vit_tiny.py", [])


def test_dataset_files_missing_with_detectron2_datasets_unset(tmp_path, monkeypatch):
    from vitdet_bench.data import register_coco128

    cfg = _load(DEMO, "dataloader.train.dataset.names=coco128_train")
    monkeypatch.delenv("DETECTRON2_DATASETS", raising=False)
    monkeypatch.chdir(tmp_path)
    register_coco128(overwrite=True)  # as registered at import with the variable unset
    try:
        with pytest.raises(ConfigError) as e:
            check_dataset_files(cfg)
    finally:
        monkeypatch.undo()
        register_coco128(overwrite=True)
    msg = str(e.value)
    assert "'coco128_train' (at dataloader.train.dataset.names) is registered, but its " \
           "annotation file 'datasets/coco128/annotations/instances_train2017.json'" in msg
    assert "$DETECTRON2_DATASETS, which is not set" in msg
    check_dataset_files(_load(DEMO))  # synthetic: generated on first use


# ------------------------------------------------------- item 10: warnings we can silence
def test_ddp_kwargs_use_the_current_buffer_option(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from vitdet_bench.engine.trainer import _ddp_accepts, _ddp_kwargs

    kwargs, fp16 = _ddp_kwargs(_load(TINY), "cpu")
    assert fp16 is False and kwargs["find_unused_parameters"] is False
    if not _ddp_accepts("forward_sync_buffers"):
        assert kwargs["broadcast_buffers"] is False
        return
    assert kwargs["forward_sync_buffers"] is False and "broadcast_buffers" not in kwargs
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", world_size=1, rank=0)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            DistributedDataParallel(torch.nn.BatchNorm1d(3), **kwargs)
    finally:
        dist.destroy_process_group()
    assert not [w for w in caught if "deprecated" in str(w.message)], [str(w.message) for w in caught]


# --------------------------------------------------------------- command lines (no data)
@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    work = tmp_path_factory.mktemp("first_use")
    runs = {
        "help": ["--help"],
        "short_run": ["--config-file", DEMO, "train.max_iter=30", "train.eval_period=0"],
        "eval_no_weights": ["--eval-only", "--config-file", DEMO],
        "classes": ["--config-file", TINY, "model.roi_heads.num_classes=80"],
        "no_config": ["train.max_iter=3"],
        "typo_config": ["--config-file", os.path.join(ROOT, "configs", "demo", "vit_tiny.py")],
        "coco128_unset": ["--config-file", DEMO, "dataloader.train.dataset.names=coco128_train",
                          "model.roi_heads.num_classes=80"],
        "flag_after": ["--config-file", TINY, "train.max_iter=40", "--resume"],
    }
    cases, outs = [], {}
    for name, argv in runs.items():
        outs[name] = str(work / "runs" / name)
        extra = [f"train.output_dir={outs[name]}"] if "--config-file" in argv and \
            name != "flag_after" else []
        cases.append(dict(argv=argv + extra, env={"VITDET_BENCH_CACHE": str(work / "cache")}))
    env = cli_env()
    env.pop("DETECTRON2_DATASETS", None)
    results = run_cli_cases(cases, str(work / "cli"), env=env)
    return {name: dict(out=outs[name], cache=str(work / "cache"), **res)
            for name, res in zip(runs, results)}


def _config_error(run):
    text = run["stdout"] + run["stderr"]
    assert run["rc"] == 2, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    lines = [ln for ln in run["stderr"].splitlines() if ln.startswith("Configuration error:")]
    assert len(lines) == 1, run["stderr"][-3000:]
    assert not os.path.exists(run["out"])  # before anything: no output folder
    return lines[0]


def test_no_import_time_warnings(cli):
    """fvcore / detectron2 call torch.jit.script at import (a FutureWarning each, in every
    process); the driver imported what tools/train_net.py imports."""
    stderr = cli["help"]["driver_stderr"]
    assert "jit.script" not in stderr and "Warning" not in stderr, stderr[-2000:]


def test_cli_help_describes_this_tool(cli):
    run = cli["help"]
    assert run["rc"] == 0
    out = run["stdout"]
    assert "LazyConfig" in out and "train.max_iter=30" in out and "--eval-only --resume" in out
    assert "TensorBoard" in out and "report.json" in out and "exit codes" in out
    assert "MODEL.WEIGHTS" not in out and "DefaultTrainer" not in out and "cfg.yaml" not in out


@pytest.mark.parametrize("name,expected", [
    ("short_run", "train.warmup_iters=50 does not fit in the schedule: train.max_iter=30"),
    ("eval_no_weights", "--eval-only has no weights to evaluate"),
    ("classes", "model.roi_heads.num_classes=80, model.roi_heads.box_predictor.num_classes=80"),
    ("no_config", "No --config-file given"),
    ("typo_config", "vit_tiny.py' does not exist"),
    ("coco128_unset", "$DETECTRON2_DATASETS, which is not set"),
    ("flag_after", "'--resume' comes after the key=value overrides"),
])
def test_cli_preflight_errors(cli, name, expected):
    line = _config_error(cli[name])
    assert expected in line, line
    # nothing heavy ran: no synthetic data generated, no model built
    assert not os.path.exists(os.path.join(cli[name]["cache"], "synthetic_shapes"))
    assert "BatchNorm: world size" not in cli[name]["stdout"]


def test_cli_flag_after_overrides_shows_the_fixed_command(cli):
    line = _config_error(cli["flag_after"])
    assert f"--config-file {TINY} --resume train.max_iter=40" in line


# ------------------------------------- a real run: logs, report, resume, finished, re-eval
@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_shapes):
    work = tmp_path_factory.mktemp("first_use_train")
    out = str(work / "run")
    base = ["--config-file", CORPUS, f"train.output_dir={out}", "train.checkpointer.period=1"]
    # In order, in one output folder. The last two set a seed of their own, so that
    # config.yaml shows whether they rewrote it.
    steps = {
        "train": base,                                          # 2 iterations
        "extend": ["--resume"] + base + ["train.max_iter=3"],   # one more
        "finished": ["--resume"] + base + ["train.max_iter=3", "train.seed=5"],
        "reeval": ["--eval-only", "--resume"] + base + ["train.max_iter=3", "train.seed=7"],
    }
    env = {"VB_CORPUS_JSON": tiny_shapes.json_file, "VB_CORPUS_IMAGES": tiny_shapes.image_root}
    results = run_cli_cases([dict(argv=argv, env=env) for argv in steps.values()],
                            str(work / "cli"))
    return out, dict(zip(steps, results))


def test_run_logs_the_signal_and_says_where_the_report_is(trained):
    out, results = trained
    run = results["train"]
    assert run["rc"] == 0, run["stderr"][-3000:]
    text = run["stdout"] + run["stderr"]
    log = open(os.path.join(out, "log.txt")).read()
    # item 10: the model's repr only in log.txt; no deprecation noise
    assert "GeneralizedRCNN(" not in text and "GeneralizedRCNN(" in log
    assert "M parameters (printed in full to log.txt)" in text
    for noise in ("FutureWarning", "TypedStorage", "torch.meshgrid", "broadcast_buffers"):
        assert noise not in text, noise
    # item 11: the CPU notice goes through the logger, so it is in log.txt too
    assert "CUDA is not available: running on CPU" in log
    assert "[vitdet_bench] train.device" not in text
    # item 14: the last line says where the report and the TensorBoard events are
    done = [ln for ln in run["stdout"].splitlines() if "Training done (2 iterations)" in ln]
    assert len(done) == 1, run["stdout"][-3000:]
    assert os.path.join(out, "report.json") in done[0]
    assert os.path.join(out, "inference", "report.md") in done[0]
    assert f"tensorboard --logdir {out}" in done[0]
    assert os.path.isfile(os.path.join(out, "inference", "report.md"))
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(out))


def test_resume_is_logged_once(trained):
    out, results = trained
    run = results["extend"]
    assert run["rc"] == 0, run["stderr"][-3000:]
    line = f"Resuming from {os.path.join(out, 'model_final.pth')} at iteration 2"
    assert run["stdout"].count("Resuming from") == 1 and line in run["stdout"]
    assert line in open(os.path.join(out, "log.txt")).read()


def test_resuming_a_finished_run_changes_nothing(trained):
    out, results = trained
    run = results["finished"]
    assert run["rc"] == 0, run["stderr"][-3000:]
    assert f"Run in {out} is finished" in run["stdout"]
    assert "completed 3 of max_iter=3 iterations" in run["stdout"]
    assert "--eval-only --resume" in run["stdout"]
    assert "Final evaluation" not in run["stdout"] and "Starting training" not in run["stdout"]
    # no phantom row: 0, 1 and the final evaluation at 2; resumed: 2 and its evaluation
    # at 3. config.yaml not rewritten
    rows = [json.loads(ln) for ln in open(os.path.join(out, "metrics.json"))]
    assert [r["iteration"] for r in rows] == [0, 1, 2, 2, 3]
    saved = LazyConfig.load(os.path.join(out, "config.yaml"))
    assert saved.train.seed == 42 and saved.train.max_iter == 3


def test_eval_only_resume_reevaluates_on_request(trained):
    out, results = trained
    run = results["reeval"]
    assert run["rc"] == 0, run["stderr"][-3000:]
    assert f"Evaluating {os.path.join(out, 'model_final.pth')} (--eval-only --resume)" in run["stdout"]
    assert "Evaluation done: report" in run["stdout"]
    # the training run's config.yaml stays; the evaluation's own config is beside its results
    assert LazyConfig.load(os.path.join(out, "config.yaml")).train.seed == 42
    assert LazyConfig.load(os.path.join(out, "inference", "config.yaml")).train.seed == 7

"""Loading a checkpoint never runs code from it.

Crafted files whose unpickling would run a shell command (a ``__reduce__`` payload that
creates a marker file) go through every way a user hands the project a file: the library,
``tools/inspect_checkpoint.py``, ``tools/train_net.py --eval-only``, ``train.init_checkpoint``
and ``--resume``. Each is refused with one paragraph naming the file and the global, and
the marker is never created. The public layouts (an MAE file with its ``argparse.Namespace``
``args``, MoCo v3 with its optimizer state, detectron2 / Caffe2 ``.pkl``, timm training
checkpoints with numpy scalars) still load without the opt-in, and the run's own
checkpoints are read with ``weights_only=True``.
"""
import argparse
import builtins
import datetime
import json
import os
import pickle
import random
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

import vitdet_bench  # noqa: F401
from detectron2.config import LazyConfig, instantiate

from vitdet_bench.checkpoint import (CheckpointError, UnsafeCheckpointError, load_pretrained,
                                     read_checkpoint)
from vitdet_bench.engine.checkpoint import AtomicCheckpointer, get_rng_state, set_rng_state

from checkpoint_fixtures import DIM, make_mae, make_mocov3, our_vit, timm_vit
from engine_fixtures.cli_runner import cli_env, run_cli_cases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_VITDET = os.path.join(ROOT, "tests", "engine_fixtures", "tiny_vitdet.py")


class ShellPayload:
    """Unpickled by a full unpickler, this runs ``touch MARKER`` (``posix.system``)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvalPayload:
    """The same through ``builtins.eval``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.eval, (f"__import__('os').system('touch {self.marker}')",))


def write_crafted(folder, marker):
    """The four crafted files: {name: (path, global it asks for)}."""
    os.makedirs(folder, exist_ok=True)
    sd = {k: v.clone() for k, v in timm_vit(0).state_dict().items()}
    files = {}
    path = os.path.join(folder, "top.pth")  # a top-level value of the checkpoint dict
    torch.save({"model": sd, "args": ShellPayload(marker)}, path)
    files["top"] = (path, "posix.system")
    path = os.path.join(folder, "nested.pth")  # one extra value inside the state dict
    torch.save({"model": dict(sd, extra=ShellPayload(marker))}, path)
    files["nested"] = (path, "posix.system")
    path = os.path.join(folder, "model_final_evil.pkl")  # a detectron2-style .pkl
    with open(path, "wb") as f:
        pickle.dump({"model": {k: v.numpy() for k, v in sd.items()},
                     "__author__": ShellPayload(marker)}, f)
    files["pkl"] = (path, "posix.system")
    # legacy (non-zip) torch.save format: the old loader retried exactly such refusals
    # with weights_only=False, where the payload runs
    path = os.path.join(folder, "legacy.pth")
    torch.save({"model": sd, "meta": EvalPayload(marker)}, path,
               _use_new_zipfile_serialization=False)
    files["legacy"] = (path, "builtins.eval")
    return files


def assert_refusal(text, path, global_name, trust_option="train.trust_checkpoint=True"):
    assert path in text and repr(global_name) in text, text
    assert "does not allow" in text
    assert "tools/convert_checkpoint.py" in text and trust_option in text, text


# ------------------------------------------------------------------ library
def test_crafted_files_are_refused_by_the_library(tmp_path):
    marker = tmp_path / "MARKER"
    files = write_crafted(tmp_path / "files", marker)
    for name, (path, global_name) in files.items():
        with pytest.raises(UnsafeCheckpointError) as e:
            read_checkpoint(path)
        assert_refusal(str(e.value), path, global_name)
        assert e.value.global_name == global_name
        with pytest.raises(UnsafeCheckpointError):
            load_pretrained(our_vit(), path, strict_architecture=False)
    assert not marker.exists()


def test_torchscript_archives_are_never_read(tmp_path):
    path = str(tmp_path / "scripted.pt")
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), path)
    for trust in (False, True):
        with pytest.raises(UnsafeCheckpointError, match="TorchScript archive .* never read"):
            read_checkpoint(path, trust=trust)


def test_trust_opt_in_reads_with_the_full_unpickler_and_says_so(tmp_path, caplog):
    # a harmless global outside the allowlist (datetime.date) stands for a trusted file's extras
    path = str(tmp_path / "with_date.pth")
    ref = make_mae(tmp_path / "mae.pth", visualize=False)
    raw = torch.load(tmp_path / "mae.pth", weights_only=True)
    torch.save(dict(raw, date=datetime.date(2021, 11, 11)), path)
    with pytest.raises(UnsafeCheckpointError) as e:
        load_pretrained(our_vit(), path)
    assert_refusal(str(e.value), path, "datetime.date")
    with caplog.at_level("WARNING", logger="vitdet_bench"):
        rep = load_pretrained(our_vit(), path, trust_checkpoint=True)
    warnings = [r.getMessage() for r in caplog.records if "full unpickler" in r.getMessage()]
    assert len(warnings) == 1 and "datetime.date" in warnings[0]  # one line
    assert rep.trusted_pickle and rep.to_dict()["trusted_pickle"] is True
    assert "trusted_pickle" in str(rep)
    assert rep.format == "mae" and ref is not None
    # the engine's init writes it to init_report.json
    from vitdet_bench.engine.trainer import load_initialization

    cfg = LazyConfig.load(TINY_VITDET)
    cfg.train.init_checkpoint, cfg.train.init_format = path, "auto"
    cfg.train.output_dir = str(tmp_path / "run")
    cfg.train.trust_checkpoint = True
    os.makedirs(cfg.train.output_dir)
    model = _tiny_model_with_vitb_dim(cfg)
    load_initialization(cfg, model, None)
    with open(os.path.join(cfg.train.output_dir, "init_report.json")) as f:
        assert json.load(f)["trusted_pickle"] is True


def _tiny_model_with_vitb_dim(cfg):
    # the tiny detector with the fixtures' 2-block ViT (64-d, pre-training table 14x14)
    net = cfg.model.backbone.net
    net.depth, net.window_block_indexes, net.out_block_indexes = 2, [0], [1]
    cfg.model.backbone.in_feature = "block1"
    return instantiate(cfg.model)


# --------------------------------------------------- public layouts, no opt-in
def test_public_layouts_load_without_the_opt_in(tmp_path):
    # MAE training checkpoint (misc.save_model): model, optimizer, epoch, scaler, args
    make_mae(tmp_path / "m.pth")
    raw = torch.load(tmp_path / "m.pth", weights_only=True)
    mae = tmp_path / "mae_args.pth"
    torch.save(dict(raw, epoch=799, args=argparse.Namespace(model="mae_vit_base_patch16",
                                                            mask_ratio=0.75, blr=1.5e-4),
                    scaler={"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 10}), mae)
    rep = load_pretrained(our_vit(), mae)
    assert rep.format == "mae" and not rep.trusted_pickle
    # MoCo v3 main_moco.py: epoch, arch, state_dict, optimizer (LARS / AdamW state: tensors)
    make_mocov3(tmp_path / "v.pth.tar")
    raw = torch.load(tmp_path / "v.pth.tar", weights_only=True)
    raw["optimizer"] = {"state": {0: {"step": torch.tensor(10.0), "exp_avg": torch.randn(4, 4),
                                      "exp_avg_sq": torch.rand(4, 4)}},
                        "param_groups": [{"lr": 1.5e-4, "betas": (0.9, 0.95), "weight_decay": 0.1,
                                          "params": [0]}]}
    raw["scaler"] = {"scale": 1024.0}
    torch.save(raw, tmp_path / "mocov3.pth.tar")
    rep = load_pretrained(our_vit(), tmp_path / "mocov3.pth.tar")
    assert rep.format == "mocov3" and not rep.trusted_pickle
    # timm CheckpointSaver / DeiT main.py: state_dict + args + numpy metric values
    sd = {k: v.clone() for k, v in timm_vit(2).state_dict().items()}
    torch.save({"epoch": 299, "arch": "vit_base_patch16_224", "state_dict": sd,
                "args": argparse.Namespace(model="deit_base_patch16_224", lr=5e-4),
                "metric": np.float64(81.8), "best_epoch": np.int64(290),
                "version": 2}, tmp_path / "timm.pth.tar")
    rep = load_pretrained(our_vit(), tmp_path / "timm.pth.tar", format="supervised")
    assert rep.format == "supervised" and rep.loaded
    # detectron2 model zoo .pkl written by Python 2 (protocol 2, numpy.core names)
    with open(tmp_path / "d2.pkl", "wb") as f:
        pickle.dump({"model": {k: v.numpy() for k, v in sd.items()}, "__author__": "torchvision",
                     "matching_heuristics": True}, f, protocol=2)
    raw = read_checkpoint(tmp_path / "d2.pkl")
    assert raw["__author__"] == "torchvision" and torch.equal(raw["model"]["pos_embed"], sd["pos_embed"])


def test_the_old_loader_would_have_run_the_payload(tmp_path):
    """The control: the crafted files do run under the full unpickler (in a child process)."""
    import subprocess

    marker = tmp_path / "MARKER"
    files = write_crafted(tmp_path / "files", marker)
    code = (f"import torch; torch.load({files['nested'][0]!r}, weights_only=False)")
    subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert marker.exists()


# ---------------------------------------------------------- the tools, end to end
def test_inspect_refuses_every_crafted_file(tmp_path, capsys):
    import inspect_checkpoint

    marker = tmp_path / "MARKER"
    files = write_crafted(tmp_path / "files", marker)
    for name, (path, global_name) in files.items():
        rc = inspect_checkpoint.main([path, "--config-file", TINY_VITDET])
        err = capsys.readouterr().err
        assert rc == 1, (name, err)
        assert_refusal(err, path, global_name, "--trust-checkpoint")
        assert "Traceback" not in err
    assert not marker.exists()


def test_train_net_refuses_every_crafted_file(tmp_path):
    """--eval-only, train.init_checkpoint, --resume and --eval-only --resume."""
    marker = tmp_path / "MARKER"
    files = write_crafted(tmp_path / "files", marker)
    cases, expect = [], []
    for name, (path, global_name) in files.items():
        base = ["--config-file", TINY_VITDET]
        out = str(tmp_path / f"run_{name}")
        cases.append(dict(argv=base + ["--eval-only", f"train.init_checkpoint={path}",
                                       f"train.output_dir={out}_eval"]))
        cases.append(dict(argv=base + [f"train.init_checkpoint={path}", "train.init_format=auto",
                                       "train.warmup_iters=0", f"train.output_dir={out}_init"]))
        for flags in (["--resume"], ["--eval-only", "--resume"]):
            run = f"{out}_{'_'.join(f.strip('-') for f in flags)}"
            os.makedirs(run)
            last = os.path.basename(path)
            with open(path, "rb") as src, open(os.path.join(run, last), "wb") as dst:
                dst.write(src.read())
            with open(os.path.join(run, "last_checkpoint"), "w") as f:
                f.write(last)
            cases.append(dict(argv=base + flags + ["train.warmup_iters=0", f"train.output_dir={run}"]))
        expect += [(path, global_name)] * 2 + [(None, global_name)] * 2
    results = run_cli_cases(cases, str(tmp_path / "cli"), env=cli_env())
    for res, (path, global_name) in zip(results, expect):
        err = res["stderr"]
        assert res["rc"] == 2, (res["argv"], err[-2000:])
        assert "Traceback" not in err, err[-2000:]
        assert repr(global_name) in err and "train.trust_checkpoint=True" in err, err[-2000:]
        assert "tools/convert_checkpoint.py" in err
        if path:
            assert path in err
    assert not marker.exists()


# ---------------------------------------------------------- the run's own files
def _tiny_checkpointer(folder):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    return model, opt, AtomicCheckpointer(model, str(folder), optimizer=opt)


def test_run_checkpoints_are_read_with_weights_only(tmp_path):
    model, opt, ck = _tiny_checkpointer(tmp_path)
    random.seed(3), np.random.seed(4), torch.manual_seed(5)
    ck.save("model_0000009", iteration=9)
    want = (random.random(), np.random.rand(3), torch.rand(3))
    # PyTorch's own weights_only reader, no allowlist: nothing but tensors and plain data
    data = torch.load(tmp_path / "model_0000009.pth", weights_only=True)
    assert data["iteration"] == 9 and "rng_state" in data
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    extra = ck.resume_or_load("", resume=True)
    set_rng_state(extra["rng_state"])
    got = (random.random(), np.random.rand(3), torch.rand(3))
    assert want[0] == got[0] and np.array_equal(want[1], got[1]) and torch.equal(want[2], got[2])


def test_run_checkpoints_written_the_old_way_still_load(tmp_path):
    """Before, the numpy RNG state was saved as np.random.get_state()'s tuple (a numpy
    array inside): read through the allowlist's numpy array reconstruction."""
    model, opt, ck = _tiny_checkpointer(tmp_path)
    np.random.seed(7)
    old_rng = {"python": random.getstate(), "numpy": np.random.get_state(),
               "torch": torch.get_rng_state()}
    want = np.random.rand(4)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "iteration": 4,
                "rng_state": old_rng}, tmp_path / "model_0000004.pth")
    with open(tmp_path / "last_checkpoint", "w") as f:
        f.write("model_0000004.pth")
    with pytest.raises(pickle.UnpicklingError):  # why an allowlist is needed for them
        torch.load(tmp_path / "model_0000004.pth", weights_only=True)
    np.random.seed(0)
    extra = ck.resume_or_load("", resume=True)
    assert extra["iteration"] == 4
    set_rng_state(extra["rng_state"])
    assert np.array_equal(np.random.rand(4), want)
    # and the new form holds no numpy object at all
    assert isinstance(get_rng_state()["numpy"]["key"], torch.Tensor)


def test_run_checkpointer_refuses_a_crafted_file(tmp_path):
    marker = tmp_path / "MARKER"
    files = write_crafted(tmp_path / "files", marker)
    _, _, ck = _tiny_checkpointer(tmp_path / "run")
    for name, (path, global_name) in files.items():
        with pytest.raises(CheckpointError, match=repr(global_name).replace(".", r"\.")):
            ck.load(path)
    assert not marker.exists()

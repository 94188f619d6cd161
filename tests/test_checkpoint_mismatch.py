"""A file given to the wrong config says what it is (issue 19, item 16).

A forced format (``train.init_format`` / ``--format``) that the file does not look like
is an error naming the detected format; ``--lenient`` loads it as forced and the report
warns. A file that is not a checkpoint says what it is instead of torch's unpickler
error (``KeyError: 101``). Checked through ``load_pretrained`` and through
``tools/inspect_checkpoint.py``'s ``main`` with a tiny BEiT-style / MAE-style config.
"""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import checkpoint_fixtures as F  # noqa: E402
import inspect_checkpoint  # noqa: E402
from vitdet_bench.checkpoint import CheckpointError, format_mismatch, load_pretrained, read_checkpoint  # noqa: E402
from vitdet_bench.utils.io import atomic_write_bytes  # noqa: E402

# A BEiT-style ViT (shared rel-pos tables, layer scale, abs pos) and an MAE-style one.
BEIT_VIT = dict(use_abs_pos=True, rel_pos="shared", layer_scale_init_value=0.1)
CONFIG = '''
from detectron2.config import LazyCall as L
from vitdet_bench.modeling.backbone.vit import ViT

model = L(ViT)(img_size=224, patch_size=16, embed_dim={dim}, depth={depth}, num_heads={heads},
               attention_strategy="global", rel_pos={rel_pos!r}, use_abs_pos=True,
               layer_scale_init_value={ls!r}, out_block_indexes=({depth} - 1,))
train = dict(init_format={fmt!r})
'''


def _config(tmp_path, name, fmt, beit):
    path = tmp_path / f"{name}.py"
    path.write_text(CONFIG.format(dim=F.DIM, depth=F.DEPTH, heads=F.HEADS, fmt=fmt,
                                  rel_pos="shared" if beit else None, ls=0.1 if beit else 0.0))
    return str(path)


def test_mae_file_forced_as_beit_names_mae(tmp_path):
    F.make_mae(tmp_path / "mae.pth")
    assert format_mismatch(read_checkpoint(tmp_path / "mae.pth"), "beit") == "mae"
    with pytest.raises(CheckpointError) as e:
        load_pretrained(F.our_vit(**BEIT_VIT), tmp_path / "mae.pth", format="beit")
    msg = str(e.value)
    assert "mae.pth: this file looks like 'mae'" in msg and "format 'beit' was asked for" in msg
    assert "train.init_format=mae" in msg and "strict_architecture=False" in msg
    # lenient: loaded as forced (pos_embed dropped, layer scale at 1), and the report says so
    rep = load_pretrained(F.our_vit(**BEIT_VIT), tmp_path / "mae.pth", format="beit",
                          strict_architecture=False)
    assert rep.format == "beit" and any("looks like 'mae'" in n for n in rep.notes)
    assert "WARNING: this file looks like 'mae'" in str(rep)
    assert rep.to_dict()["notes"] == rep.notes


def test_beit_file_forced_as_mae_names_beit_and_the_callers_option(tmp_path):
    F.make_beit(tmp_path / "beit.pth")
    with pytest.raises(CheckpointError, match=r"looks like 'beit'.*format 'mae' was asked for.*"
                                              r"pass --lenient to load it as 'mae' anyway"):
        load_pretrained(F.our_vit(), tmp_path / "beit.pth", format="mae", lenient_option="--lenient")


def test_forced_format_that_fits_is_silent(tmp_path):
    F.make_mae(tmp_path / "mae.pth")
    F.make_deit(tmp_path / "deit.pth")
    raw_mae = read_checkpoint(tmp_path / "mae.pth")
    assert format_mismatch(raw_mae, "mae") is None
    assert format_mismatch(raw_mae, "supervised") is None  # a plain timm layout: both fit
    assert format_mismatch(read_checkpoint(tmp_path / "deit.pth"), "mae") == "supervised"
    rep = load_pretrained(F.our_vit(), tmp_path / "mae.pth", format="mae")
    assert rep.notes == []


def test_not_a_checkpoint_says_what_the_file_is(tmp_path):
    atomic_write_bytes(tmp_path / "not_a_checkpoint.pth", b"experiment notes: lr 1e-4\n" * 4)
    with pytest.raises(CheckpointError) as e:
        load_pretrained(F.our_vit(), tmp_path / "not_a_checkpoint.pth")
    msg = str(e.value)
    assert "not_a_checkpoint.pth: truncated or not a PyTorch checkpoint: it is a text file" in msg
    assert "b'experiment notes" in msg and "KeyError" not in msg
    F.make_deit(tmp_path / "deit.pth")
    data = (tmp_path / "deit.pth").read_bytes()
    atomic_write_bytes(tmp_path / "cut.pth", data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut.pth: .* a zip archive \(torch.save's format\) "
                                              r"of \d+ bytes that is truncated or damaged"):
        load_pretrained(F.our_vit(), tmp_path / "cut.pth")


def test_inspect_checkpoint_reports_the_detected_format(tmp_path, capsys, caplog):
    F.make_mae(tmp_path / "mae.pth")
    F.make_beit(tmp_path / "beit.pth")
    beit_cfg = _config(tmp_path, "beit_cfg", "beit", beit=True)
    mae_cfg = _config(tmp_path, "mae_cfg", "mae", beit=False)

    assert inspect_checkpoint.main([str(tmp_path / "mae.pth"), "--config-file", beit_cfg]) == 1
    out, err = capsys.readouterr()
    assert f"format: beit (from {beit_cfg}'s train.init_format; detected from the file: mae)" in out
    assert "this file looks like 'mae'" in err and "pass --lenient" in err
    assert "strict_architecture" not in err

    with caplog.at_level("INFO", logger="vitdet_bench"):
        assert inspect_checkpoint.main([str(tmp_path / "mae.pth"), "--config-file", beit_cfg,
                                        "--lenient"]) == 0
    out = capsys.readouterr().out + caplog.text  # the report: printed, or logged under pytest
    assert "format: beit" in out and "WARNING: this file looks like 'mae'" in out

    assert inspect_checkpoint.main([str(tmp_path / "beit.pth"), "--config-file", mae_cfg]) == 1
    out, err = capsys.readouterr()
    assert "detected from the file: beit" in out and "looks like 'beit'" in err

    assert inspect_checkpoint.main([str(tmp_path / "beit.pth"), "--config-file", mae_cfg,
                                    "--format", "auto", "--lenient"]) == 0
    out, _ = capsys.readouterr()
    assert "format: auto (detected from the file: beit)" in out

    atomic_write_bytes(tmp_path / "not_a_checkpoint.pth", b"hello\n" * 20)
    assert inspect_checkpoint.main([str(tmp_path / "not_a_checkpoint.pth"),
                                    "--config-file", mae_cfg]) == 1
    _, err = capsys.readouterr()
    assert "it is a text file" in err and "KeyError" not in err

"""What a new user sees: one-time preparation announces itself, compare's chart and table
say what their numbers are, the convergence plot draws only real curves."""
from __future__ import annotations

import logging
import os

import pytest
from data_fixtures import TINY_CONFIG

from vitdet_bench.data.synthetic_shapes import ensure_synthetic_split, split_files


# --------------------------------------------------------------------------- preparation
def test_synthetic_generation_says_where_it_writes_and_shows_progress(tmp_path, capsys, caplog):
    root = str(tmp_path / "cache")
    target = split_files(TINY_CONFIG, root).folder
    with caplog.at_level(logging.INFO, logger="vitdet_bench.data.synthetic_shapes"):
        ensure_synthetic_split(TINY_CONFIG, root, progress=True)
    messages = [r.getMessage() for r in caplog.records]
    # said before the work starts, naming the final folder (not the temporary one)
    assert messages[0] == (f"Generating synthetic split 'tiny' (8 images, once: cached for later "
                           f"runs) into {target}")
    assert messages[-1].startswith("Generated synthetic split 'tiny' (8 images)")
    err = capsys.readouterr().err
    assert "synthetic shapes_tiny" in err and "8/8" in err
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="vitdet_bench.data.synthetic_shapes"):
        ensure_synthetic_split(TINY_CONFIG, root, progress=True)   # cached: silent
    assert not caplog.records and "shapes_tiny" not in capsys.readouterr().err


def test_synthetic_progress_can_be_switched_off(tmp_path, capsys):
    ensure_synthetic_split(TINY_CONFIG, str(tmp_path), progress=False)
    assert "shapes_tiny" not in capsys.readouterr().err

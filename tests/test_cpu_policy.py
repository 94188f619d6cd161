"""Intra-op threads and data-loader workers fit the CPUs available to the process
(``os.sched_getaffinity``), an explicit value still winning; the choice is logged."""
from __future__ import annotations

import logging
import os
import warnings

import pytest
import torch

from vitdet_bench.utils import cpu


@pytest.fixture
def two_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(cpu, "_logged", set())


def test_available_cpus_is_the_affinity_mask_not_the_machine(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5, 7}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert cpu.available_cpus() == 3


def test_threads_share_the_available_cpus_and_omp_num_threads_wins(two_cpus):
    assert cpu.choose_intra_op_threads(1, environ={}).value == 2
    assert cpu.choose_intra_op_threads(2, environ={}).value == 1
    assert cpu.choose_intra_op_threads(4, environ={}).value == 1   # never 0
    explicit = cpu.choose_intra_op_threads(2, environ={"OMP_NUM_THREADS": "3"})
    assert (explicit.value, explicit.source) == (3, "OMP_NUM_THREADS")
    assert cpu.choose_intra_op_threads(1, environ={"OMP_NUM_THREADS": "3,1"}).value == 3
    with pytest.raises(ValueError, match="OMP_NUM_THREADS='two'"):
        cpu.choose_intra_op_threads(1, environ={"OMP_NUM_THREADS": "two"})


def test_workers_leave_the_training_process_its_cpu_and_the_exact_key_wins(two_cpus):
    assert cpu.choose_loader_workers(4).value == 1          # 2 CPUs: 1 worker + the trainer
    assert cpu.choose_loader_workers(1).value == 1          # fits: the config's value
    assert cpu.choose_loader_workers(0).value == 0
    assert cpu.choose_loader_workers(4, 2).value == 0       # 1 CPU per process: in-process
    assert cpu.choose_loader_workers(4, cpus=16).value == 4   # more CPUs never add workers
    lowered = cpu.choose_loader_workers(4)
    assert "num_workers=4 lowered" in lowered.source and "train.loader_workers=N" in lowered.source
    forced = cpu.choose_loader_workers(1, exact=4)
    assert (forced.value, forced.source) == (4, "train.loader_workers")
    for bad in (-1, 1.5, True, "4"):
        with pytest.raises(ValueError, match="train.loader_workers"):
            cpu.choose_loader_workers(1, exact=bad)


def test_configure_threads_sets_torch_and_the_loader_logs_both_once(two_cpus, monkeypatch,
                                                                    caplog):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cpu, "_threads_choice", None)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert cpu.configure_intra_op_threads(1) == 2
        assert torch.get_num_threads() == 2
        with caplog.at_level(logging.INFO, logger=cpu.__name__):
            for _ in range(3):
                assert cpu.loader_workers_for(4) == 1
        lines = [r.getMessage() for r in caplog.records]
        assert lines == ["CPU: 2 intra-op thread(s) (2 CPU(s) available), 1 training data-loader "
                         "worker(s) (the config's num_workers=4 lowered to fit 2 CPU(s) "
                         "available; train.loader_workers=N forces N)"]
    finally:
        torch.set_num_threads(before)


def test_fitted_loader_config_is_a_copy():
    cfg = {"num_workers": 4, "batch_size": 1}
    out = cpu.with_fitted_workers(cfg, exact=0)
    assert out == {"num_workers": 0, "batch_size": 1} and cfg["num_workers"] == 4
    assert cpu.with_fitted_workers({"batch_size": 1}) == {"batch_size": 1}


def _identity(d):
    return {"x": d["x"]}


def test_train_loader_asking_4_workers_on_2_cpus_uses_1_and_pytorch_does_not_warn(two_cpus, caplog):
    """The config's 4 workers on a 2-CPU allocation: PyTorch's "This DataLoader will create
    4 worker processes ... suggested max" warning was printed on every run."""
    from vitdet_bench.engine.data import build_resumable_train_loader

    dicts = [{"x": i, "width": 8, "height": 8} for i in range(8)]
    with caplog.at_level(logging.INFO, logger=cpu.__name__), \
            warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        loader = build_resumable_train_loader(dicts, _identity, 2, seed=0, num_workers=4,
                                              aspect_ratio_grouping=False)
        batch = next(iter(loader))
    assert [d["x"] for d in batch] and loader.num_workers == 1
    assert not [w for w in seen if "worker processes" in str(w.message)], \
        [str(w.message) for w in seen]
    assert any("1 training data-loader worker(s)" in r.getMessage() and "num_workers=4 lowered"
               in r.getMessage() for r in caplog.records)
    forced = build_resumable_train_loader(dicts, _identity, 2, seed=0, num_workers=4,
                                          aspect_ratio_grouping=False, loader_workers=0)
    assert forced.num_workers == 0

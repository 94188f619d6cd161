"""tools/ablation_memory.py joins each strategy run's AP with benchmark.py's time and memory."""
import json
import os
import runpy
from types import SimpleNamespace

import vitdet_bench  # noqa: F401
from detectron2.config import LazyConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the command line, loaded as `python tools/ablation_memory.py` runs it (tools/ is not a package)
ablation_memory = SimpleNamespace(**runpy.run_path(os.path.join(REPO, "tools", "ablation_memory.py")))


def _run_folder(root, strategy, ap_box):
    d = root / f"mem_{strategy}"
    d.mkdir(parents=True)
    LazyConfig.save(LazyConfig.load(os.path.join(REPO, "configs", "ablations", f"mem_{strategy}.py")),
                    str(d / "config.yaml"))
    report = {"schema_version": 1, "dataset": "coco_2017_val",
              "bbox": {"coco": {"AP": ap_box}}, "segm": {"coco": {"AP": ap_box - 5}}}
    (d / "report.json").write_text(json.dumps(report))


def _bench(path):
    rows = [dict(strategy=s, size=1024, path="sdpa", status="ok", train_step_s=t, train_peak_GB=m)
            for s, t, m in (("window", 1.5, 5.7), ("window_global", 1.7, 5.6),
                            ("global_checkpoint", 3.3, 2.8), ("global", 2.9, 5.1))]
    rows.append(dict(strategy="global", size=512, path="sdpa", status="ok", train_step_s=0.1, train_peak_GB=1))
    path.write_text(json.dumps({"meta": {"device": "cpu"}, "rows": rows}))


def test_table_joins_runs_and_benchmark(tmp_path, capsys):
    for s, ap in (("window", 48.0), ("window_global", 50.3), ("global", 50.5)):
        _run_folder(tmp_path / "runs", s, ap)
    _bench(tmp_path / "benchmark.json")
    rc = ablation_memory.main([str(tmp_path / "runs"), "--benchmark", str(tmp_path / "benchmark.json"),
                               "--output", str(tmp_path / "out")])
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    assert "| window_global | 50.3 | 45.3 | 1.70 | 5.60 |" in lines
    assert "| global_checkpoint | - | - | 3.30 | 2.80 |" in lines  # benchmarked, not trained yet
    data = json.loads((tmp_path / "out" / "memory_ablation.json").read_text())
    assert [r["strategy"] for r in data["rows"]] == ["window", "window_global", "global_checkpoint", "global"]


def test_bad_inputs_fail_with_one_paragraph(tmp_path, capsys):
    _run_folder(tmp_path / "runs", "window", 48.0)
    (tmp_path / "bad.json").write_text("{not json")
    rc = ablation_memory.main([str(tmp_path / "runs"), "--benchmark", str(tmp_path / "bad.json"),
                               "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "not a tools/benchmark.py benchmark.json" in err, err
    _bench(tmp_path / "b.json")
    rc = ablation_memory.main([str(tmp_path / "runs"), "--benchmark", str(tmp_path / "b.json"),
                               "--size", "800", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "no rows at size 800 (it has [512, 1024])" in err, err
    _run_folder(tmp_path / "runs2", "window", 48.0)
    (tmp_path / "runs2" / "mem_window").rename(tmp_path / "runs2" / "a")
    _run_folder(tmp_path / "runs2", "window", 47.0)
    rc = ablation_memory.main([str(tmp_path / "runs2"), "--benchmark", str(tmp_path / "b.json"),
                               "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "two runs of strategy 'window'" in err, err
    assert not (tmp_path / "out").exists()

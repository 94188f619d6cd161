"""Study files and tools/study.py without a cluster: plan, status, folders, errors; the
tiny study through submitit's local executor (slow)."""
import os
import re

import pytest

from vitdet_bench.study import Resources, Run, Study, StudyError, expand, grid, load_study
from vitdet_bench.study.cli import main as study_main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_STUDY = os.path.join(REPO, "studies", "tiny_cpu.py")
TABLE_STUDY = os.path.join(REPO, "studies", "benchmarking_table.py")
TINY_CONFIG = os.path.join(REPO, "configs", "demo", "vit_tiny_study.py")


def study_cli(capsys, *argv):
    """``tools/study.py ARGV`` in this process (the tool is a shell around this main)."""
    code = study_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _record_dataset_file_checks(monkeypatch):
    """The training set of every config plan checks for files, recorded instead of
    checked (COCO's registered paths are fixed when detectron2 is imported)."""
    from vitdet_bench.config import load

    checked = []

    def record(cfg, eval_only=False):
        checked.append(cfg.dataloader.train.dataset.names)
        return []

    monkeypatch.setattr(load, "missing_dataset_files", record)
    return checked


@pytest.fixture
def coco_absent():
    """coco_2017_train / _val at paths that do not exist, whether or not COCO is here."""
    from engine_fixtures.helpers import datasets_absent

    with datasets_absent("coco_2017_train", "coco_2017_val"):
        yield


def test_plan_without_coco_or_pretrained_files_is_a_preview(capsys, tmp_path, monkeypatch,
                                                              coco_absent):
    """Issue 27 item 5: the plan (iterations, GPUs, accumulation, folders) and one note of
    what a launch still needs; launch refuses with one paragraph per missing file."""
    monkeypatch.chdir(tmp_path)  # no pretrained/ here
    code, out, err = study_cli(capsys, "plan", TABLE_STUDY)
    assert code == 0, err
    print(out)
    rows = [l for l in out.splitlines() if re.match(r"\w+_vit[bl]_\d+ep ", l)]
    assert len(rows) == 30
    mae_b_100 = next(r for r in rows if r.startswith("mae_vitb_100ep "))
    assert re.search(r"\s183229\s+8x8, 24h00\s+64 = 64 x 1\s", mae_b_100), mae_b_100
    assert "output/studies/benchmarking_table/mae_vitb_mrcnn-epochs100-" in mae_b_100
    note = out[out.index("Note: this machine lacks files a launch needs"):]
    assert out.count("Note: this machine lacks") == 1
    assert "dataset 'coco_2017_train' (all 30 runs): annotation file '" in note
    assert "dataset 'coco_2017_val' (all 30 runs): annotation file '" in note
    assert re.search(r"train.init_checkpoint 'pretrained/mae_pretrain_vit_base.pth' "
                     r"\(3 runs: mae_vitb_25ep, mae_vitb_50ep, mae_vitb_100ep\)", note), note
    assert note.count("does not exist (relative paths") == 8  # one per pre-trained file
    # what to do, once per kind
    assert note.count("Datasets are looked up under $DETECTRON2_DATASETS") == 1
    assert note.count("See the table of expected files in README.md") == 1
    code, out, err = study_cli(capsys, "launch", TABLE_STUDY, "--executor", "slurm")
    assert code == 2 and err.startswith("Study error: "), (out, err)
    assert err.count("Configuration error:") == 10, err
    assert "Runs 'random_vitb_25ep', 'random_vitb_50ep', 'random_vitb_100ep' and 27 more: " \
           "Configuration error: Dataset 'coco_2017_train'" in err
    assert not os.path.exists(tmp_path / "output")


def test_plan_of_the_tiny_study(capsys, tmp_path):
    code, out, err = study_cli(capsys, "plan", TINY_STUDY, "--root", str(tmp_path))
    assert code == 0, err
    print(out)
    assert "Study 'tiny_cpu'" in out and "2 runs" in out
    rows = [l for l in out.splitlines() if l.startswith("vit_tiny_study-seed")]
    assert len(rows) == 2
    for seed, row in zip((1, 2), rows):
        assert f"train.seed={seed}" in row
        assert re.search(r"\s8\s+1x2, 15min\s+4 = 2 x 1 x 2 accum\s+\?", row), row
        assert str(tmp_path / f"vit_tiny_study-seed{seed}-") in row
    assert "--seconds-per-iter" in out
    assert not os.listdir(tmp_path)  # plan submits and writes nothing
    # GPU-hours once a seconds-per-iteration figure is known; resources from the command line
    code, out, _ = study_cli(capsys, "plan", TINY_STUDY, "--root", str(tmp_path),
                             "--seconds-per-iter", "900", "--gpus-per-node", "4")
    assert code == 0
    assert "4 = 4 x 1  " in out and "1x4, 15min" in out
    assert re.search(r"\s8\.00\s", out) and "total: 16 GPU-hours" in out  # 8 it x 900 s x 4


def test_status_before_launch(capsys, tmp_path):
    code, out, err = study_cli(capsys, "status", TINY_STUDY, "--root", str(tmp_path))
    assert code == 0, err
    assert "Study 'tiny_cpu': 2 not submitted" in out
    assert re.search(r"vit_tiny_study-seed1\s+not submitted\s+-\s+-\s+- / -", out), out


def test_plan_of_the_benchmarking_table(capsys, tmp_path, monkeypatch):
    # what plan checks on the cluster: the pre-trained files (empty stand-ins here) and
    # COCO's files (empty stand-ins; the study gives the training set's size)
    pretrained = tmp_path / "pretrained"
    pretrained.mkdir()
    for f in ("beit_base_patch16_224_pt22k.pth", "beit_large_patch16_224_pt22k.pth",
              "mae_pretrain_vit_base.pth", "mae_pretrain_vit_large.pth", "vit-b-300ep.pth.tar",
              "vit-l-300ep.pth.tar", "deit_base_patch16_224-b5f2ef4d.pth",
              "vit_large_patch16_224_supervised.pth"):
        (pretrained / f).write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    # COCO itself is not on this machine and its registered paths are fixed when detectron2
    # is imported, so record the dataset-file check that plan runs instead of satisfying it.
    checked = _record_dataset_file_checks(monkeypatch)
    code, out, err = study_cli(capsys, "plan", TABLE_STUDY)
    assert code == 0, err
    assert len(checked) == 30 and set(checked) == {"coco_2017_train"}
    print(out)
    rows = [l for l in out.splitlines() if re.match(r"\w+_vit[bl]_\d+ep ", l)]
    assert len(rows) == 30
    assert {r.split()[0] for r in rows} >= {"random_vitb_25ep", "mae_vitl_100ep", "beit_vitb_50ep"}
    mae_b_100 = next(r for r in rows if r.startswith("mae_vitb_100ep "))
    # ceil(100 * 117266 / 64) iterations, 8 nodes x 8 GPUs, 1 image per GPU
    assert re.search(r"\s183229\s+8x8, 24h00\s+64 = 64 x 1\s", mae_b_100), mae_b_100
    assert "output/studies/benchmarking_table/mae_vitb_mrcnn-epochs100-" in mae_b_100
    # a single 8-GPU machine keeps the batch of 64 by accumulating 8 micro-batches
    code, out, _ = study_cli(capsys, "plan", TABLE_STUDY, "--nodes", "1", "--gpus-per-node", "8")
    assert code == 0
    assert "64 = 8 x 1 x 8 accum" in out and "1x8, 24h00" in out
    code, out, err = study_cli(capsys, "plan", TABLE_STUDY, "--gpus-per-node", "3")
    assert code == 2 and "total batch 64 does not split over 8 node(s) x 3 GPU(s)" in err


def test_run_folders_follow_the_content(tmp_path):
    runs = grid("configs/demo/vit_tiny_study.py", axes={"train.seed": [1, 2, 3]})
    a = {r.name: r.folder for r in expand(Study("s", runs), str(tmp_path))}
    # reordered, renamed, one more run: the same runs keep their folders
    renamed = [Run(r.config, list(r.overrides), name=f"other-{i}") for i, r in enumerate(runs)]
    b = expand(Study("s", renamed[::-1] + [Run("configs/demo/vit_tiny_study.py",
                                                ["train.seed=4"])]), str(tmp_path))
    assert sorted(a.values()) == sorted(r.folder for r in b[:3])
    assert len({r.folder for r in b}) == 4
    # the same overrides in another order (or as a dict) are the same run
    one = expand(Study("s", [Run("c.py", ["a.b=1", "c=2"])]), str(tmp_path))[0]
    two = expand(Study("s", [Run("c.py", {"c": 2, "a.b": 1})]), str(tmp_path))[0]
    assert one.folder == two.folder
    assert os.path.basename(a["vit_tiny_study-seed2"]).startswith("vit_tiny_study-seed2-")


def test_job_overrides():
    run = expand(Study("s", grid("c.py", axes={"train.epochs": [25]})), "/r")[0]
    assert run.job_overrides(4) == ["train.epochs=25", f"train.output_dir={run.folder}",
                                    "train.vitdet_bench.epochs=25", "train.grad_accum=4"]


BROKEN = {
    "syntax": ("study = Study(name='x'\n", r"is not valid Python"),
    "no_study": ("x = 1\n", r"must define `study = Study\(\.\.\.\)`"),
    "raises": ("raise RuntimeError('boom')\n", r"failed while loading: RuntimeError: boom"),
    "not_a_run": ("study = Study('x', runs=[grid('c.py', axes={'a.b': [1]})])\n",
                  r"study.runs\[0\] is a list, not a Run"),
    "empty_axis": ("study = Study('x', runs=grid('c.py', axes={'train.seed': []}))\n",
                   r"axis 'train.seed' must be a non-empty list"),
    "template": ("study = Study('x', runs=grid('configs/{init}.py', axes={'size': ['b']}))\n",
                 r"names \{init\}, which is not an axis"),
    "duplicate": (f"study = Study('x', runs=[Run({TINY_CONFIG!r}, ['train.seed=1']), "
                  f"Run({TINY_CONFIG!r}, ['train.seed=1'], name='b')])\n", r"are the same run"),
    "bad_time": ("study = Study('x', runs=[Run('c.py')], resources=Resources(time='soon'))\n",
                 r"time 'soon' is not a SLURM time limit"),
    "unknown_config": ("study = Study('x', runs=[Run('configs/nope_vitb.py', name='r1')])\n",
                       r"Run 'r1' \(config 'configs/nope_vitb.py'\): config file .* does not exist"),
    "unknown_key": (f"study = Study('x', runs=[Run({TINY_CONFIG!r}, ['train.max_itre=3'], "
                    "name='typo')])\n",
                    r"Run 'typo' .*Configuration error: Unknown config key 'train.max_itre'.*"
                    r"Did you mean 'train.max_iter'"),
    "wrong_type": (f"study = Study('x', runs=[Run({TINY_CONFIG!r}, ['train.max_iter=abc'], "
                   "name='t')])\n", r"Run 't' .*Wrong type for config key 'train.max_iter'"),
    "missing_init": (f"study = Study('x', runs=grid({TINY_CONFIG!r}, axes={{"
                     "'train.init_checkpoint': ['/nowhere/mae.pth']}), "
                     "resources=Resources(nodes=1, gpus_per_node=2, images_per_gpu=1))\n",
                     r"Run 'vit_tiny_study-init_checkpoint/nowhere/mae.pth' .*"
                     r"train.init_checkpoint='/nowhere/mae.pth' does not exist"),
}


MISSING_FILES = {"missing_init"}  # not on this machine: plan shows the plan and a note


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_study_file_errors(case, capsys, tmp_path):
    text, pattern = BROKEN[case]
    path = tmp_path / f"{case}.py"
    path.write_text("from vitdet_bench.study import Resources, Run, Study, grid\n" + text)
    root = tmp_path / "root"
    for command in ("plan", "launch"):
        argv = [command, str(path), "--root", str(root)]
        if command == "launch":
            argv += ["--executor", "slurm"]
        code, out, err = study_cli(capsys, *argv)
        if command == "plan" and case in MISSING_FILES:  # a preview: plan and a note
            assert code == 0 and "Note: this machine lacks files" in out, (out, err)
            assert "train.init_checkpoint '/nowhere/mae.pth' (1 run: " in out, out
            continue
        assert code == 2, (out, err)
        assert err.startswith("Study error: ") and re.search(pattern, err), err
        assert "Traceback" not in err
        if case in ("syntax", "no_study", "raises"):
            assert str(path) in err
    assert not root.exists()  # nothing submitted, nothing written


def test_load_study_missing_file(tmp_path):
    with pytest.raises(StudyError, match=r"Study file .*nope.py' does not exist"):
        load_study(str(tmp_path / "nope.py"))


def test_resources():
    r = Resources(nodes=8, gpus_per_node=8, time="1-12:00:00")
    assert r.timeout_min == 36 * 60 and r.world_size == 64
    assert Resources(time="90").timeout_min == 90 and Resources(time="02:30:00").timeout_min == 150
    assert r.replace(nodes=1, mem=None).nodes == 1
    with pytest.raises(StudyError, match="Resources.nodes=0"):
        Resources(nodes=0)


@pytest.mark.slow
def test_tiny_study_with_the_local_executor(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    root = str(tmp_path / "root")
    code, out, err = study_cli(capsys, "launch", TINY_STUDY, "--executor", "local", "--root",
                               root, "--max-parallel", "2")
    assert code == 0, err
    assert len(re.findall(r"vit_tiny_study-seed\d: job \d+; log ", out)) == 2, out
    assert out.count("local job") == 2 and out.count(" done") >= 2, out
    code, status, err = study_cli(capsys, "status", TINY_STUDY, "--root", root)
    print(status)
    assert code == 0 and "2 done" in status, status
    assert re.search(r"vit_tiny_study-seed2\s+done\s+\d+\s+8/8\s+\d+\.\d / \d+\.\d", status)
    code, again, _ = study_cli(capsys, "launch", TINY_STUDY, "--executor", "local", "--root", root)
    assert again.count("done, skipped") == 2
    code, table, err = study_cli(capsys, "collect", TINY_STUDY, "--root", root)
    print(table)
    assert code == 0, err
    assert "| vit_tiny_study |" in table and os.path.isfile(os.path.join(root, "table",
                                                                          "benchmark.csv"))


def test_job_unpickles_without_heavy_imports(tmp_path):
    """A task must install its signal handlers before torch/detectron2 are imported (a
    SLURM signal arriving earlier would kill it): the job is pickled by value."""
    import subprocess
    import sys

    import cloudpickle

    from vitdet_bench.study.job import DeferredSignal, job_by_value

    job = job_by_value("r", TINY_CONFIG, ["train.seed=1"])
    path = tmp_path / "job.pkl"
    path.write_bytes(cloudpickle.dumps(job))
    code = ("import pickle, sys; job = pickle.load(open(sys.argv[1], 'rb')); "
            "again = job.checkpoint(); "
            "print(type(job).__name__, job.overrides, type(again.function).__name__, "
            "sorted(m for m in ('torch', 'detectron2', 'vitdet_bench') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "TrainJob ['train.seed=1'] TrainJob []", r.stdout
    # the deferring handler records and hands over later
    seen = []
    handler = DeferredSignal(lambda s, f: seen.append(s))
    handler(10, None)
    handler(10, None)
    assert handler.pending == [10] and not seen
    handler.deliver()
    assert seen == [10] and handler.pending == []


def test_slurm_job_states_parses_scontrol(monkeypatch):
    from vitdet_bench.study import state

    lines = "\n".join([
        "JobId=7 ArrayJobId=5 ArrayTaskId=2 JobName=s JobState=RUNNING Reason=None Restarts=1",
        "JobId=5 ArrayJobId=5 ArrayTaskId=0-1,3%2 JobName=s JobState=PENDING Reason=JobArrayTaskLimit Restarts=0",
        "JobId=9 JobName=t JobState=CANCELLED Reason=None Restarts=0",
    ])
    monkeypatch.setattr(state, "_run", lambda cmd: lines if cmd[0] == "scontrol" else None)
    got = state.slurm_job_states(["5_0", "5_1", "5_2", "5_3", "9", "11"])
    assert got["5_2"] == {"state": "RUNNING", "restarts": 1, "reason": "None"}
    assert got["5_0"]["state"] == got["5_1"]["state"] == got["5_3"]["state"] == "PENDING"
    assert got["9"]["state"] == "CANCELLED" and "11" not in got
    assert state._array_tasks("0-6:3") == [0, 3, 6]


ABLATION_STUDIES = {  # study file -> its number of runs
    "ablation_fpn.py": 3, "ablation_memory.py": 4, "ablation_positions.py": 17,
    "ablation_pretrain_length.py": 9, "complexity_scratch.py": 15,
}


@pytest.mark.parametrize("name", sorted(ABLATION_STUDIES))
def test_plan_of_each_ablation_study(name, capsys, tmp_path, monkeypatch):
    """Every ablation table is one study file: its runs are the table's config files (each
    ablation config exactly once), and plan checks each of them as launch would."""
    from detectron2.config import LazyConfig

    path = os.path.join(REPO, "studies", name)
    runs = expand(load_study(path), str(tmp_path / "root"))
    assert len(runs) == ABLATION_STUDIES[name]
    assert len({r.name for r in runs}) == len(runs) and len({r.folder for r in runs}) == len(runs)
    # stand-ins for the pre-trained files the runs name (plan checks that they exist)
    monkeypatch.chdir(tmp_path)
    for r in runs:
        assert os.path.isfile(r.config_path), r.config_path
        ckpt = LazyConfig.load(r.config_path).train.get("init_checkpoint")
        if ckpt:
            os.makedirs(os.path.dirname(ckpt) or ".", exist_ok=True)
            open(ckpt, "wb").close()
    checked = _record_dataset_file_checks(monkeypatch)
    code, out, err = study_cli(capsys, "plan", path, "--root", str(tmp_path / "root"))
    assert code == 0, err
    assert len(checked) == len(runs) and set(checked) == {"coco_2017_train"}
    for r in runs:
        assert re.search(rf"^{re.escape(r.name)}\s.*8x8, 24h00\s+64 = 64 x 1\s", out, re.M), out


def test_ablation_studies_cover_every_ablation_config():
    used = set()
    for name in ABLATION_STUDIES:
        for r in expand(load_study(os.path.join(REPO, "studies", name)), "/tmp/unused"):
            used.add(os.path.relpath(r.config_path, REPO))
    shipped = {os.path.join("configs", "ablations", f)
               for f in os.listdir(os.path.join(REPO, "configs", "ablations")) if f.endswith(".py")}
    assert shipped <= used, sorted(shipped - used)
    assert {"configs/resnet/r50_mrcnn_scratch.py", "configs/resnet/r101_mrcnn_scratch.py",
            "configs/random_vitb_mrcnn.py"} <= used


@pytest.mark.slow
def test_tiny_study_from_a_non_editable_install(tmp_path):
    """``pip install .`` (not editable) into a folder of its own, then tools/study.py from
    the repository root: the tool and its jobs import the installed package, not the
    checkout (PYTHONSAFEPATH: neither the script's folder nor the working directory is
    put on the path), and plan, launch (local executor) and status work."""
    import shutil
    import subprocess
    import sys

    src, site = tmp_path / "src", tmp_path / "site"
    src.mkdir()
    shutil.copy(os.path.join(REPO, "setup.py"), src / "setup.py")
    shutil.copytree(os.path.join(REPO, "vitdet_bench"), src / "vitdet_bench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for family in ("ConvMAE/convmae", "iTPN/itpn"):   # setup.py's package_dir
        shutil.copytree(os.path.join(REPO, "projects", family), src / "projects" / family,
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(src)], check=True,
                   capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(site), PYTHONSAFEPATH="1", OMP_NUM_THREADS="1",
               PYTHONWARNINGS="ignore")
    probe = tmp_path / "probe.py"
    probe.write_text("import vitdet_bench.study.job as j, vitdet_bench as v\n"
                     "print(v.__file__, j.__file__)\n")
    where = subprocess.run([sys.executable, str(probe)], env=env, cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert where.returncode == 0, where.stderr[-2000:]
    assert all(f.startswith(str(site)) for f in where.stdout.split()), where.stdout

    def study(*argv):
        r = subprocess.run([sys.executable, os.path.join("tools", "study.py"), *argv], env=env,
                           cwd=REPO, capture_output=True, text=True, timeout=1200)
        assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
        return r.stdout

    root = str(tmp_path / "root")
    plan = study("plan", TINY_STUDY, "--root", root)
    assert "Study 'tiny_cpu'" in plan and "4 = 2 x 1 x 2 accum" in plan and not os.path.exists(root)
    out = study("launch", TINY_STUDY, "--executor", "local", "--root", root, "--max-parallel", "2")
    assert out.count("local job") == 2 and out.count(" done") >= 2, out
    assert "2 done" in study("status", TINY_STUDY, "--root", root)
    logs = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(root, "submitit"))
            for f in files if f.endswith("_log.out")]
    text = "".join(open(f).read() for f in logs)
    assert text.count(f"vitdet_bench from {site / 'vitdet_bench'}") == 4, text[-3000:]  # 2 jobs x 2 tasks

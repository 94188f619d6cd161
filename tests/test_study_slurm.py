"""tools/study.py on a real single-node SLURM (slurm-wlm + munge, started by the fixture).

* the two-run tiny study (2 tasks per job: two CPU processes over gloo, world size 2
  from the SLURM environment) reaches done with reports; launch again skips it;
  status and collect build their tables;
* a run cancelled mid-training (scancel) is interrupted; launch resubmits it; it
  resumes from its last checkpoint and ends at the same final iteration (the run is
  long enough that SLURM's KillWait of 5 s between SIGTERM and SIGKILL, during which
  training goes on, cannot take it to the end);
* a job reaching its time limit (--time 2 with the signal 110 s before it) is
  signalled, checkpoints, is requeued by submitit and finishes.

SLURM holds a requeued job for ~2 minutes before it may start again (Reason=BeginTime);
the tests release that hold (``scontrol update StartTime=now``), as an operator can,
and give the restarted time-limited job 15 minutes, so that one requeue is enough.
Skipped only where SLURM cannot start (no root, no apt-get, a daemon refusing).
"""
import os
import re
import subprocess
import sys
import time

import pytest

from slurm_cluster import SlurmUnavailable, start_cluster
from vitdet_bench.study import expand, load_study

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_STUDY = os.path.join(REPO, "studies", "tiny_cpu.py")
TINY_CONFIG = os.path.join(REPO, "configs", "demo", "vit_tiny_study.py")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    try:
        cluster = start_cluster(str(tmp_path_factory.mktemp("slurm")))
    except SlurmUnavailable as e:
        pytest.skip(f"a single-node SLURM cannot start on this machine: {e}")
    yield cluster
    cluster.stop()


def _env(slurm):
    env = dict(slurm.env)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def study_cli(slurm, *args, check=True):
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "study.py"), *args],
                       env=_env(slurm), capture_output=True, text=True, timeout=300, cwd=REPO)
    if check and r.returncode != 0:
        raise AssertionError(f"study.py {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def launch_one_run(slurm, tmp_path, name, iterations, resources):
    """A one-run study of the tiny config with ``iterations``, launched on SLURM:
    (study file, root, job id, the run's folder)."""
    path = tmp_path / f"{name}.py"
    path.write_text(f"""
from vitdet_bench.study import Resources, Study, Run
study = Study(name={name!r}, runs=[Run({TINY_CONFIG!r}, {{"train.max_iter": {iterations}}},
                                       name={name!r})],
              resources=Resources({resources}))
""")
    root = str(tmp_path / "root")
    ids = job_ids(study_cli(slurm, "launch", str(path), "--executor", "slurm", "--root",
                            root).stdout)
    assert len(ids) == 1
    folder = expand(load_study(str(path)), root)[0].folder
    return str(path), root, ids[0], folder


def release_requeue_hold(slurm, job_id, time_limit=None):
    """SLURM keeps a requeued job pending ~2 min (BeginTime); let it start now (and
    optionally give the restarted job a longer time limit)."""
    out = slurm.run("scontrol", "show", "job", "-o", job_id, check=False)
    if "JobState=PENDING" in out and "Reason=BeginTime" in out:
        extra = [f"TimeLimit={time_limit}"] if time_limit else []
        slurm.run("scontrol", "update", f"JobId={job_id}", "StartTime=now", *extra, check=False)


def wait_for(predicate, timeout, what, slurm=None, job_id=None, every=2.0, time_limit=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if slurm is not None and job_id:
            release_requeue_hold(slurm, job_id, time_limit)
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def job_ids(launch_stdout):
    return re.findall(r": job (\S+?)[;( ]", launch_stdout)


def final_iteration(folder):
    import torch

    ckpt = torch.load(os.path.join(folder, "model_final.pth"), map_location="cpu",
                      weights_only=False)
    assert "model" in ckpt and len(ckpt["model"]) > 50
    return ckpt["trainer"]["iteration"]


def test_tiny_study_on_slurm_two_tasks_per_job(slurm, tmp_path):
    root = str(tmp_path / "study")
    r = study_cli(slurm, "launch", TINY_STUDY, "--executor", "slurm", "--root", root)
    ids = job_ids(r.stdout)
    assert len(ids) == 2, r.stdout
    assert "submitit" in r.stdout and "log" in r.stdout

    def all_done():
        s = study_cli(slurm, "status", TINY_STUDY, "--root", root).stdout
        assert "failed" not in s and "interrupted" not in s, s
        return s if s.count(" done ") >= 2 else None

    status = wait_for(all_done, 420, "both runs done")
    assert re.search(r"vit_tiny_study-seed1\s+done\s+\d+_0\s+8/8", status), status  # an array
    for line in status.splitlines()[4:]:
        assert re.search(r"\d+\.\d / \d+\.\d$", line), status  # AP from the reports
    for d in os.listdir(root):
        if d.startswith("vit_tiny_study"):
            assert os.path.isfile(os.path.join(root, d, "report.json"))
            assert final_iteration(os.path.join(root, d)) == 7
    # world size 2 from SLURM: both tasks of each job trained, with 2 micro-batches/step
    for jid in ids:
        logs = os.path.join(root, "submitit", jid)
        out0 = open(os.path.join(logs, f"{jid}_0_log.out")).read()
        out1 = open(os.path.join(logs, f"{jid}_1_log.out")).read()
        assert "rank 0 of 2" in out0 and "rank 1 of 2" in out1
        assert "world size 2 on cpu" in out0
        assert "Gradient accumulation: 2 micro-batches" in out0

    again = study_cli(slurm, "launch", TINY_STUDY, "--executor", "slurm", "--root", root).stdout
    assert again.count("done, skipped") == 2 and "Nothing to submit" in again, again

    out = str(tmp_path / "table")
    table = study_cli(slurm, "collect", TINY_STUDY, "--root", root, "--output", out).stdout
    assert "| vit_tiny_study |" in table and "seed=1" in table and "seed=2" in table
    # the benchmark table: both seeds in one cell, mean ± std (n)
    assert re.search(r"0\.0 ± 0\.0 / 0\.0 ± 0\.0 \(2\)", table), table
    for f in ("study.md", "study.csv", "benchmark.md", "benchmark.csv", "convergence.png"):
        assert os.path.isfile(os.path.join(out, f)), f


def test_scancel_then_launch_resumes_and_finishes(slurm, tmp_path):
    # SIGTERM is bypassed by submitit and training goes on until SIGKILL, KillWait=5 s
    # later: ~12 iterations at 0.4 s each on a quiet machine; 40 leave room for that
    max_iter = 40
    study, root, first, folder = launch_one_run(
        slurm, tmp_path, "cancel_me", max_iter, "nodes=1, gpus_per_node=2, cpus_per_task=1, "
        "mem='3G', time='15:00', request_gpus=False")
    wait_for(lambda: os.path.isfile(os.path.join(folder, "model_0000003.pth")), 300,
             "a checkpoint at iteration 3", every=0.2)
    slurm.run("scancel", first)
    status = wait_for(lambda: (lambda s: "interrupted" in s and s)(
        study_cli(slurm, "status", study, "--root", root).stdout), 60, "state interrupted")
    assert "CANCELLED" in status, status
    iters_at_cancel = int(re.search(rf"interrupted\s+\S+\s+(\d+)/{max_iter}", status).group(1))
    assert 4 <= iters_at_cancel < max_iter, status

    again = study_cli(slurm, "launch", study, "--executor", "slurm", "--root", root).stdout
    assert "interrupted: resubmitted" in again, again
    second = job_ids(again)
    assert len(second) == 1 and second[0] != first
    wait_for(lambda: "  done  " in study_cli(slurm, "status", study, "--root", root).stdout,
             300, "the resubmitted run done")
    log = open(os.path.join(root, "submitit", second[0], f"{second[0]}_0_log.out")).read()
    resumed = int(re.search(r"[Rr]esuming from \S+model_(\d+)\.pth at iteration (\d+)", log).group(2))
    assert 4 <= resumed <= iters_at_cancel, log[-2000:]
    assert final_iteration(folder) == max_iter - 1
    assert os.path.isfile(os.path.join(folder, "report.json"))


def test_time_limit_signal_checkpoints_requeues_and_finishes(slurm, tmp_path):
    # 3 minutes, signalled 140 s before: SLURM sends USR2 40-70 s into each job (its
    # signal check runs every ~30 s). Start-up takes 15-30 s, and 200 iterations (~80 s at
    # 0.4 s/iteration on a quiet 2-core machine) keep the signal inside training, neither
    # before the handler is installed nor after the last iteration.
    max_iter = 200
    study, root, jid, folder = launch_one_run(
        slurm, tmp_path, "time_limited", max_iter, "nodes=1, gpus_per_node=1, cpus_per_task=1, "
        "mem='3G', time=3, signal_delay_s=140, request_gpus=False")
    saw_requeued = []

    def done():
        s = study_cli(slurm, "status", study, "--root", root).stdout
        if "requeued" in s:
            saw_requeued.append(s)
        assert "failed" not in s, s
        return "  done  " in s

    # the first job is signalled by its 2-minute limit; the requeued one gets 15 minutes
    # so that the test ends after one requeue
    wait_for(done, 420, "the time-limited run done", slurm=slurm, job_id=jid, time_limit=15)
    log = open(os.path.join(root, "submitit", jid, f"{jid}_0_log.out")).read()
    err = open(os.path.join(root, "submitit", jid, f"{jid}_0_log.err")).read()
    saved = [int(x) for x in re.findall(r"Checkpoint of iteration (\d+) saved on SIGUSR2",
                                        log + err)]
    assert saved, (log + err)[-3000:]
    assert "Requeued job" in log + err, (log + err)[-3000:]
    resumed = [int(x) for x in re.findall(r"[Rr]esuming from \S+ at iteration (\d+)", log)]
    assert resumed and resumed[0] == saved[0] + 1, (saved, resumed)
    assert saw_requeued and "time_limited  requeued" in saw_requeued[0], saw_requeued
    assert final_iteration(folder) == max_iter - 1
    assert os.path.isfile(os.path.join(folder, "report.json"))
    restarts = slurm.run("scontrol", "show", "job", "-o", jid)
    assert int(re.search(r"Restarts=(\d+)", restarts).group(1)) >= 1

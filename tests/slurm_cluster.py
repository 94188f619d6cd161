"""A single-node SLURM cluster for tests: Debian's slurm-wlm + munge, run as root.

``start_cluster(folder)`` installs the packages if missing (apt-get, idempotent), writes a
``slurm.conf`` into ``folder`` (one node with this machine's name, state and spool folders
under ``folder``), starts munged, slurmctld and slurmd, waits until ``sinfo`` shows the
node idle and returns a :class:`SlurmCluster` whose ``env`` points the SLURM clients at it
(``SLURM_CONF``). ``stop()`` cancels what is left and stops the daemons by their pids.
``SlurmUnavailable`` says why a cluster cannot start here (not root, no apt, daemon
refused): the tests skip with that reason and only then.

Standalone, for poking at it by hand::

    python tests/slurm_cluster.py /tmp/slurm   # starts, prints the env, waits for Ctrl-C
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, List

PACKAGES = ("slurm-wlm", "munge")
BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "munged")


class SlurmUnavailable(RuntimeError):
    pass


def _run(cmd: List[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _find(binary: str) -> str | None:
    return shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None)


def ensure_installed() -> None:
    """apt-get install slurm-wlm munge unless every binary is already there."""
    if all(_find(b) for b in BINARIES):
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable("SLURM is not installed and this is not root (apt-get needs root)")
    if not shutil.which("apt-get"):
        raise SlurmUnavailable("SLURM is not installed and there is no apt-get on this machine")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        r = _run(cmd, env=env, timeout=900)
        if r.returncode != 0:
            raise SlurmUnavailable(f"{' '.join(cmd)} failed (exit {r.returncode}): "
                                   f"{(r.stderr or r.stdout).strip()[-600:]}")
    missing = [b for b in BINARIES if not _find(b)]
    if missing:
        raise SlurmUnavailable(f"after installing {PACKAGES}, still missing: {missing}")


def _memory_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 4096


def write_config(folder: str, cpus: int) -> str:
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "log"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    mem = max(1024, int(_memory_mb() * 0.8))
    text = f"""\
ClusterName=vitdet_bench_test
SlurmctldHost={host}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
SlurmUser=root
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=2
MinJobAge=3600
KillWait=5
# the node's CPUs as written here, even above the cores (test processes are 1-thread)
SlurmdParameters=config_overrides
NodeName={host} CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""
    path = os.path.join(folder, "slurm.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def _start_munge() -> bool:
    """Start munged unless it runs; True if this call started it."""
    if _run(["sh", "-c", "munge -n | unmunge"]).returncode == 0:
        return False  # already running
    if not os.path.exists("/etc/munge/munge.key"):
        keygen = _find("mungekey")
        r = _run([keygen, "-c"]) if keygen else _run(
            ["sh", "-c", "dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key"])
        if r.returncode != 0:
            raise SlurmUnavailable(f"cannot create /etc/munge/munge.key: {r.stderr.strip()}")
        _run(["chown", "munge:munge", "/etc/munge/munge.key"])
        os.chmod("/etc/munge/munge.key", 0o400)
    os.makedirs("/run/munge", exist_ok=True)
    _run(["chown", "munge:munge", "/run/munge"])
    r = _run(["su", "-s", "/bin/sh", "munge", "-c", _find("munged") or "munged"])
    if r.returncode != 0:
        raise SlurmUnavailable(f"munged did not start: {(r.stderr or r.stdout).strip()}")
    return True


@dataclass
class SlurmCluster:
    folder: str
    conf: str
    env: Dict[str, str] = field(default_factory=dict)
    started_munge: bool = False

    def run(self, *cmd: str, check: bool = True) -> str:
        r = _run(list(cmd), env=self.env, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def jobs(self) -> List[str]:
        return self.run("squeue", "-h", "-o", "%i").split()

    def stop(self) -> None:
        try:
            ids = self.jobs()
            if ids:
                self.run("scancel", *ids, check=False)
            deadline = time.time() + 20  # let slurmd stop the jobs' processes
            while self.jobs() and time.time() < deadline:
                time.sleep(0.5)
        except Exception:
            pass
        pid_files = [os.path.join(self.folder, f"{name}.pid") for name in ("slurmd", "slurmctld")]
        if self.started_munge:
            pid_files.append("/run/munge/munged.pid")
        for pid_file in pid_files:
            try:
                pid = int(open(pid_file).read().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def start_cluster(folder: str, cpus: int = 8) -> SlurmCluster:
    """Install (if needed), configure and start a one-node cluster with ``cpus`` CPUs.

    ``cpus`` may exceed the machine's cores (the tests' CPU processes are 1-thread and
    mostly wait), so two 2-task jobs can run side by side.
    """
    if os.geteuid() != 0:
        raise SlurmUnavailable("starting slurmctld/slurmd/munged needs root")
    ensure_installed()
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    conf = write_config(folder, cpus)
    env = dict(os.environ, SLURM_CONF=conf)
    started_munge = _start_munge()
    for daemon in ("slurmctld", "slurmd"):
        r = _run([_find(daemon), "-f", conf], env=env, timeout=60)
        if r.returncode != 0:
            log = os.path.join(folder, "log", f"{daemon}.log")
            tail = open(log).read()[-800:] if os.path.exists(log) else ""
            SlurmCluster(folder, conf, env, started_munge).stop()
            raise SlurmUnavailable(f"{daemon} did not start (exit {r.returncode}): "
                                   f"{(r.stderr or r.stdout).strip()} {tail}")
    cluster = SlurmCluster(folder, conf, env, started_munge)
    deadline = time.time() + 60
    while time.time() < deadline:
        r = _run(["sinfo", "-h", "-o", "%t"], env=env)
        if r.returncode == 0 and r.stdout.strip() in ("idle", "mix", "alloc"):
            return cluster
        time.sleep(0.5)
    cluster.stop()
    log = os.path.join(folder, "log", "slurmd.log")
    raise SlurmUnavailable("the SLURM node did not become idle within 60 s: "
                           + (open(log).read()[-800:] if os.path.exists(log) else ""))


if __name__ == "__main__":
    import sys

    c = start_cluster(sys.argv[1] if len(sys.argv) > 1 else "/tmp/vitdet_slurm")
    print(f"export SLURM_CONF={c.conf}")
    try:
        signal.pause()
    finally:
        c.stop()

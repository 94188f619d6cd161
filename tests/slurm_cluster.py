"""A single-node SLURM cluster for tests: Debian's slurm-wlm + munge, run as root.

``start_cluster(folder)`` installs the packages if missing (apt-get, idempotent), writes a
``slurm.conf`` into ``folder`` (one node with this machine's name, state and spool folders
under ``folder``), starts a private munged, slurmctld and slurmd, waits until ``sinfo``
shows the node idle and returns a :class:`SlurmCluster` whose ``env`` points the SLURM
clients at it. ``stop()`` cancels what is left and stops the daemons by their pids.
``SlurmUnavailable`` says why a cluster cannot start here (not root, no apt, daemon
refused): the tests skip with that reason and only then.

Isolated from any other SLURM on the machine (a developer's real cluster, a second test
run): slurmctld and slurmd listen on free ports chosen at start (never the default
6817/6818), munged is the cluster's own (key, socket, pid and log under ``folder``;
``AuthInfo=socket=`` in slurm.conf), and the cluster name is unique. ``env`` sets
``SLURM_CONF`` to this cluster's slurm.conf, drops inherited ``SLURM_*`` / ``SBATCH_*``
variables, and puts first on ``PATH`` a folder of guards for the client commands (sbatch,
squeue, scancel, sacct, scontrol, sinfo, srun, ...) that refuse, with a message naming
both files, to run when ``SLURM_CONF`` is not this cluster's: without it a client would
read /etc/slurm/slurm.conf and reach whatever listens on the default port. Once started,
the controller that answers ``scontrol show config`` through ``env`` must report this
cluster's name and port (:class:`ForeignCluster` otherwise).

Standalone, for poking at it by hand::

    python tests/slurm_cluster.py /tmp/slurm   # starts, prints the env, waits for Ctrl-C
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

PACKAGES = ("slurm-wlm", "munge")
BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "munged")
# every client command a test or submitit may call (guarded when installed)
CLIENTS = ("sbatch", "squeue", "scancel", "sacct", "scontrol", "sinfo", "srun", "salloc",
           "sattach", "sstat", "sprio", "sshare", "sreport", "sacctmgr", "strigger")
DEFAULT_PORTS = (6817, 6818)   # slurmctld, slurmd: what a cluster without ports set uses
INHERITED_PREFIXES = ("SLURM_", "SBATCH_", "SALLOC_", "SRUN_", "SQUEUE_", "SACCT_", "SINFO_",
                      "SCANCEL_")


class SlurmUnavailable(RuntimeError):
    pass


class ForeignCluster(RuntimeError):
    """A SLURM client would reach (or reached) a cluster other than the test's own."""


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


def free_ports(count: int) -> List[int]:
    """``count`` distinct TCP ports free right now (bound together, then released), never
    SLURM's defaults."""
    socks, ports = [], []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("", 0))
            socks.append(sock)
            port = sock.getsockname()[1]
            if port not in DEFAULT_PORTS:
                ports.append(port)
    finally:
        for sock in socks:
            sock.close()
    return ports


def write_config(folder: str, cpus: int, ctld_port: int, slurmd_port: int,
                 munge_socket: str, cluster_name: str) -> str:
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "log"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    mem = max(1024, int(_memory_mb() * 0.8))
    text = f"""\
ClusterName={cluster_name}
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
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


def _start_munge(folder: str) -> str:
    """Start the cluster's own munged (key, socket, pid, log and seed under ``folder``/munge)
    and return its socket. ``-f``: the test folder is private to root, which munged would
    otherwise refuse as a socket directory (every daemon and job here runs as root)."""
    mdir = os.path.join(folder, "munge")
    os.makedirs(mdir, mode=0o700, exist_ok=True)
    key = os.path.join(mdir, "munge.key")
    if not os.path.exists(key):
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
    sock = os.path.join(mdir, "munge.socket")
    r = _run([_find("munged") or "munged", "-f", f"--socket={sock}", f"--key-file={key}",
              f"--pid-file={os.path.join(mdir, 'munged.pid')}",
              f"--log-file={os.path.join(mdir, 'munged.log')}",
              f"--seed-file={os.path.join(mdir, 'munged.seed')}"], timeout=60)
    if r.returncode != 0:
        raise SlurmUnavailable(f"munged did not start (exit {r.returncode}): "
                               f"{(r.stderr or r.stdout).strip()}")
    check = _run(["sh", "-c", f"munge -S '{sock}' -n | unmunge -S '{sock}'"])
    if check.returncode != 0:
        raise SlurmUnavailable(f"the cluster's munged at {sock} does not answer: "
                               f"{(check.stderr or check.stdout).strip()}")
    return sock


_GUARD = """#!/bin/sh
# {name} of the test SLURM cluster at {conf} only.
if [ "$SLURM_CONF" != "{conf}" ]; then
  echo "Refusing to run {name}: SLURM_CONF=${{SLURM_CONF:-<unset>}} is not the test cluster's \
slurm.conf ({conf}), so {name} would reach another SLURM cluster (the one of that file, or of \
/etc/slurm/slurm.conf on the default port 6817) instead of the test's. Run it with the \
test cluster's environment (SlurmCluster.env)." >&2
  exit 3
fi
exec {real} "$@"
"""


def write_client_guards(folder: str, conf: str) -> str:
    """A folder of guards for the client commands (see the module docstring)."""
    bin_dir = os.path.join(folder, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    for name in CLIENTS:
        real = _find(name)
        if not real:
            continue
        path = os.path.join(bin_dir, name)
        with open(path, "w") as f:
            f.write(_GUARD.format(name=name, conf=conf, real=real))
        os.chmod(path, 0o755)
    return bin_dir


def client_env(conf: str, bin_dir: str, base: Dict[str, str] | None = None) -> Dict[str, str]:
    """``base`` (default os.environ) without inherited SLURM client settings, with
    SLURM_CONF and the guards first on PATH."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith(INHERITED_PREFIXES)}
    env["SLURM_CONF"] = conf
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", os.defpath)
    return env


@dataclass
class SlurmCluster:
    folder: str
    conf: str
    env: Dict[str, str] = field(default_factory=dict)
    ports: Tuple[int, int] = (0, 0)       # slurmctld, slurmd
    cluster_name: str = ""
    munge_socket: str = ""

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
        _kill_pid_files([os.path.join(self.folder, "slurmd.pid"),
                         os.path.join(self.folder, "slurmctld.pid"),
                         os.path.join(self.folder, "munge", "munged.pid")])

    def check_reaches_this_cluster(self) -> None:
        """The controller answering through ``env`` is this cluster's (name and port)."""
        r = _run(["scontrol", "show", "config"], env=self.env, timeout=60)
        conf = dict(re.findall(r"^(\w+)\s*=\s*(.*?)\s*$", r.stdout, re.M))
        got = (conf.get("ClusterName"), conf.get("SlurmctldPort"))
        if r.returncode != 0 or got != (self.cluster_name, str(self.ports[0])):
            raise ForeignCluster(
                f"scontrol with SLURM_CONF={self.conf} answered ClusterName={got[0]!r}, "
                f"SlurmctldPort={got[1]!r}, expected the test cluster's {self.cluster_name!r} on "
                f"port {self.ports[0]} (exit {r.returncode}: {r.stderr.strip()[-300:]}). "
                "Its clients would submit to another cluster: nothing is submitted.")


def _kill_pid_files(pid_files: List[str]) -> None:
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
    """Install (if needed), configure and start a one-node cluster with ``cpus`` CPUs on
    free ports.

    ``cpus`` may exceed the machine's cores (the tests' CPU processes are 1-thread and
    mostly wait), so two 2-task jobs can run side by side.
    """
    if os.geteuid() != 0:
        raise SlurmUnavailable("starting slurmctld/slurmd/munged needs root")
    ensure_installed()
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    munge_socket = _start_munge(folder)
    ctld_port, slurmd_port = free_ports(2)
    name = f"vb_test_{ctld_port}"
    conf = write_config(folder, cpus, ctld_port, slurmd_port, munge_socket, name)
    env = client_env(conf, write_client_guards(folder, conf))
    cluster = SlurmCluster(folder, conf, env, (ctld_port, slurmd_port), name, munge_socket)
    for daemon in ("slurmctld", "slurmd"):
        r = _run([_find(daemon), "-f", conf], env=env, timeout=60)
        if r.returncode != 0:
            log = os.path.join(folder, "log", f"{daemon}.log")
            tail = open(log).read()[-800:] if os.path.exists(log) else ""
            cluster.stop()
            raise SlurmUnavailable(f"{daemon} did not start (exit {r.returncode}): "
                                   f"{(r.stderr or r.stdout).strip()} {tail}")
    deadline = time.time() + 60
    while time.time() < deadline:
        r = _run(["sinfo", "-h", "-o", "%t"], env=env)
        if r.returncode == 0 and r.stdout.strip() in ("idle", "mix", "alloc"):
            try:
                cluster.check_reaches_this_cluster()
            except ForeignCluster:
                cluster.stop()
                raise
            return cluster
        time.sleep(0.5)
    cluster.stop()
    log = os.path.join(folder, "log", "slurmd.log")
    raise SlurmUnavailable("the SLURM node did not become idle within 60 s: "
                           + (open(log).read()[-800:] if os.path.exists(log) else ""))


if __name__ == "__main__":
    import sys

    c = start_cluster(sys.argv[1] if len(sys.argv) > 1 else "/tmp/vitdet_slurm")
    print(f"export SLURM_CONF={c.conf} PATH={c.env['PATH'].split(os.pathsep)[0]}:$PATH"
          f"  # slurmctld port {c.ports[0]}, slurmd port {c.ports[1]}")
    try:
        signal.pause()
    finally:
        c.stop()

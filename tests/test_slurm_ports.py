"""The test SLURM cluster is private: free ports, its own munged, clients that reach only it.

Something already listens on SLURM's default port 6817 here (a plain socket server
standing in for a developer's real slurmctld, or another test run's): the test cluster
still starts, its jobs run on it, and nothing reaches the default port. A client run
without the cluster's SLURM_CONF refuses instead of submitting elsewhere. Skipped only
where SLURM cannot start (no root, no apt-get, a daemon refusing).
"""
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from slurm_cluster import DEFAULT_PORTS, ForeignCluster, SlurmUnavailable, start_cluster

pytestmark = pytest.mark.slow


class Listener:
    """A TCP server on ``port`` that counts the connections it accepts (and closes them)."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("", port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def default_port_taken():
    try:
        listener = Listener(DEFAULT_PORTS[0])
    except OSError as e:   # a real slurmctld may hold it already: the point of the test
        pytest.skip(f"port {DEFAULT_PORTS[0]} is in use by another process ({e}); this test "
                    "needs to own it to count connections")
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def slurm(default_port_taken, tmp_path_factory):
    try:
        cluster = start_cluster(str(tmp_path_factory.mktemp("slurm")), cpus=2)
    except SlurmUnavailable as e:
        pytest.skip(f"a single-node SLURM cannot start on this machine: {e}")
    yield cluster
    cluster.stop()


def _wait_for_file(path, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.isfile(path) and open(path).read().strip():
            return open(path).read()
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {path}")


def test_cluster_on_free_ports_with_its_own_munge_while_6817_is_taken(slurm, default_port_taken,
                                                                      tmp_path):
    assert not set(slurm.ports) & set(DEFAULT_PORTS) and len(set(slurm.ports)) == 2
    conf = open(slurm.conf).read()
    assert f"SlurmctldPort={slurm.ports[0]}\n" in conf and f"SlurmdPort={slurm.ports[1]}\n" in conf
    assert f"AuthInfo=socket={slurm.munge_socket}\n" in conf
    assert slurm.munge_socket.startswith(slurm.folder) and os.path.exists(slurm.munge_socket)
    out = tmp_path / "job.out"
    submitted = slurm.run("sbatch", "--parsable", f"--output={out}",
                          "--wrap", "echo cluster=$SLURM_CLUSTER_NAME")
    job_id = submitted.strip().split(";")[0]
    assert _wait_for_file(str(out)).strip() == f"cluster={slurm.cluster_name}"
    assert f"JobId={job_id} " in slurm.run("scontrol", "show", "job", job_id)
    slurm.check_reaches_this_cluster()
    assert default_port_taken.connections == 0


def test_a_client_without_the_clusters_conf_refuses(slurm, default_port_taken, tmp_path):
    other = tmp_path / "other.conf"   # a cluster on the default port (the one listening there)
    other.write_text("ClusterName=other\nSlurmctldHost=localhost\nAuthType=auth/none\n")
    for change in ({"SLURM_CONF": None}, {"SLURM_CONF": str(other)}):
        env = dict(slurm.env)
        for k, v in change.items():
            env.pop(k) if v is None else env.__setitem__(k, v)
        for cmd in (["sbatch", "--wrap", "true"], ["squeue"], ["scancel", "1"], ["sacct"]):
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 3, (cmd, r.stdout, r.stderr)
            assert r.stderr.startswith(f"Refusing to run {cmd[0]}: SLURM_CONF=") and \
                slurm.conf in r.stderr and "would reach another SLURM cluster" in r.stderr
    assert default_port_taken.connections == 0


def test_a_controller_that_is_not_this_clusters_is_refused(slurm):
    import dataclasses

    impostor = dataclasses.replace(slurm, cluster_name="someone_else")
    with pytest.raises(ForeignCluster, match="expected the test cluster's 'someone_else'"):
        impostor.check_reaches_this_cluster()


def _square(x):
    return x * x


def test_submitit_reaches_the_test_cluster_and_refuses_without_it(slurm, default_port_taken,
                                                                  tmp_path, monkeypatch):
    submitit = pytest.importorskip("submitit", reason="submitit is the study tool's SLURM client")
    for k in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(k)
    for k, v in slurm.env.items():
        if k in ("SLURM_CONF", "PATH"):
            monkeypatch.setenv(k, v)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
    executor = submitit.SlurmExecutor(folder=str(tmp_path / "submitit"), python=sys.executable)
    executor.update_parameters(time=5, cpus_per_task=1, mem="1G")
    job = executor.submit(_square, 7)
    assert job.result() == 49
    monkeypatch.delenv("SLURM_CONF")
    with pytest.raises(Exception, match="Refusing to run sbatch"):
        executor.submit(_square, 3)
    assert default_port_taken.connections == 0

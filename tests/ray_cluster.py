"""A real Ray cluster on this machine for the tests: a head (`ray start --head`, dashboard off) and
nodes joining it on 127.0.0.1, each node a process group of its own with its own Painterly data
folder, so that each installs its models itself. `stop` kills every group and checks that no
process of the cluster is left; the fixtures call it whatever the test did."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Ray's defaults take 30 s or more to declare a node dead; the tests kill one on purpose
FAST_HEALTH_CHECKS = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalCluster:
    def __init__(self, folder: Path, nodes: int = 2, cpus: int = 1) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        # Ray's sockets live under its temporary folder, and a Unix socket's path has at most 107 bytes
        self.ray_temp = Path(tempfile.mkdtemp(prefix="painterly-ray-"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # token authentication, as `ray start` has by default, with a token of the cluster's own: a fresh
        # machine has none in ~/.ray, and the tests leave that folder alone
        auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env = {**os.environ, **FAST_HEALTH_CHECKS, **auth, "RAY_USAGE_STATS_ENABLED": "0"}
        self.groups: list[subprocess.Popen] = []
        self.homes: list[Path] = []
        self.cpus = cpus
        try:
            self._start("--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.ray_temp}")
            for _ in range(nodes - 1):
                self._start(f"--address={self.address}")
            self.wait_for_nodes(nodes)
        except BaseException:
            self.stop()
            raise

    def _start(self, *args: str) -> None:
        ray = str(Path(sys.executable).with_name("ray"))
        home = self.folder / f"node{len(self.groups)}-home"
        env = {**self.env, "PAINTERLY_HOME": str(home)}
        log = open(self.folder / f"node{len(self.groups)}.log", "wb")  # noqa: SIM115 - the process keeps it
        cmd = [ray, "start", "--node-ip-address=127.0.0.1", f"--num-cpus={self.cpus}", "--block", *args]
        self.groups.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        self.homes.append(home)

    def alive_nodes(self) -> int:
        return int(self._ask("sum(n['Alive'] for n in ray.nodes())") or 0)

    def free_cpus(self) -> float:
        return float(self._ask("ray.available_resources().get('CPU', 0)"))

    def _ask(self, expression: str) -> str:
        """`expression`'s value, from a Ray driver of its own joined to the cluster ('' if it failed)."""
        probe = f"import ray; ray.init(address='{self.address}'); print({expression})"
        r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=self.env, timeout=60)
        return r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""

    def wait_for_nodes(self, count: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.alive_nodes() == count:
                return
            time.sleep(1)
        logs = "\n".join(
            (self.folder / f"node{i}.log").read_text(errors="replace")[-2000:] for i in range(len(self.groups))
        )
        raise RuntimeError(f"the cluster did not reach {count} nodes:\n{logs}")

    def kill_node(self, index: int) -> None:
        """The node's every process killed outright (SIGKILL), as when its machine goes away."""
        self._kill(self.groups[index])

    def stop(self) -> None:
        """Every process of the cluster killed, and none left (checked)."""
        pids = [pid for p in self.groups for pid in self._kill(p)]
        shutil.rmtree(self.ray_temp, ignore_errors=True)
        deadline = time.monotonic() + 10
        while (left := [pid for pid in pids if _running(pid)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"processes of the cluster are left: {left}"

    def _kill(self, leader: subprocess.Popen) -> list[int]:
        """The node's process group, and its processes in groups of their own (Ray's workers)."""
        pids = _descendants(leader.pid)
        try:
            os.killpg(leader.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        leader.wait(timeout=30)
        return pids


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False

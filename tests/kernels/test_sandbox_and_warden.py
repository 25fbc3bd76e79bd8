"""The sandbox launcher and the warden, one piece at a time (the whole is tests/hub/test_confinement.py).

As root (CI): a command run through ``--pid-namespace`` sees only its own processes, writes only
where it may, and takes every process it left behind with it; the warden refuses any kernel but
the interview's and any socket outside the candidate's folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mlinterview.kernels.warden import Kernel, Warden, kill_processes_of_users

NOBODY = 65534


@pytest.fixture
def root_only():
    if os.geteuid() != 0:
        pytest.fail("namespaces and other users need root (CI runs the tests as root; `sudo make test` elsewhere)")


def sandboxed(workdir: Path, code: str, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-P", "-m", "mlinterview.kernels.sandbox", "--workdir", str(workdir), *options,
               "--", "/usr/bin/python3", "-c", code]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_pid_namespace_shows_only_its_own_tree_and_nothing_outlives_it(root_only):
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        workdir.chmod(0o777)
        Path(tmp).chmod(0o755)
        code = (
            "import os, subprocess\n"
            "subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
            "print(os.getuid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
            "open('written', 'w').write('x')\n"
            "for path in ('/etc/hostname-sandbox-test', '/tmp/outside'):\n"
            "    try:\n        open(path, 'w')\n        print('wrote', path)\n    except OSError as error:\n        print('refused', path, error.errno)\n"
        )
        done = sandboxed(workdir, code, "--pid-namespace", "--private-tmp", "--no-network", "--uid", str(NOBODY), "--gid", str(NOBODY))
        assert done.returncode == 0, done.stderr
        first, *rest = done.stdout.splitlines()
        uid, pids = first.split(" ", 1)
        # the init, the command and the sleep it started: nothing of anyone else
        assert int(uid) == NOBODY and len(json.loads(pids)) <= 3 and min(json.loads(pids)) == 1, first
        assert (workdir / "written").read_text() == "x"
        assert "refused /etc/hostname-sandbox-test" in done.stdout and not Path("/tmp/outside").exists()
        time.sleep(0.5)
        survivors = subprocess.run(["pgrep", "-u", str(NOBODY), "-f", "sleep 300"], capture_output=True, text=True).stdout
        assert survivors.strip() == "", "a detached process outlived its sandbox"


def test_the_network_namespace_has_its_own_loopback_and_no_host(root_only):
    """127.0.0.1 inside is the sandbox's own (a candidate's service and a request to it); the machine's
    loopback, where the hub listens, is not reachable from there."""
    import socket

    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen()
    code = (
        "import socket\n"
        "inside = socket.socket(); inside.bind(('127.0.0.1', 0)); inside.listen()\n"
        "socket.create_connection(inside.getsockname(), timeout=2).close(); print('own loopback: connected')\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {host.getsockname()[1]}), timeout=2); print('host: connected')\n"
        "except OSError as error:\n    print('host:', type(error).__name__)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o755)
        try:
            done = sandboxed(Path(tmp), code, "--no-network", "--pid-namespace", "--uid", str(NOBODY), "--gid", str(NOBODY),
                             "--status-file", str(Path(tmp) / "status.json"))
        finally:
            host.close()
        status = json.loads((Path(tmp) / "status.json").read_text())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["own loopback: connected", "host: ConnectionRefusedError"], done.stdout
    assert status["network_isolated"] and status["loopback"]


def warden(tmp: Path) -> Warden:
    rundir = tmp / "sockets"
    rundir.mkdir()
    args = argparse.Namespace(
        server_user="nobody", kernel_user="nobody", server_home=str(tmp), workspace=str(tmp), rundir=str(rundir),
        kernel_name="mlinterview-cpu", cgroup_name="warden-test", memory_bytes=2**30, max_processes=64, stop_grace=1.0,
        hide=[], prepare_folders=False, command=["true"],
    )
    return Warden(args)


@pytest.mark.parametrize("request_, refusal", [
    ({"kernel_name": "python3"}, "a 'python3' kernel is refused"),
    ({"connection_info": {"transport": "tcp", "ip": "127.0.0.1"}}, "ipc sockets"),
    ({"connection_info": {"transport": "ipc", "ip": "/tmp/elsewhere/k"}}, "ipc sockets"),
    ({"kernel_id": "../../etc/passwd"}, "kernel_id"),
])
def test_the_warden_starts_only_the_interviews_kernel_with_its_sockets_in_the_candidates_folder(root_only, request_, refusal):
    with tempfile.TemporaryDirectory() as tmp:
        keeper = warden(Path(tmp))
        launch = {"op": "launch", "kernel_id": "0f0e-1", "kernel_name": "mlinterview-cpu",
                  "connection_info": {"transport": "ipc", "ip": f"{tmp}/sockets/k"}} | request_
        answer = keeper.answer(launch)
        assert answer["ok"] is False and refusal in answer["error"], answer
        assert keeper.kernels == {}


def test_a_kernel_gets_no_secret_and_a_fresh_home_from_the_warden(root_only, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token")
    monkeypatch.setenv("MLINTERVIEW_HISTORY_SECRET", "history-secret")
    monkeypatch.setenv("MLINTERVIEW_INTERVIEW", "abc")
    with tempfile.TemporaryDirectory() as tmp:
        sandbox, kernel, env = warden(Path(tmp)).kernel_command(f"{tmp}/sockets/kernel.json")
    assert "hub-token" not in json.dumps(env) and "history-secret" not in json.dumps(env)
    assert env["MLINTERVIEW_INTERVIEW"] == "abc" and env["HOME"].startswith("/tmp/") and env["IPYTHONDIR"].startswith("/tmp/")
    assert {"--pid-namespace", "--no-network", "--private-tmp"} <= set(sandbox)
    assert kernel[1] == "-I" and "--HistoryManager.hist_file=:memory:" in kernel


class HitCounters:
    """The candidate's cgroup as the warden reads it, with the limit hits set by the test."""

    def __init__(self):
        self.hits = {"oom_kill": 0, "pids_max": 0}

    def available(self):
        return True

    def counters(self):
        return dict(self.hits)

    def kill_all(self):
        return True


def test_a_kernel_the_oom_killer_ended_is_reported_as_stopped_by_the_memory_limit(root_only):
    # the OOM killer ends the kernel just before the server's next poll: that very answer gives the reason
    with tempfile.TemporaryDirectory() as tmp:
        keeper = warden(Path(tmp))
        keeper.cgroup = HitCounters()
        ended = subprocess.Popen(["true"])
        ended.wait()
        keeper.kernels["1"] = Kernel("0f0e-1", ended)
        keeper.cgroup.hits["oom_kill"] = 1
        answer = keeper.answer({"op": "poll", "handle": "1"})
        assert answer["returncode"] == 0 and "memory" in (answer["reason"] or ""), answer
        # a later hit is the restarted kernel's business, not the one already reported ended
        restarted = subprocess.Popen(["sleep", "30"])
        keeper.kernels["2"] = Kernel("0f0e-1", restarted)
        keeper.cgroup.hits["pids_max"] = 1
        keeper.check_limits()
        assert restarted.wait(5) == -9 and "processes" in keeper.kernels["2"].stop_reason
        assert "memory" in keeper.kernels["1"].stop_reason


def test_kill_processes_of_users_leaves_none(root_only):
    sleeper = subprocess.Popen(["sleep", "300"], user=NOBODY, group=NOBODY, start_new_session=True)
    kill_processes_of_users({NOBODY})
    assert sleeper.wait(5) == -9

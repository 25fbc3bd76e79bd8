"""The security suite: a hostile candidate against a real isolated hub (root, real proxy, real kernels).

Each test is an attack CONFINEMENT.md says fails, tried the way a candidate would: code in their
own kernel, requests from their own browser (a hub token of their own stands in for it), through
the proxy. Two candidates are live at once, so the attacks on each other are real too. Floods
are bounded: each ends by itself within a minute, whatever the defence does.
"""

from __future__ import annotations

import os
import pwd
import statistics
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from hubtools import SERVICE, RunningHub, kernel_message, run_code, send_kernel_messages, wait_for
from mlinterview.extension.hub_isolation import server_user_name
from mlinterview.scenarios.pack import default_scenarios_dir

pytestmark = pytest.mark.slow

MEMORY_MB = 1024
MAX_PROCESSES = 200

ATTEMPT = """
import pathlib
def attempt(path):
    try:
        target = pathlib.Path(path)
        if target.is_dir():
            return "READ" if list(target.iterdir()) else "empty"
        return "READ" if target.read_bytes() else "empty"
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "missing"
    except Exception as error:
        return type(error).__name__
"""


class Candidate:
    def __init__(self, hub: RunningHub, interviewer_token: str, name: str, scenario: str):
        created = hub.create_interview(interviewer_token, name, scenario)
        self.hub = hub
        self.interview_id = created["interview"]["id"]
        self.user = created["interview"]["candidate_user"]
        hub.candidate_opens(created["invite_url"], self.user)
        self.token = hub.token_for(self.user)  # what the candidate's browser could make on the hub's token page
        self.kernel_id, reply = run_code(hub, self.user, self.token, "1")
        assert reply["status"] == "ok", reply

    def run(self, code: str, timeout: float = 120) -> dict:
        _, reply = run_code(self.hub, self.user, self.token, code, kernel_id=self.kernel_id, timeout=timeout)
        return reply

    def value(self, code: str):
        reply = self.run(code)
        assert reply["status"] == "ok", reply
        return reply["result"]

    def history(self, interviewer_token: str) -> list[dict]:
        response = self.hub.service_api(interviewer_token, "GET", f"interviews/{self.interview_id}/events")
        assert response.status_code == 200, response.text
        return response.json()["events"]

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.user).pw_uid

    @property
    def workspace(self) -> Path:
        return self.hub.state / "workspaces" / self.user


@pytest.fixture(scope="module")
def confined(tmp_path_factory, scenario_id):
    if os.geteuid() != 0:
        pytest.fail("the security suite runs the hub as root, isolated (CI does; `sudo make test` elsewhere)")
    hub = RunningHub(
        tmp_path_factory.mktemp("confined"), default_scenarios_dir(),
        extra_settings={"candidate_memory_mb": MEMORY_MB, "candidate_max_processes": MAX_PROCESSES},
    ).start()
    try:
        alice = hub.token_for("alice")
        first = Candidate(hub, alice, "Mallory Attacker", scenario_id)
        second = Candidate(hub, alice, "Victor Victim", scenario_id)
        yield hub, alice, first, second
    finally:
        hub.stop()


def processes_of(uid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["uids"]):
        try:
            if uid in process.info["uids"]:
                found.append(process)
        except (psutil.Error, TypeError):
            continue
    return found


def test_kernel_runs_as_the_candidate_and_the_server_as_another_user(confined):
    hub, _, mallory, _ = confined
    uid, visible = mallory.value("import os; (os.getuid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    assert uid == mallory.uid != 0
    # a pid namespace of its own: the init and the kernel's own tree, nothing of anyone else
    assert len(visible) <= 6, visible
    server_uid = pwd.getpwnam(server_user_name(mallory.user)).pw_uid
    servers = [p for p in processes_of(server_uid) if "singleuser" in " ".join(p.cmdline())]
    assert servers and server_uid != mallory.uid
    for process in processes_of(mallory.uid) + servers:
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        assert b"JUPYTERHUB_API_TOKEN" not in environ and b"HISTORY_SECRET" not in environ, process.cmdline()
    assert mallory.value("import os; sorted(k for k in os.environ if 'TOKEN' in k or 'SECRET' in k)") == []
    # nor a private path on any command line it can read (the sandbox's options come through a pipe)
    command_lines = mallory.value("import glob; [open(p, 'rb').read().decode(errors='replace') for p in glob.glob('/proc/[0-9]*/cmdline')]")
    assert not [line for line in command_lines if str(hub.state / "private") in line], command_lines


def test_the_kernel_reads_nothing_private_nor_another_candidate(confined):
    hub, _, mallory, victor = confined
    private = hub.state / "private"
    runtime_packs = Path(os.environ.get("MLINTERVIEW_CANDIDATE_RUNTIME", "/opt/mlinterview/runtime")) / "share" / "mlinterview" / "scenarios"
    targets = {
        "holdout seed": private / "holdout_seed",
        "private store": private,
        "interview store": private / "interviews.sqlite",
        "hub cookie secret": private / "jupyterhub_cookie_secret",
        "history secrets": private / "history_secrets",
        "reference solution": default_scenarios_dir() / "churn" / "private" / "reference",
        "holdout generator": default_scenarios_dir() / "churn" / "private" / "generator.py",
        "installed packs": runtime_packs / "churn" / "private",
        "other workspace": victor.workspace,
        "other sockets": hub.state / "sockets" / victor.user,
        "own server's home": hub.state / "homes" / server_user_name(mallory.user),
        "shadow": "/etc/shadow",
    }
    results = mallory.value(ATTEMPT + "\n{" + ", ".join(f"{k!r}: attempt({str(v)!r})" for k, v in targets.items()) + "}")
    assert {name: result for name, result in results.items() if result not in ("denied", "missing", "empty")} == {}, results


def test_the_kernel_has_no_network_to_the_hub_the_service_or_other_kernels(confined):
    hub, _, mallory, _ = confined
    code = (
        "import socket\nresults = {}\n"
        f"for port in {[hub.port, hub.hub_port, hub.service_port, hub.proxy_api_port]}:\n"
        "    s = socket.socket(); s.settimeout(2)\n"
        "    try:\n        s.connect(('127.0.0.1', port)); results[port] = 'connected'\n"
        "    except OSError as error:\n        results[port] = type(error).__name__\n"
        "    finally:\n        s.close()\nresults"
    )
    assert "connected" not in mallory.value(code).values()


def test_the_kernel_serves_and_asks_its_own_loopback(confined):
    """A candidate's prediction service answers a request from the same kernel: the kernel's network
    namespace has its own loopback (and nothing else, as the test above shows)."""
    _, _, mallory, _ = confined
    code = (
        "import http.server, threading, urllib.request\n"
        "server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
        "threading.Thread(target=server.serve_forever, daemon=True).start()\n"
        "answer = urllib.request.urlopen(f'http://127.0.0.1:{server.server_address[1]}/', timeout=10).status\n"
        "server.shutdown(); server.server_close(); answer"
    )
    assert mallory.value(code) == 200


def test_a_token_the_candidate_made_cannot_write_the_history(confined):
    hub, alice, mallory, _ = confined
    before = mallory.history(alice)
    head = before[-1]
    forged = dict(head, seq=head["seq"] + 1, prev=head["hash"], kind="execute_request", code="print('the interviewer typed this')",
                  role="interviewer", user="alice", msg_id="forged")
    forged.pop("hash")
    from mlinterview.history import event_hash

    forged["hash"] = event_hash(forged)
    response = httpx.post(f"{hub.url}{SERVICE}api/history", json={"events": [forged]},
                          headers={"Authorization": f"token {mallory.token}"}, timeout=30)
    assert response.status_code == 403, response.text
    assert mallory.value("'a real cell after the forgery'") == "a real cell after the forgery"
    after = wait_for(lambda: [e for e in mallory.history(alice) if e.get("code") == "'a real cell after the forgery'"] and mallory.history(alice),
                     30, "the real cell in the authoritative history")
    assert not any(event.get("msg_id") == "forged" for event in after)


def test_code_outside_an_execute_request_is_refused_and_the_refusal_recorded(confined):
    hub, alice, mallory, _ = confined
    marker = "/tmp/home/ran-unrecorded"
    sneaky = f"open({marker!r}, 'w').write('x')"
    send_kernel_messages(hub, mallory.user, mallory.token, mallory.kernel_id, [
        kernel_message("execute_request", {"code": sneaky, "silent": True, "store_history": False, "user_expressions": {},
                                           "allow_stdin": False, "stop_on_error": False}, channel="control"),
        kernel_message("execute_request", {"code": "1", "silent": False, "store_history": True,
                                           "user_expressions": {"x": f"({sneaky})"}, "allow_stdin": False, "stop_on_error": True}),
        kernel_message("debug_request", {"command": "evaluate", "arguments": {"expression": sneaky}}, channel="control"),
    ])
    assert mallory.value(f"import os; os.path.exists({marker!r})") is False
    refused = wait_for(lambda: [e for e in mallory.history(alice) if e["kind"] == "refused"], 30, "the refusals in the history")
    assert {(e["detail"]["channel"], e["detail"]["msg_type"]) for e in refused} >= {
        ("control", "execute_request"), ("shell", "execute_request"), ("control", "debug_request")}


def test_no_kernel_but_the_interviews_and_nothing_planted_runs_at_a_restart(confined):
    hub, alice, mallory, _ = confined
    base = f"{hub.url}/user/{mallory.user}/api"
    headers = {"Authorization": f"token {mallory.token}"}
    other = httpx.post(f"{base}/kernels", headers=headers, json={"name": "python3"}, timeout=60)
    assert other.status_code != 201, other.text
    plant = """
import os, pathlib, sys
marker = pathlib.Path(os.environ['MLINTERVIEW_WORKSPACE']) / 'PLANTED-RAN'
payload = f"open({str(marker)!r}, 'a').write('ran\\\\n')\\n"
for folder in ['/tmp/ipython/profile_default/startup', os.path.expanduser('~/.ipython/profile_default/startup'),
               os.path.join(os.environ['MLINTERVIEW_WORKSPACE'], '.ipython/profile_default/startup')]:
    os.makedirs(folder, exist_ok=True); pathlib.Path(folder, '00-planted.py').write_text(payload)
site = pathlib.Path(os.path.expanduser('~/.local/lib/python%d.%d/site-packages' % sys.version_info[:2]))
site.mkdir(parents=True, exist_ok=True); (site / 'planted.pth').write_text('import os; ' + payload.strip() + '\\n')
workspace = pathlib.Path(os.environ['MLINTERVIEW_WORKSPACE'])
(workspace / 'ipykernel_launcher.py').write_text(payload)
(workspace / 'sitecustomize.py').write_text(payload)
str(marker)
"""
    marker = Path(mallory.value(plant))
    restarted = httpx.post(f"{base}/kernels/{mallory.kernel_id}/restart", headers=headers, timeout=120)
    assert restarted.status_code == 200, restarted.text
    assert mallory.value("'after the restart'") == "after the restart"
    assert not marker.exists(), marker.read_text()
    assert mallory.value("import os; os.listdir('/tmp')").count("ipython") == 1  # a fresh /tmp, the planted one gone
    for name in ("ipykernel_launcher.py", "sitecustomize.py"):
        (mallory.workspace / name).unlink()


def test_one_candidate_cannot_reach_anothers_kernel_sockets(confined):
    hub, _, mallory, victor = confined
    code = f"""
import glob, zmq
found = glob.glob({str(hub.state / "sockets" / victor.user)!r} + '/*')
context = zmq.Context()
socket = context.socket(zmq.SUB); socket.setsockopt(zmq.SUBSCRIBE, b''); socket.setsockopt(zmq.LINGER, 0)
socket.connect('ipc://{hub.state / "sockets" / victor.user}/k-1')
got = socket.poll(1500)
socket.close(); context.term()
(found, got)
"""
    victor.run("for _ in range(3): print('secret output of the victim')")
    assert mallory.value(code) == ([], 0)


def round_trips(candidate: Candidate, seconds: float, out: list[float], errors: list[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            reply = candidate.run("sum(range(1000))", timeout=60)
            if reply["status"] != "ok":
                errors.append(str(reply))
        except Exception as error:  # the victim's cell must keep working: any failure is the finding
            errors.append(repr(error))
        out.append(time.monotonic() - started)
        time.sleep(0.2)


FLOODS = {
    "processes": """
import os, time
end = time.time() + 25
while time.time() < end:
    try:
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
    except OSError:
        time.sleep(0.01)
""",
    "memory": """
import time
hoard, end = [], time.time() + 25
while time.time() < end and len(hoard) < 40:
    hoard.append(b'x' * (100 * 2**20)); time.sleep(0.05)
""",
    "output": """
import time
end, line = time.time() + 15, 'x' * 100_000
while time.time() < end:
    print(line)
""",
}


@pytest.mark.parametrize("flood", list(FLOODS))
def test_a_flood_ends_the_floods_kernel_and_leaves_the_other_candidate_working(confined, flood):
    hub, alice, mallory, victor = confined
    before = mallory.history(alice)[-1]["seq"]
    timings, errors = [], []
    victim = threading.Thread(target=round_trips, args=(victor, 30, timings, errors))
    victim.start()
    cell = kernel_message("execute_request", {"code": FLOODS[flood], "silent": False, "store_history": True, "user_expressions": {},
                                              "allow_stdin": False, "stop_on_error": True})
    cell["metadata"] = {"cellId": f"flood-{flood}"}
    # the flooding kernel may die under it (that is the point): listen to what its browser is told
    received = send_kernel_messages(hub, mallory.user, mallory.token, mallory.kernel_id, [cell], listen=40)
    victim.join()
    assert not errors, errors[:3]
    assert statistics.quantiles(timings, n=20)[-1] < 5.0, timings
    if flood in ("processes", "memory"):
        stopped = wait_for(lambda: [e for e in mallory.history(alice) if e["seq"] > before and e["kind"] == "kernel_event"
                                    and (e.get("detail") or {}).get("reason")], 60, "the limit in the history")
        word = "processes" if flood == "processes" else "memory"
        assert word in stopped[-1]["detail"]["reason"]
        told = [m["content"]["text"] for m in received if m.get("msg_type") == "stream"
                and m["parent_header"].get("msg_id") == cell["header"]["msg_id"] and "mlinterview:" in m["content"]["text"]]
        assert told and word in told[0], told  # the reason, in the cell that hit the limit
        wait_for(lambda: mallory.run("1", timeout=30)["status"] == "ok", 120, "the restarted kernel")
    else:
        server_uid = pwd.getpwnam(server_user_name(mallory.user)).pw_uid
        assert sum(p.memory_info().rss for p in processes_of(server_uid)) < MEMORY_MB * 2**20
        assert mallory.run("'still alive'", timeout=60)["result"] == "still alive"
    assert len(processes_of(mallory.uid)) < 20


def test_a_link_in_the_workspace_is_not_served(confined):
    hub, _, mallory, _ = confined
    mallory.value("import os; os.symlink('/proc/self/environ', 'environ-link'); os.symlink('/etc/passwd', 'passwd-link'); 1")
    headers = {"Authorization": f"token {mallory.token}"}
    for name in ("environ-link", "passwd-link"):
        for path in (f"/user/{mallory.user}/api/contents/{name}?type=file&format=text", f"/user/{mallory.user}/files/{name}"):
            response = httpx.get(f"{hub.url}{path}", headers=headers, timeout=30)
            assert response.status_code in (403, 404), (path, response.status_code, response.text[:200])


def test_end_stops_every_process_of_the_candidate_before_the_freeze(confined):
    hub, alice, mallory, _ = confined
    mallory.value(
        "import subprocess\n"
        "subprocess.Popen(['/bin/sh', '-c', 'while true; do date >> late.txt; sleep 0.2; done'], start_new_session=True)\n"
        "subprocess.Popen(['/bin/sh', '-c', '(setsid sleep 600 &) ; sleep 600'], start_new_session=True).pid"
    )
    uids = {mallory.uid, pwd.getpwnam(server_user_name(mallory.user)).pw_uid}
    started = time.monotonic()
    ended = httpx.post(f"{hub.url}{SERVICE}interviews/{mallory.interview_id}/end", headers={"Authorization": f"token {alice}"},
                       timeout=30, follow_redirects=False)
    assert ended.status_code == 302
    wait_for(lambda: hub.service_api(alice, "GET", f"interviews/{mallory.interview_id}").json()["state"] not in ("live", "ending"),
             180, "the end")
    assert not [p for uid in uids for p in processes_of(uid)]
    with pytest.raises(KeyError):
        pwd.getpwnam(mallory.user)
    bundle = hub.state / "private" / "submissions" / mallory.interview_id
    frozen = (bundle / "late.txt").read_bytes()
    time.sleep(1)
    assert (bundle / "late.txt").read_bytes() == frozen and not mallory.workspace.exists()
    history = bundle / "history.jsonl"  # the frozen bundle is the hub's alone
    assert history.stat().st_uid == 0 and bundle.stat().st_uid == 0 and bundle.stat().st_mode & 0o077 == 0
    print(f"end to ended: {time.monotonic() - started:.1f} s")

"""Cell round trip through the confined setup vs the same hub without confinement, same run.

    .venv/bin/python benchmarks/confinement.py [--cells 300] [--batch 25]      (as root)

Two real hubs (hub, proxy, interview service; ``tests/hub/hubtools.py``), one interview each:

- confined: the embedded default under root: the interview's warden runs the server as the
  server user and the kernel as the candidate, in its pid, mount and network namespaces and its
  cgroup, talking to the server over ipc sockets (CONFINEMENT.md);
- unconfined: the same configuration with the trusted spawner (server and kernel as the hub's
  user, tcp sockets, no namespaces, no cgroup): what confinement adds is the only difference.

Each cell (``sum(range(1000))``) is timed from sending its execute_request over the kernel
websocket, through the proxy, to having both its reply and the kernel's idle status, as a
browser waits. Batches alternate between the hubs. Prints the ratio of the medians; target
<= 1.05x. Spawn to ready kernel is ``benchmarks/spawn.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "hub"))
sys.path.insert(0, str(HERE))

import hubtools  # noqa: E402
from hubtools import RunningHub, close_websocket, kernel_message, run_code  # noqa: E402
from timing import ratio_line, summary  # noqa: E402

from mlinterview.scenarios.pack import default_scenarios_dir  # noqa: E402

UNCONFINED_CONFIG = """\
# the hub tests' configuration with the trusted spawner: no warden, no namespaces, no cgroup
load_subconfig({test_config!r})  # noqa: F821
c = get_config()  # noqa: F821
from mlinterview.extension.hub_spawner import InterviewSimpleLocalProcessSpawner  # noqa: E402
c.JupyterHub.spawner_class = InterviewSimpleLocalProcessSpawner
c.InterviewSpawnerMixin.isolated = False
c.Spawner.args = ["--allow-root"]  # a baseline only: candidates' servers never get it
"""


def start_hub(root: Path, config_file: Path | None = None) -> RunningHub:
    """A started hub; ``config_file`` replaces the hub tests' configuration file for this hub."""
    return RunningHub(root, default_scenarios_dir(), config_file=config_file or hubtools.TEST_CONFIG).start(timeout=120)


class Session:
    """One candidate's kernel websocket, kept open like a browser tab."""

    def __init__(self, hub: RunningHub):
        token = hub.token_for("alice")
        made = hub.create_interview(token, "Benchmark Candidate", "churn")
        self.user = made["interview"]["candidate_user"]
        hub.candidate_opens(made["invite_url"], self.user)
        self.hub, self.token = hub, hub.token_for(self.user)
        self.kernel_id, reply = run_code(hub, self.user, self.token, "1")
        assert reply["status"] == "ok", reply

    async def connect(self):
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        request = HTTPRequest(f"ws://127.0.0.1:{self.hub.port}/user/{self.user}/api/kernels/{self.kernel_id}/channels",
                              headers={"Authorization": f"token {self.token}"}, connect_timeout=60, request_timeout=120)
        self.connection = await websocket_connect(request)

    async def cell(self) -> float:
        message = kernel_message("execute_request", {"code": "sum(range(1000))", "silent": False, "store_history": True,
                                                     "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        message["metadata"] = {"cellId": f"bench-{uuid.uuid4().hex[:8]}"}
        msg_id = message["header"]["msg_id"]
        started = time.perf_counter()
        await self.connection.write_message(json.dumps(message))
        replied = idle = False
        while not (replied and idle):
            reply = json.loads(await self.connection.read_message())
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            replied = replied or reply["msg_type"] == "execute_reply"
            idle = idle or (reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle")
        return time.perf_counter() - started


async def measure(sessions: dict[str, Session], cells: int, batch: int) -> dict[str, list[float]]:
    for session in sessions.values():
        await session.connect()
        for _ in range(20):  # warm up, not counted
            await session.cell()
    timings = {label: [] for label in sessions}
    order = list(sessions)
    for batch_number in range(cells // batch):
        for label in order if batch_number % 2 == 0 else reversed(order):
            for _ in range(batch):
                timings[label].append(await sessions[label].cell())
    for session in sessions.values():
        await close_websocket(session.connection)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--batch", type=int, default=25)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the confined setup is the hub's isolated mode")
    with tempfile.TemporaryDirectory(prefix="mlinterview-confinement-") as tmp:
        root = Path(tmp)
        config = root / "unconfined_config.py"
        config.write_text(UNCONFINED_CONFIG.format(test_config=str(hubtools.TEST_CONFIG)))
        hubs = []
        try:
            for name in ("confined", "unconfined"):
                (root / name).mkdir()
                hubs.append(start_hub(root / name, config if name == "unconfined" else None))
            sessions = {"confined": Session(hubs[0]), "unconfined": Session(hubs[1])}
            timings = asyncio.run(measure(sessions, args.cells, args.batch))
        finally:
            for hub in hubs:
                hub.stop()
    for label, values in timings.items():
        print(summary(f"cell round trip, {label}", values))
    print(ratio_line("cell round trip, confined vs unconfined", timings["confined"], timings["unconfined"], 1.05))


if __name__ == "__main__":
    main()

"""Cockpit latency: how long after a reply reaches the candidate the interviewer's cockpit has it.

    .venv/bin/python -P benchmarks/cockpit_latency.py [--candidates 10] [--cells 20] [--think 1.0]

One real hub (hub, proxy, interview service; ``tests/hub/hubtools.py``) on free loopback ports.
N interviews are created and their N candidates open them at once; each candidate runs its cells
one after another on a kernel websocket of its own server, as JupyterLab does, with a pause
between cells (``--think``), and notes the wall-clock moment each ``execute_reply`` reached it.
Meanwhile, per interview, a poller asks the events API exactly as the cockpit page does
(``GET api/interviews/<id>/events?after=SEQ`` every ``live.js`` poll interval, ``--poll``) and
notes when each reply event first appears. Reported: the gap (appeared in the cockpit's poll -
reached the candidate) p50/p95/max, which includes the page's own poll wait; the page renders
what a poll brings within the same task (milliseconds). Aim: p95 <= 1 s with 10 candidates.
Same machine, same clock. Needs ``make setup`` (the proxy in node_modules/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "hub"))

import httpx  # noqa: E402
from tornado.httpclient import HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from hubtools import SERVICE, RunningHub, open_notebook_kernel  # noqa: E402
from mlinterview.scenarios.pack import default_scenarios_dir  # noqa: E402

PAGE_POLL_S = 0.5  # live.js: the events poll's interval


def summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000, 1)
    return {"count": len(ordered), "p50_ms": at(0.5), "p95_ms": at(0.95), "max_ms": round(ordered[-1] * 1000, 1)}


async def candidate(hub, user: str, token: str, kernel_id: str, cells: int, think: float, reached: dict) -> None:
    request = HTTPRequest(f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{kernel_id}/channels",
                          headers={"Authorization": f"token {token}"}, connect_timeout=120, request_timeout=120)
    connection = await websocket_connect(request)
    session = uuid.uuid4().hex
    try:
        for cell in range(cells):
            msg_id = uuid.uuid4().hex
            await connection.write_message(json.dumps({
                "header": {"msg_id": msg_id, "username": user, "session": session, "msg_type": "execute_request", "version": "5.3",
                           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                "parent_header": {}, "metadata": {"cellId": f"cell-{cell}"},
                "content": {"code": f"x_{cell} = {cell}\nprint(x_{cell})", "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
                "channel": "shell", "buffers": [],
            }))
            while True:
                raw = await connection.read_message()
                assert raw is not None, f"{user}: the websocket closed"
                reply = json.loads(raw)
                if reply.get("msg_type") == "execute_reply" and reply["parent_header"].get("msg_id") == msg_id:
                    reached[msg_id] = time.time()
                    break
            await asyncio.sleep(think)
    finally:
        connection.close()


async def cockpit(hub, token: str, interview_id: str, poll: float, seen: dict, stop: asyncio.Event) -> None:
    after = -1
    async with httpx.AsyncClient(base_url=hub.url, headers={"Authorization": f"token {token}"}, timeout=30) as client:
        while not stop.is_set():
            response = await client.get(f"{SERVICE}api/interviews/{interview_id}/events", params={"after": after})
            now = time.time()
            if response.status_code == 200:
                for event in response.json()["events"]:
                    after = event["seq"]
                    if event["kind"] == "execute_reply":
                        seen.setdefault(event["msg_id"], now)
            try:
                await asyncio.wait_for(stop.wait(), poll)
            except asyncio.TimeoutError:
                pass


async def measure(hub, people: list[dict], alice: str, cells: int, think: float, poll: float) -> tuple[dict, dict]:
    reached, seen, stop = {}, {}, asyncio.Event()
    pollers = [asyncio.create_task(cockpit(hub, alice, p["interview_id"], poll, seen, stop)) for p in people]
    try:
        await asyncio.gather(*(candidate(hub, p["user"], p["token"], p["kernel_id"], cells, think, reached) for p in people))
        deadline = time.monotonic() + 10
        while set(reached) - set(seen) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*pollers)
    return reached, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a reply and the next cell")
    parser.add_argument("--poll", type=float, default=PAGE_POLL_S, help="the cockpit's poll interval, seconds")
    parser.add_argument("--scenario", default="churn")
    args = parser.parse_args()
    hub = RunningHub(Path(tempfile.mkdtemp(prefix="cockpit-latency-")), default_scenarios_dir())
    hub.start()
    try:
        alice = hub.token_for("alice")
        made = [hub.create_interview(alice, f"Latency Candidate {i}", args.scenario) for i in range(args.candidates)]
        hub.candidates_open([(m["invite_url"], m["interview"]["candidate_user"]) for m in made], timeout=300)
        people = []
        for m in made:
            user = m["interview"]["candidate_user"]
            token = hub.token_for(user)
            people.append({"user": user, "token": token, "interview_id": m["interview"]["id"], "kernel_id": open_notebook_kernel(hub, user, token)})
        reached, seen = asyncio.run(measure(hub, people, alice, args.cells, args.think, args.poll))
        gaps = [seen[msg_id] - at for msg_id, at in reached.items() if msg_id in seen]
        missing = len(reached) - len(gaps)
        result = {"candidates": args.candidates, "cells_each": args.cells, "poll_s": args.poll, "replies": len(reached),
                  "not_seen_within_10_s": missing, "gap": summary(gaps) if gaps else None}
        print(json.dumps(result, indent=2))
    finally:
        hub.stop()


if __name__ == "__main__":
    main()

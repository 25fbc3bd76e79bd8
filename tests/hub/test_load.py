"""Load: 10 live candidates at once, each running 50 cells through the real proxy.

One real hub (trusted mode, loopback, free ports). Ten interviews are created through the
service's API; the ten candidates open their invites at the same time; each starts the
interview kernel and runs 50 cells over one kernel websocket of their own server, as JupyterLab
does. A prober times the hub API (``GET /hub/api/`` and an authenticated ``GET /hub/api/users``)
through the proxy, first with the ten servers idle, then while the cells run.

Checked: every execution (request and reply, in order, with the code sent) is in the
authoritative history, the interview service's copy, whose hash chain verifies; the hub API
answered every probe.
Reported (printed and saved as ``test-artifacts/hub-load.json``): hub API p50/p95 latency idle and
under load, cell round trip p50/p95, and memory (RSS) per live candidate: their single-user server
plus its kernel.

Bounded: the load stops by itself (fixed cells, ``asyncio.wait_for`` around it, a pytest timeout),
loopback only; the hub fixture stops every server at the end.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from hubtools import REPO_ROOT, open_notebook_kernel, wait_for
from mlinterview.history import verify_events

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

CANDIDATES = 10
CELLS_PER_CANDIDATE = 50
ERROR_EVERY = 10  # every 10th cell raises, so failing executions are recorded under load too
PROBE_INTERVAL_S = 0.1
IDLE_PROBE_S = 3
LOAD_TIMEOUT_S = 180
ARTIFACT = REPO_ROOT / "test-artifacts" / "hub-load.json"


def cell_code(candidate: int, cell: int) -> str:
    if cell % ERROR_EVERY == ERROR_EVERY - 1:
        return f"raise ValueError('planned failure {candidate}.{cell}')"
    return f"value_{cell} = {candidate} * 1000 + {cell}\nprint(value_{cell})"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency_summary(seconds: list[float]) -> dict:
    return {
        "count": len(seconds),
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 2),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 2),
    }


def execute_request(user: str, session: str, code: str) -> dict:
    msg_id = uuid.uuid4().hex
    return {
        "header": {"msg_id": msg_id, "username": user, "session": session, "msg_type": "execute_request", "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "parent_header": {},
        "metadata": {"cellId": f"cell-{msg_id[:8]}"},
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        "channel": "shell",
        "buffers": [],
    }


async def run_cells(hub, candidate: int, user: str, token: str, kernel_id: str) -> list[float]:
    """Run this candidate's cells one after another on one websocket; returns each round trip."""
    request = HTTPRequest(f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{kernel_id}/channels", headers={"Authorization": f"token {token}"},
                          connect_timeout=120, request_timeout=120)  # ten kernels connecting at once on a loaded machine
    connection = await websocket_connect(request, max_message_size=64 * 1024 * 1024)
    session = uuid.uuid4().hex
    round_trips = []
    try:
        for cell in range(CELLS_PER_CANDIDATE):
            message = execute_request(user, session, cell_code(candidate, cell))
            sent = time.perf_counter()
            await connection.write_message(json.dumps(message))
            while True:
                raw = await connection.read_message()
                assert raw is not None, f"{user}: the kernel websocket closed before the reply to cell {cell}"
                reply = json.loads(raw)
                if reply.get("msg_type") == "execute_reply" and reply["parent_header"].get("msg_id") == message["header"]["msg_id"]:
                    break
            round_trips.append(time.perf_counter() - sent)
            expected = "error" if cell % ERROR_EVERY == ERROR_EVERY - 1 else "ok"
            assert reply["content"]["status"] == expected, (user, cell, reply["content"])
    finally:
        connection.close()
    return round_trips


async def probe_hub_api(hub, stop: asyncio.Event) -> dict[str, list[float]]:
    """Time the hub API through the proxy until ``stop`` is set; every probe must answer 200."""
    timings: dict[str, list[float]] = {"GET /hub/api/": [], "GET /hub/api/users": []}
    headers = {"Authorization": f"token {hub.admin_token}"}
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:
        while not stop.is_set():
            for label, path, extra in (("GET /hub/api/", "/hub/api/", {}), ("GET /hub/api/users", "/hub/api/users", headers)):
                started = time.perf_counter()
                response = await client.get(path, headers=extra)
                timings[label].append(time.perf_counter() - started)
                assert response.status_code == 200, (label, response.status_code, response.text[:200])
            try:
                await asyncio.wait_for(stop.wait(), PROBE_INTERVAL_S)
            except asyncio.TimeoutError:
                pass
    return timings


async def probe_idle(hub, seconds: float) -> dict[str, list[float]]:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    return await probe_hub_api(hub, stop)


async def load(hub, candidates: list[dict]) -> tuple[list[list[float]], dict[str, list[float]]]:
    stop = asyncio.Event()
    prober = asyncio.create_task(probe_hub_api(hub, stop))
    try:
        round_trips = await asyncio.gather(
            *(run_cells(hub, index, c["user"], c["token"], c["kernel_id"]) for index, c in enumerate(candidates))
        )
    finally:
        stop.set()
    return round_trips, await prober


def memory_per_candidate(hub, users: list[str]) -> dict[str, dict]:
    """RSS of each candidate's single-user server and of its kernel(s), found under the hub process."""
    found: dict[str, dict] = {}
    for process in psutil.Process(hub.process.pid).children(recursive=True):
        try:
            if "jupyterhub-singleuser" not in " ".join(process.cmdline()):
                continue
            user = process.environ().get("JUPYTERHUB_USER")
            if user not in users:
                continue
            kernels = process.children(recursive=True)
            server_rss = process.memory_info().rss
            kernel_rss = sum(kernel.memory_info().rss for kernel in kernels)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found[user] = {"server_mib": round(server_rss / 2**20, 1), "kernel_mib": round(kernel_rss / 2**20, 1), "kernels": len(kernels), "total_mib": round((server_rss + kernel_rss) / 2**20, 1)}
    return found


def recorded_executions(hub, interviewer_token: str, interview_id: str) -> list[dict]:
    response = hub.service_api(interviewer_token, "GET", f"interviews/{interview_id}/events?after=-1")
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_ten_candidates_fifty_cells_each(hub, scenario_id):
    timings: dict[str, float] = {}
    alice = hub.token_for("alice")
    interviews = [hub.create_interview(alice, f"Load Candidate {index}", scenario_id) for index in range(CANDIDATES)]

    # the ten candidates open their invites at once; each starts the interview kernel
    started = time.monotonic()
    hub.candidates_open([(made["invite_url"], made["interview"]["candidate_user"]) for made in interviews], timeout=240)
    timings["all_servers_ready_s"] = time.monotonic() - started
    candidates = [
        {"user": made["interview"]["candidate_user"], "interview_id": made["interview"]["id"], "token": hub.token_for(made["interview"]["candidate_user"])}
        for made in interviews
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(CANDIDATES) as pool:
        kernel_ids = list(pool.map(lambda c: open_notebook_kernel(hub, c["user"], c["token"]), candidates))
    for candidate, kernel_id in zip(candidates, kernel_ids):
        candidate["kernel_id"] = kernel_id
    timings["all_kernels_started_s"] = time.monotonic() - started

    # the hub API with ten idle candidates, then under the load: 10 x 50 cells at once
    idle_timings = asyncio.run(probe_idle(hub, IDLE_PROBE_S))
    started = time.monotonic()
    round_trips, api_timings = asyncio.run(asyncio.wait_for(load(hub, candidates), LOAD_TIMEOUT_S))
    timings["load_s"] = time.monotonic() - started
    memory = memory_per_candidate(hub, [c["user"] for c in candidates])

    # every execution is in the authoritative history, in order, with the code that was sent
    def all_recorded():
        histories = {c["user"]: recorded_executions(hub, alice, c["interview_id"]) for c in candidates}
        replies = {user: [e for e in events if e["kind"] == "execute_reply"] for user, events in histories.items()}
        return histories if all(len(r) >= CELLS_PER_CANDIDATE for r in replies.values()) else None

    started = time.monotonic()
    histories = wait_for(all_recorded, 60, "every execution in the service's history", interval=0.5)
    timings["history_caught_up_after_load_s"] = time.monotonic() - started
    for index, candidate in enumerate(candidates):
        events = histories[candidate["user"]]
        verified = verify_events(events)
        assert verified.ok, f"{candidate['user']}: the stored chain does not verify: {verified.problems}"
        requests = [e for e in events if e["kind"] == "execute_request"]
        replies = [e for e in events if e["kind"] == "execute_reply"]
        assert [r["code"] for r in requests] == [cell_code(index, cell) for cell in range(CELLS_PER_CANDIDATE)]
        assert all(r["user"] == candidate["user"] for r in requests)
        assert [r["status"] for r in replies] == ["error" if cell % ERROR_EVERY == ERROR_EVERY - 1 else "ok" for cell in range(CELLS_PER_CANDIDATE)]

    assert set(memory) == {c["user"] for c in candidates}, f"a candidate's server was not found: {sorted(memory)}"
    assert all(entry["kernels"] >= 1 for entry in memory.values()), memory
    all_round_trips = [seconds for per_candidate in round_trips for seconds in per_candidate]
    report = {
        "candidates": CANDIDATES,
        "cells_per_candidate": CELLS_PER_CANDIDATE,
        "executions": len(all_round_trips),
        "cpu_count": psutil.cpu_count(),
        "timings_s": {label: round(value, 2) for label, value in timings.items()},
        "hub_api_latency_idle": {label: latency_summary(values) for label, values in idle_timings.items()},
        "hub_api_latency_under_load": {label: latency_summary(values) for label, values in api_timings.items()},
        "cell_round_trip": latency_summary(all_round_trips),
        "memory_per_candidate_mib": memory,
        "memory_mean_total_mib": round(statistics.fmean(entry["total_mib"] for entry in memory.values()), 1),
    }
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(report, indent=2) + "\n")
    print("\nhub load:", json.dumps(report, indent=2))
    # responsiveness: generous bounds for 2 shared cores, tight enough to catch a blocked hub
    for label, values in api_timings.items():
        assert percentile(values, 0.95) < 2.0, f"{label} p95 {percentile(values, 0.95):.2f} s under load: the hub is not responsive"

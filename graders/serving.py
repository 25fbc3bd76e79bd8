"""Testing a candidate's prediction service: started inside the replay's sandbox, asked from outside it.

A pack with a ``[serving]`` table (``scenarios/schema.py``: ``Serving``) ships a scaffold that is a
prediction service. After the notebook's replay, in the same kernel, the grader:

1. runs :data:`START_CODE` in the replayed kernel: it picks a free port on the kernel's loopback
   and starts the pack's ``command`` (``{python}``: the kernel's interpreter, ``{port}``: that port)
   from the workspace, where the notebook left its code and its artifacts. The app is a child of
   the kernel: the same user, namespaces (its network namespace has only its own loopback), cgroup
   and limits; it reaches nothing the kernel cannot.
2. sends the pack's hidden request suite (``private/<suite>``'s ``request_suite(holdout_features,
   candidate_data)``: valid, malformed, anomalous and concurrent requests) from
   :mod:`mlinterview.graders.request_client`, a process of the grader's that joins the kernel's
   network namespace only: no candidate process can see or alter it, and the expected answers
   never enter the sandbox.
3. judges the answers here (:func:`judge`): status and named error of each, one rounded number per
   row for the valid ones, p95 latency of the single-row requests against the budget, and the
   pack's metric on the fares it served against the holdout labels. :func:`production_band`
   turns that into the band of the rubric's ``production`` signal.

The suite is the pack's answer key: it lives in ``private/`` and is loaded by the grader only.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import safe_files
from ..scenarios.metrics import score
from .contract import read_kernel_result
from .replay import ReplayClient, execute_grader_code

SUITE_KINDS = ("valid", "malformed", "anomalous", "concurrent")
# How much of the app's own output the report keeps (its last words when it did not start).
LOG_TAIL_BYTES = 3000
ANSWER_EXCERPT = 300  # what the report keeps of a wrong answer's body
MAX_FAILURES_LISTED = 40

START_CODE = r'''
def __mlinterview_start_service(command, workdir, out_path, log_path, startup_timeout):
    import json, os, socket, subprocess, sys, time
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [part.replace("{python}", sys.executable).replace("{port}", str(port)) for part in command]
    env = dict(os.environ, PYTHONPATH=workdir + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for planted in (log_path, out_path):  # whatever the notebook left there (a link, a FIFO) is not ours to open
        try:
            os.unlink(planted)
        except FileNotFoundError:
            pass
    log = open(log_path, "xb")
    process = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    started, listening = time.monotonic(), False
    while time.monotonic() - started < startup_timeout and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                listening = True
                break
        except OSError:
            time.sleep(0.1)
    globals()["__mlinterview_service"] = process
    with open(out_path, "x") as handle:
        json.dump({"port": port, "argv": argv, "listening": listening, "exit_code": process.poll(),
                   "start_s": round(time.monotonic() - started, 3)}, handle)

__mlinterview_start_service({command!r}, {workdir!r}, {out!r}, {log!r}, {timeout!r})
del __mlinterview_start_service
'''

STOP_CODE = r'''
def __mlinterview_stop_service():
    process = globals().pop("__mlinterview_service", None)
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(10)

__mlinterview_stop_service()
del __mlinterview_stop_service
'''


def start_code(command: list[str], workdir: Path, out_path: Path, log_path: Path, timeout: float) -> str:
    return (START_CODE.replace("{command!r}", repr(list(command))).replace("{workdir!r}", repr(str(workdir))).replace("{out!r}", repr(str(out_path)))
            .replace("{log!r}", repr(str(log_path))).replace("{timeout!r}", repr(float(timeout))))


def load_suite(pack, holdout_features, candidate_data) -> list[dict[str, Any]]:
    """The pack's hidden request suite, checked: unique names, known kinds, an expected status each."""
    serving = pack.manifest.serving
    module = pack.load_private_module(Path(serving.suite).stem)
    suite = [dict(request) for request in module.request_suite(holdout_features, candidate_data)]
    names = [request.get("name") for request in suite]
    if len(set(names)) != len(names) or not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"{pack.id}: the request suite needs a unique name for each request")
    for request in suite:
        if request.get("kind") not in SUITE_KINDS or not isinstance(request.get("status"), int):
            raise ValueError(f"{pack.id}: request {request['name']}: needs a kind ({', '.join(SUITE_KINDS)}) and an expected status")
        request.setdefault("method", "POST")
        request.setdefault("path", serving.path)
        request.setdefault("headers", {})
        request.setdefault("error", None)
        request["rows"] = [str(row) for row in request.get("rows") or []]
    return suite


def wire_request(request: dict[str, Any]) -> dict[str, Any]:
    """What the client may know of a request: what to send, not what to expect."""
    return {key: request[key] for key in ("name", "kind", "method", "path", "headers", "body")}


async def test_service(client: ReplayClient, workdir: Path, io_dir: Path, serving, suite: list[dict]) -> dict[str, Any]:
    """The grader step: start the app in the kernel's sandbox, send the suite from outside it, stop the app."""
    out_path, log_path = io_dir / "service.json", io_dir / "service.log"
    outcome = await execute_grader_code(client, start_code(serving.command, workdir, out_path, log_path, serving.startup_timeout_seconds),
                                        serving.startup_timeout_seconds + 30)
    if not outcome["ok"]:
        return {"ok": False, "problem": f"the grader could not start the app: {outcome['problem']}"}
    started, problem = read_kernel_result(workdir, out_path.name)
    if started is None or not isinstance(started.get("port"), int):
        return {"ok": False, "problem": problem or "the kernel did not say which port the app got"}
    result: dict[str, Any] = {"ok": True, "start": {key: started.get(key) for key in ("argv", "listening", "exit_code", "start_s")}}
    try:
        if started.get("exit_code") is not None:
            result.update(ok=False, problem=f"the app exited with status {started['exit_code']} before it listened")
        else:
            spec = {
                "netns_pid": client.kernel_pid(), "port": started["port"], "requests": [wire_request(r) for r in suite],
                "concurrency": serving.concurrency, "startup_timeout": 10 if not started.get("listening") else 5,
                "request_timeout": 5, "deadline": 180,
            }
            asked = await ask(spec)
            result["client"] = {key: asked.get(key) for key in ("ready", "ready_s", "notes")}
            if not asked.get("ready"):
                result.update(ok=False, problem=asked.get("problem") or "the app did not answer")
            result["raw"] = asked.get("answers") or []
    finally:
        await execute_grader_code(client, STOP_CODE, 30)
        result["log_tail"] = _log_tail(workdir, log_path.relative_to(workdir))
    return result


async def ask(spec: dict) -> dict:
    """Run the request client (its own process, see :mod:`request_client`) on ``spec``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-m", "mlinterview.graders.request_client",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(json.dumps(spec).encode()), spec["deadline"] + 60)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return {"ready": False, "problem": "the request client ran out of time"}
    try:
        return json.loads(stdout.decode())
    except ValueError:
        return {"ready": False, "problem": "the request client failed: " + stderr.decode("utf-8", "replace")[-500:]}


def _log_tail(workdir: Path, relative: Path) -> str:
    """The end of the app's output, read as the grader reads every file the kernel wrote (a plain file only)."""
    try:
        return safe_files.read_tail(workdir, relative, LOG_TAIL_BYTES).decode("utf-8", "replace")
    except (OSError, ValueError) as error:
        return f"(the app's log was not read: {error})"


# -- judging -------------------------------------------------------------------------------------------


def _expected_words(request: dict) -> str:
    return f"{request['status']}" + (f" {request['error']}" if request.get("error") else "")


def judge_answer(serving, request: dict, answer: dict | None) -> tuple[bool, str, list[float] | None]:
    """Whether one answer is right, what was wrong in words, and the predictions of a right 200."""
    if answer is None or answer.get("status") is None:
        return False, (answer or {}).get("problem") or "no answer", None
    status = answer["status"]
    try:
        body = json.loads(answer.get("body") or "")
    except ValueError:
        body = None
    got = f"{status}" + (f" {body.get(serving.error_key)}" if isinstance(body, dict) and body.get(serving.error_key) else "")
    if status != request["status"]:
        return False, f"answered {got}, expected {_expected_words(request)}", None
    if status != 200:
        if request.get("error") and not (isinstance(body, dict) and body.get(serving.error_key) == request["error"]):
            return False, f"answered {got}, expected the error named {request['error']!r} under {serving.error_key!r}", None
        return True, "", None
    values = body.get(serving.response_key) if isinstance(body, dict) else None
    if not isinstance(values, list) or len(values) != len(request["rows"]):
        return False, f"a 200 without a list of {len(request['rows'])} under {serving.response_key!r}", None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return False, "a prediction that is not a finite number", None
    if serving.round_digits is not None:
        scale = 10 ** serving.round_digits
        if any(abs(v * scale - round(v * scale)) > 1e-6 for v in values):
            return False, f"predictions not rounded to {serving.round_digits} decimals (e.g. {values[0]!r})", [float(v) for v in values]
    return True, "", [float(v) for v in values]


def p95(values: list[float]) -> float | None:
    return round(float(np.percentile(values, 95)), 3) if values else None


def judge(serving, suite: list[dict], step: dict | None, metric: str, labels_by_id: dict[str, float],
          notebook_by_id: dict[str, float] | None = None) -> dict[str, Any]:
    """The serving section of the report: per kind right/total, failures, latency, the served metric."""
    section: dict[str, Any] = {
        "tested": step is not None, "answered": False, "problem": None, "start": (step or {}).get("start"),
        "kinds": {kind: {"right": 0, "total": sum(r["kind"] == kind for r in suite)} for kind in SUITE_KINDS},
        "wrong": 0, "failures": [], "latency_budget_ms": serving.latency_budget_ms, "p95_ms": None, "p95_concurrent_ms": None,
        "within_budget": None, "served_metric": None, "served_rows": 0, "metric": metric, "differs_from_notebook": None,
        "log_tail": (step or {}).get("log_tail", ""),
    }
    if step is None:
        section["problem"] = "the replay did not get as far as the app"
    answers = {answer.get("name"): answer for answer in ((step or {}).get("raw") or []) if isinstance(answer, dict)}
    if step is not None and not answers:
        section["problem"] = step.get("problem") or "the app did not answer"
    section["answered"] = any(answer.get("status") is not None for answer in answers.values())
    if answers and not section["answered"]:
        first = next((a.get("problem") for a in answers.values() if a.get("problem")), None) or "no answer"
        section["problem"] = f"the app took the connections but answered none of the {len(answers)} requests (e.g. {first})"
    served: dict[str, float] = {}
    single, concurrent = [], []
    first_valid = next((r["name"] for r in suite if r["kind"] == "valid"), None)
    for request in suite:
        answer = answers.get(request["name"])
        right, why, values = judge_answer(serving, request, answer)
        kind = section["kinds"][request["kind"]]
        kind["right"] += right
        section["wrong"] += not right
        if not right and len(section["failures"]) < MAX_FAILURES_LISTED:
            section["failures"].append({"request": request["name"], "kind": request["kind"], "expected": _expected_words(request), "got": why,
                                        "answer": ((answer or {}).get("body") or "")[:ANSWER_EXCERPT]})
        if values is not None:
            served.update(zip(request["rows"], values))
        ms = (answer or {}).get("ms")
        if answer and answer.get("status") is not None and ms is not None and len(request["rows"]) <= 1:
            if request["kind"] == "concurrent":
                concurrent.append(ms)
            elif request["name"] != first_valid:  # the first request may load what the app loads lazily
                single.append(ms)
    section["p95_ms"], section["p95_concurrent_ms"] = p95(single), p95(concurrent)
    if section["p95_ms"] is not None:
        section["within_budget"] = section["p95_ms"] <= serving.latency_budget_ms
    rows = [row for row in served if row in labels_by_id]
    section["served_rows"] = len(rows)
    if rows:
        try:
            section["served_metric"] = score(metric, [labels_by_id[row] for row in rows], [served[row] for row in rows])
        except ValueError:
            pass  # e.g. a metric that needs both classes among the rows served: none
    if notebook_by_id:
        common = [row for row in rows if row in notebook_by_id]
        if common:
            gap = float(np.mean([abs(served[row] - notebook_by_id[row]) for row in common]))
            section["differs_from_notebook"] = round(gap, 4)
    section["band"], section["observed"] = production_band(section)
    return section


def share(section: dict, kind: str) -> float:
    counts = section["kinds"][kind]
    return counts["right"] / counts["total"] if counts["total"] else 1.0


def production_band(section: dict) -> tuple[str, str]:
    """The production band from the suite: very weak when the app does not answer or gets most valid
    requests wrong; very strong when every request is answered right within the latency budget; strong
    when nearly every valid and concurrent request and most malformed and anomalous ones are right
    within the budget; weak otherwise."""
    counts = "; ".join(f"{kind} {c['right']} of {c['total']} right" for kind, c in section["kinds"].items() if c["total"])
    latency = (f"p95 {section['p95_ms']:g} ms against a budget of {section['latency_budget_ms']:g} ms"
               if section["p95_ms"] is not None else "no latency measured")
    if not section["answered"]:
        return "very_weak", section['problem'] or 'the app did not answer'
    observed = f"the grader's request suite: {counts}; {latency}"
    if section.get("served_metric") is not None:
        observed += f"; {section['metric']} of the served predictions {section['served_metric']:.4g} on {section['served_rows']} holdout rows"
    if share(section, "valid") < 0.5:
        return "very_weak", observed
    if all(share(section, kind) == 1.0 for kind in SUITE_KINDS) and section["within_budget"]:
        return "very_strong", observed
    if (share(section, "valid") >= 0.95 and share(section, "concurrent") >= 0.95 and share(section, "malformed") >= 0.8
            and share(section, "anomalous") >= 0.8 and section["within_budget"]):
        return "strong", observed
    return "weak", observed

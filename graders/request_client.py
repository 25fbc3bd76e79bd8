"""The grader's request client: joins a replayed kernel's network namespace and asks the candidate's app.

``python -m mlinterview.graders.request_client`` reads one JSON object on standard input::

    {"netns_pid": 1234 | null, "port": 40123, "requests": [...], "concurrency": 8,
     "startup_timeout": 60, "request_timeout": 5, "deadline": 180}

and writes one JSON object on standard output: ``{"ready": bool, "ready_s", "problem", "answers":
[{name, status, content_type, body, truncated, ms, problem}]}``. Each request is a dict of
``graders/serving.py``'s suite (``name``, ``kind``, ``method``, ``path``, ``headers``, ``body``); the
expected answers never come here: they stay in the grader, which judges what comes back.

Why a process of its own: the app runs inside the kernel's sandbox (its network namespace has only
its own loopback), so the client must be in that namespace to reach it, and nothing the candidate
runs may see or alter the client. This process joins the **network namespace only** (``setns``,
through the sandbox's user namespace when the sandbox made one as an ordinary user), stays outside
the kernel's pid namespace (no candidate process can signal it or read its memory), and, as root,
drops to ``nobody`` before it sends anything. It imports only the standard library, and joins
before it starts a thread: a process with threads cannot enter a user namespace.
"""

from __future__ import annotations

import ctypes
import encodings.idna  # noqa: F401 - imported now: once nobody, the interpreter's own folder may be out of reach
import http.client
import json
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MAX_BODY_BYTES = 256 * 1024  # what is kept of an answer; a flood is cut off, and said so
NOBODY = 65534


def join_network_namespace(pid: int) -> list[str]:
    """Enter the network namespace of ``pid`` (and its user namespace first, as an ordinary user);
    what was done, in words. Raises OSError when it cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    done = []
    kinds = (("net", CLONE_NEWNET),) if os.geteuid() == 0 else (("user", CLONE_NEWUSER), ("net", CLONE_NEWNET))
    for kind, flag in kinds:
        target = f"/proc/{pid}/ns/{kind}"
        if os.readlink(target) == os.readlink(f"/proc/self/ns/{kind}"):
            continue
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(fd, flag) != 0:
                error = ctypes.get_errno()
                raise OSError(error, f"setns({kind}): {os.strerror(error)}")
        finally:
            os.close(fd)
        done.append(f"joined the kernel's {kind} namespace")
    return done


def drop_privileges() -> None:
    """As root: become nobody (the client needs no privilege once it is in the namespace)."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def wait_until_listening(port: int, timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True, time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    return False, time.monotonic() - started


def send(port: int, request: dict, timeout: float) -> dict:
    """One request on a fresh connection; its answer (bounded) and how long it took."""
    answer = {"name": request["name"], "status": None, "content_type": None, "body": "", "truncated": False, "ms": None, "problem": None}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request(request.get("method", "POST"), request.get("path", "/"), body=str(request.get("body", "")).encode("utf-8"),
                           headers=dict(request.get("headers") or {}))
        response = connection.getresponse()
        data = response.read(MAX_BODY_BYTES + 1)
        answer["ms"] = round((time.perf_counter() - started) * 1000, 3)
        answer.update(status=response.status, content_type=response.getheader("Content-Type"),
                      body=data[:MAX_BODY_BYTES].decode("utf-8", "replace"), truncated=len(data) > MAX_BODY_BYTES)
    except (OSError, http.client.HTTPException, ValueError) as error:
        answer["ms"] = round((time.perf_counter() - started) * 1000, 3)
        answer["problem"] = f"{type(error).__name__}: {error}"[:300]
    finally:
        connection.close()
    return answer


def run_suite(spec: dict) -> dict:
    out = {"ready": False, "ready_s": None, "problem": None, "notes": [], "answers": []}
    if spec.get("netns_pid"):
        try:
            out["notes"] += join_network_namespace(int(spec["netns_pid"]))
        except OSError as error:
            out["problem"] = f"could not join the kernel's network namespace ({error})"
            return out
    drop_privileges()
    port, timeout = int(spec["port"]), float(spec.get("request_timeout", 5))
    out["ready"], ready_s = wait_until_listening(port, float(spec.get("startup_timeout", 60)))
    out["ready_s"] = round(ready_s, 3)
    if not out["ready"]:
        out["problem"] = f"nothing listened on 127.0.0.1:{port} within {spec.get('startup_timeout', 60)} s"
        return out
    deadline = time.monotonic() + float(spec.get("deadline", 180))
    requests = list(spec.get("requests") or [])
    answers: dict[str, dict] = {}

    def late(request: dict) -> dict:
        return {"name": request["name"], "status": None, "ms": None, "problem": "not sent: the suite's time ran out", "body": ""}

    for request in (r for r in requests if r.get("kind") != "concurrent"):
        answers[request["name"]] = send(port, request, timeout) if time.monotonic() < deadline else late(request)
    concurrent = [r for r in requests if r.get("kind") == "concurrent"]
    if concurrent and time.monotonic() < deadline:
        with ThreadPoolExecutor(max_workers=int(spec.get("concurrency", 8))) as pool:
            for answer in pool.map(lambda request: send(port, request, timeout), concurrent):
                answers[answer["name"]] = answer
    for request in concurrent:
        answers.setdefault(request["name"], late(request))
    out["answers"] = [answers[request["name"]] for request in requests]
    return out


def main() -> None:
    spec = json.loads(sys.stdin.read())
    json.dump(run_suite(spec), sys.stdout)


if __name__ == "__main__":
    main()

"""End -> report: the interviewer presses End; how long until the server is stopped and the report is ready.

    .venv/bin/python -P benchmarks/end_to_report.py [--rounds 1] [--submission fixes_everything]

One real hub (hub, proxy, interview service, grader; ``tests/hub/hubtools.py``; isolated under
root). Per round, a churn interview is created and the candidate does what a candidate does:
opens the invite, saves their scaffold files and notebook through their server (the hand-written
churn submission ``tests/graders/churn_submissions/<name>``, which trains the model) and runs every
code cell in the notebook's kernel. Then End, through the service as the live view's button does, at least a minute after the candidate
came in (an interview lasts the better part of an hour).
Measured from End: the server stopped (the hub's own "took N seconds to stop"), and the report
ready (the interview reaches ``graded``).

Baseline, same run, same final notebook: one plain nbclient run of it with a kernel start, in a
working copy with the candidate's data (``benchmarks/grader_replay.py``'s plain run). Targets:
stopping at most 5 s; the report within 1.5x the baseline. Needs ``make setup``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "hub"))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
import nbformat  # noqa: E402
from grader_replay import CHURN_SUBMISSIONS, build_churn_submission, plain_nbclient, load_average  # noqa: E402
from hubtools import SERVICE, RunningHub, open_notebook_kernel, run_code, wait_for  # noqa: E402

from mlinterview.graders.grade import prepare_working_copy  # noqa: E402
from mlinterview.graders.replay import resolve_kernel_name  # noqa: E402
from mlinterview.graders.submission import load_submission  # noqa: E402
from mlinterview.scenarios.pack import default_scenarios_dir, load_pack  # noqa: E402

STOP_TARGET_S = 5.0
MIN_SESSION_S = 60.0
REPORT_TARGET = 1.5


def save_through_the_server(hub: RunningHub, user: str, token: str, submission: Path, scaffold: str, notebook: str) -> None:
    """PUT the submission's scaffold files and notebook into the candidate's workspace, as JupyterLab saves them."""
    headers = {"Authorization": f"token {token}"}
    base = f"{hub.url}/user/{user}/api/contents"
    for path in sorted((submission / scaffold).rglob("*.py")):
        relative = path.relative_to(submission).as_posix()
        model = {"type": "file", "format": "text", "content": path.read_text()}
        response = httpx.put(f"{base}/{relative}", headers=headers, json=model, timeout=60)
        assert response.status_code in (200, 201), (relative, response.status_code, response.text)
    content = json.loads((submission / notebook).read_text())
    response = httpx.put(f"{base}/{notebook}", headers=headers, json={"type": "notebook", "format": "json", "content": content}, timeout=60)
    assert response.status_code in (200, 201), (notebook, response.status_code, response.text)


def one_round(hub: RunningHub, interviewer: str, submission: Path, pack, round_number: int) -> dict[str, float]:
    made = hub.create_interview(interviewer, f"End Benchmark {round_number}", "churn")
    interview_id, user = made["interview"]["id"], made["interview"]["candidate_user"]
    hub.candidate_opens(made["invite_url"], user)
    opened = time.monotonic()
    token = hub.token_for(user)
    notebook = pack.manifest.candidate.notebook
    save_through_the_server(hub, user, token, submission, pack.scaffold_name, notebook)
    kernel_id = open_notebook_kernel(hub, user, token)
    for cell in nbformat.read(submission / notebook, 4).cells:
        if cell.cell_type == "code" and cell.source.strip():
            _, reply = run_code(hub, user, token, cell.source, kernel_id=kernel_id, timeout=600)
            assert reply["status"] == "ok", (cell.source[:200], reply.get("ename"), reply.get("evalue"))
    # an interview lasts the better part of an hour; this one at least a minute (the service has
    # its grader ready by then, as it has for any real End)
    time.sleep(max(0.0, MIN_SESSION_S - (time.monotonic() - opened)))

    log_start = hub.log_path.stat().st_size
    started, started_wall = time.perf_counter(), time.time()
    ended = httpx.post(f"{hub.url}{SERVICE}interviews/{interview_id}/end", headers={"Authorization": f"token {interviewer}"}, timeout=60, follow_redirects=False)
    assert ended.status_code == 302, (ended.status_code, ended.text[:300])
    # the service logs the outcome; reading the log file (not polling the API through the proxy)
    # keeps the measurement from loading the machine it measures
    finished = re.compile(rf"interview {interview_id}: (graded in|the grader exited)")

    def log_after_end() -> str:
        with open(hub.log_path, "rb") as log:
            log.seek(log_start)
            return log.read().decode(errors="replace")

    wait_for(lambda: finished.search(log_after_end()), 900, "the report", interval=0.1)
    report_s = time.perf_counter() - started
    state = hub.service_api(interviewer, "GET", f"interviews/{interview_id}").json()["state"]
    assert state == "graded", state
    after_end = log_after_end()
    stopped = re.search(rf"User {re.escape(user)} server took ([0-9.]+) seconds to stop", after_end)
    assert stopped, "the hub did not log the server's stop"
    print_steps(after_end, (interview_id, user), started_wall)
    return {"stop": float(stopped.group(1)), "report": report_s}


def print_steps(log_text: str, names: tuple[str, ...], started_wall: float) -> None:
    """Where the time after End went: the hub's and the service's log lines about this interview, as offsets from End."""
    for line in log_text.splitlines():
        stamp = re.match(r"\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.,]\d+)", line)
        if stamp and any(name in line for name in names) and " 200 GET " not in line:
            at = datetime.strptime(stamp.group(1).replace(",", "."), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
            print(f"    +{at - started_wall:6.2f} s  {line[line.index(']') + 1:].strip()[:160]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--submission", default="fixes_everything", help="a folder of tests/graders/churn_submissions")
    args = parser.parse_args()
    pack = load_pack("churn", default_scenarios_dir())
    root = Path(tempfile.mkdtemp(prefix="bench-end-"))
    (root / "hub").mkdir()
    hub = RunningHub(root / "hub", default_scenarios_dir())
    try:
        submission = build_churn_submission(CHURN_SUBMISSIONS / args.submission, root / "submission", pack)
        # the baseline: one plain nbclient run of the final notebook with a kernel start
        workdir = root / "work"
        prepare_working_copy(pack, load_submission(submission, pack.manifest.candidate.notebook), 2024, workdir)
        kernel_name, _ = resolve_kernel_name(f"mlinterview-{pack.manifest.kernel.default}")
        hub.start(timeout=120)
        interviewer = hub.token_for("alice")
        rounds = []
        for round_number in range(args.rounds):
            baseline = asyncio.run(plain_nbclient(workdir / pack.manifest.candidate.notebook, workdir, kernel_name))["total"]
            measured = one_round(hub, interviewer, submission, pack, round_number)
            rounds.append({**measured, "baseline": baseline})
            print(f"  round {round_number + 1}: stop {measured['stop']:.2f} s, End -> report {measured['report']:.2f} s, "
                  f"plain nbclient run + kernel start {baseline:.2f} s (load {load_average()})", flush=True)
        stop = max(r["stop"] for r in rounds)
        ratio = sorted(r["report"] / r["baseline"] for r in rounds)[len(rounds) // 2]
        print(f"stopping the candidate's server: {stop:.2f} s at most (target <= {STOP_TARGET_S:g} s): {'within' if stop <= STOP_TARGET_S else 'OVER'}")
        print(f"End -> report vs one plain nbclient run + kernel start: RATIO {ratio:.3f}x by median (target <= {REPORT_TARGET:g}x): "
              f"{'within' if ratio <= REPORT_TARGET else 'OVER'}")
    finally:
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

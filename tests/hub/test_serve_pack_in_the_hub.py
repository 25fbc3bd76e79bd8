"""The serve pack on the real hub, end to end. The candidate fixes the service in their confined
kernel, trains, and calls the real server on the kernel's own loopback over HTTP, as the starter
notebook shows. When the interviewer ends the interview, the hub's grader replays the work, starts
the same app in the replay's sandbox, and rates production from its hidden request suite, sent from
a client that joined the kernel's network namespace from outside.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx
import pytest

from hubtools import SERVICE, run_code, wait_for
from mlinterview.scenarios import load_pack
from mlinterview.scenarios.fixes import load_fixes, scaffold_with_fixes

pytestmark = pytest.mark.slow

SERVE_AND_ASK = """
import json, threading, urllib.request
from fareapi import pipeline, serve
predict = pipeline.fit_predictor(".", 11)
server = serve.make_server("127.0.0.1", 0, "artifacts")
threading.Thread(target=server.serve_forever, daemon=True).start()
request = urllib.request.Request(f"http://127.0.0.1:{server.server_address[1]}/predict", method="POST",
                                 data=json.dumps({"instances": [[5.0, 15.0, 18, 1, 1.2]]}).encode(),
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=30) as answer:
    asked = [answer.status, json.loads(answer.read())]
server.shutdown(); server.server_close()
asked
"""


def test_the_candidate_serves_in_the_kernel_and_the_hub_grades_the_service(hub):
    token = hub.token_for("alice")
    made = hub.create_interview(token, "Sam Serve", "serve")
    interview_id, candidate = made["interview"]["id"], made["interview"]["candidate_user"]
    hub.candidate_opens(made["invite_url"], candidate)
    candidate_token = hub.token_for(candidate)
    pack = load_pack("serve")
    with tempfile.TemporaryDirectory() as scratch:
        fixed = scaffold_with_fixes(pack, list(load_fixes(pack)), Path(scratch) / "fareapi")
        files = {path.name: path.read_text() for path in sorted(fixed.glob("*.py"))}

    # the candidate's edits, made from a cell (what an editor's save does to the files)
    kernel_id, reply = run_code(hub, candidate, candidate_token,
                                f"import pathlib\nfor name, text in {files!r}.items():\n    pathlib.Path('fareapi', name).write_text(text)")
    assert reply["status"] == "ok", reply
    _, reply = run_code(hub, candidate, candidate_token, SERVE_AND_ASK, kernel_id=kernel_id, timeout=300)
    assert reply["status"] == "ok", reply
    status, answer = reply["result"]
    assert status == 200 and len(answer["predictions"]) == 1 and answer["predictions"][0] > 0, reply["result"]

    ended = httpx.post(f"{hub.url}{SERVICE}interviews/{interview_id}/end", headers={"Authorization": f"token {token}"},
                       timeout=30, follow_redirects=False)
    assert ended.status_code == 302, ended.text
    report_path = hub.state / "private" / "reports" / interview_id / "report.json"
    wait_for(lambda: hub.service_api(token, "GET", f"interviews/{interview_id}").json()["state"] in ("graded", "grading_failed"),
             600, "the grading of the interview")
    report = json.loads(report_path.read_text())
    served = report["serving"]
    assert served["band"] == "very_strong", (served["observed"], served["failures"][:5], served["log_tail"])
    assert all(kind["right"] == kind["total"] > 0 for kind in served["kinds"].values())
    assert served["within_budget"] and served["served_rows"] > 0 and served["differs_from_notebook"] < 0.01
    production = report["rubric"]["signals"]["production"]
    assert production["band"] == "very_strong" and production["from"] == "request_suite"
    client = report["replays"]["top_to_bottom"]["grader_steps"]["serving"]["client"]
    assert "joined the kernel's net namespace" in client["notes"], client  # the grader's client came to the app, not the reverse
    assert report["replays"]["top_to_bottom"]["sandbox"]["network_isolated"] and report["replays"]["top_to_bottom"]["sandbox"]["loopback"]

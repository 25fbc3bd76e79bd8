"""The grader's serving capability (graders/serving.py): a candidate's app started in the replay's
sandbox, a hidden request suite sent from outside it, the production band rated from the answers.

A tiny serving pack (the tiny pack plus a ``[serving]`` table, an HTTP app in its scaffold and a
request suite in its private part) keeps these fast; what the app does is chosen by the
submission's notebook (it writes ``mode.txt``), as a candidate's code would. The serve pack's own
grading is in tests/scenarios/test_more_packs.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlinterview.graders import serving
from mlinterview.scenarios.pack import ScenarioPack
from mlinterview.scenarios.schema import Serving

APP = r'''
"""A tiny prediction service: POST /predict {"instances": [[x1, x2], ...]} -> {"predictions": [...]}."""
import json, math, os, socket, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = open("mode.txt").read().split() if os.path.exists("mode.txt") else ["good"]
if MODE[0] == "crash":
    raise SystemExit("the app refuses to start: no model")


def spy():
    """What the candidate's app can see from the sandbox: other processes, the host's loopback."""
    seen = []
    for pid in os.listdir("/proc"):
        try:
            seen.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode())
        except OSError:
            pass
    try:
        socket.create_connection(("127.0.0.1", int(MODE[1])), timeout=1).close()
        host = "reached"
    except OSError as error:
        host = type(error).__name__
    grader = any(word in line for line in seen for word in ("request_client", "pytest", "jupyter"))
    return {"error": "spy", "host": host, "grader_seen": grader, "processes": len(seen)}


def answer(content_type, body):
    if MODE[0] == "sloppy":
        return 200, {"predictions": [0.5]}
    if MODE[0] == "spy":
        return 500, spy()
    if (content_type or "").split(";")[0].strip() != "application/json":
        return 415, {"error": "unsupported_media_type"}
    try:
        data = json.loads(body)
    except ValueError:
        return 400, {"error": "invalid_json"}
    if not isinstance(data, dict):
        return 400, {"error": "not_an_object"}
    if "instances" not in data:
        return 400, {"error": "missing_instances"}
    rows = data["instances"]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and len(r) == 2 for r in rows):
        return 400, {"error": "wrong_shape"}
    if any(abs(v) > 3 for row in rows for v in row):
        return 422, {"error": "out_of_range"}
    if MODE[0] == "slow":
        time.sleep(0.2)
    return 200, {"predictions": [round(1 / (1 + math.exp(-2 * row[1])), 2) for row in rows]}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        if MODE[0] == "mute":  # takes the connection, answers nothing
            self.close_connection = True
            return
        status, payload = answer(self.headers.get("Content-Type"), self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


port = int(sys.argv[sys.argv.index("--port") + 1])
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''

SUITE = r'''
import json


def request_suite(holdout_features, candidate_data):
    rows = holdout_features[(holdout_features.x1.abs() < 2.5) & (holdout_features.x2.abs() < 2.5)].head(12)
    json_type = {"Content-Type": "application/json"}
    suite = []
    for kind, chunk in (("valid", rows.head(6)), ("concurrent", rows.tail(6))):
        for row in chunk.itertuples():
            suite.append({"name": f"{kind}-{row.row_id}", "kind": kind, "headers": json_type, "status": 200,
                          "body": json.dumps({"instances": [[row.x1, row.x2]]}), "rows": [str(row.row_id)]})
    suite += [
        {"name": "text-plain", "kind": "malformed", "headers": {"Content-Type": "text/plain"}, "body": "{}", "status": 415, "error": "unsupported_media_type"},
        {"name": "broken-json", "kind": "malformed", "headers": json_type, "body": "{", "status": 400, "error": "invalid_json"},
        {"name": "a-list", "kind": "malformed", "headers": json_type, "body": "[1, 2]", "status": 400, "error": "not_an_object"},
        {"name": "no-key", "kind": "malformed", "headers": json_type, "body": "{}", "status": 400, "error": "missing_instances"},
        {"name": "x2-far-out", "kind": "anomalous", "headers": json_type, "body": json.dumps({"instances": [[0, 9]]}), "status": 422, "error": "out_of_range"},
    ]
    return suite
'''

SERVING_TABLE = """
[serving]
command = ["{python}", "-m", "tinylab.serve", "--port", "{port}"]
latency_budget_ms = 100
round_digits = 2
concurrency = 4
startup_timeout_seconds = 20

[rubric.signals.production]
description = "Serves the model behind the contract."
very_weak = "the app does not answer"
weak = "answers, but breaks the contract"
strong = "keeps most of the contract in budget"
very_strong = "keeps the whole contract in budget"
"""


@pytest.fixture(scope="module")
def serving_pack(tmp_path_factory) -> ScenarioPack:
    folder = tmp_path_factory.mktemp("packs") / "tinyserve"
    shutil.copytree(Path(__file__).parent / "tinypack", folder)
    manifest = (folder / "scenario.toml").read_text().replace('id = "tinypack"', 'id = "tinyserve"')
    (folder / "scenario.toml").write_text(manifest.replace("[[bugs]]", SERVING_TABLE + "\n[[bugs]]", 1))
    (folder / "candidate" / "tinylab" / "serve.py").write_text(APP)
    (folder / "private" / "serving.py").write_text(SUITE)
    return ScenarioPack.from_folder(folder)


CELLS = ["import pandas as pd\nfrom tinylab import model", "train = pd.read_csv('data/train.csv')", "predict = model.fit(train)"]


def grade_mode(make_submission, grade, serving_pack, mode: str):
    cells = CELLS + [f"open('mode.txt', 'w').write({mode!r})"]
    report, _out = grade(make_submission(cells, pack=serving_pack), pack=serving_pack)
    return report


def test_an_app_that_keeps_the_contract_is_rated_very_strong(make_submission, grade, serving_pack):
    cells = CELLS + ["open('mode.txt', 'w').write('good')"]
    report, out = grade(make_submission(cells, pack=serving_pack), pack=serving_pack)
    section = report["serving"]
    assert section["kinds"] == {"valid": {"right": 6, "total": 6}, "malformed": {"right": 4, "total": 4},
                                "anomalous": {"right": 1, "total": 1}, "concurrent": {"right": 6, "total": 6}}, section["failures"]
    assert section["within_budget"] and section["p95_ms"] < 100 and section["served_rows"] == 12
    assert section["served_metric"] is not None and section["start"]["argv"][1:3] == ["-m", "tinylab.serve"]
    production = report["rubric"]["signals"]["production"]
    assert production["band"] == section["band"] == "very_strong" and production["from"] == "request_suite"
    assert "valid 6 of 6 right" in production["observed"]
    assert set(report["rubric"]["signals"]) == {"data_handling", "model_selection", "optimization", "evaluation", "production"}
    html = (out / "report.html").read_text()
    assert "<h2>Prediction service</h2>" in html and "6 of 6" in html and "-m tinylab.serve --port" in html


def test_an_app_that_answers_everything_with_200_breaks_the_contract(make_submission, grade, serving_pack):
    section = grade_mode(make_submission, grade, serving_pack, "sloppy")["serving"]
    assert section["kinds"]["malformed"]["right"] == 0 and section["kinds"]["anomalous"]["right"] == 0
    assert section["kinds"]["valid"]["right"] == 6  # one rounded number per row: right, if useless
    assert section["wrong"] == len(section["failures"]) == 5
    wrong = {failure["request"]: failure["got"] for failure in section["failures"]}
    assert wrong["text-plain"] == "answered 200, expected 415 unsupported_media_type"
    assert section["band"] == "weak"


def test_a_slow_app_is_over_the_latency_budget(make_submission, grade, serving_pack):
    section = grade_mode(make_submission, grade, serving_pack, "slow")["serving"]
    assert section["p95_ms"] > 100 and section["within_budget"] is False
    assert all(c["right"] == c["total"] for c in section["kinds"].values())
    assert section["band"] == "weak"


def test_an_app_that_does_not_start_is_very_weak_with_its_last_words(make_submission, grade, serving_pack):
    report = grade_mode(make_submission, grade, serving_pack, "crash")
    section = report["serving"]
    assert section["band"] == "very_weak" and not section["answered"]
    assert "exited with status 1" in section["problem"] and "the app refuses to start" in section["log_tail"]
    assert "exited with status 1" in report["rubric"]["signals"]["production"]["observed"]
    assert any("the prediction service" in problem for problem in report["verdict"]["problems"])


def test_an_app_that_takes_connections_but_never_answers_is_very_weak(make_submission, grade, serving_pack):
    section = grade_mode(make_submission, grade, serving_pack, "mute")["serving"]
    assert section["band"] == "very_weak" and not section["answered"] and section["start"]["listening"]
    assert section["problem"].startswith("the app took the connections but answered none of the 17 requests"), section["problem"]


def test_the_app_sees_neither_the_grader_nor_the_host(make_submission, grade, serving_pack):
    """The app runs in the kernel's sandbox: the request client's process is not in its world, and the
    machine's loopback (where the hub listens) is another network namespace's."""
    class Quiet(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

    host = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    try:
        # the notebook also plants links where the grader's start code writes the app's log and its port
        plant = ("import os\nos.makedirs('.grader-io', exist_ok=True)\n"
                 "os.symlink('/etc/passwd', '.grader-io/service.log'); os.symlink('/etc/passwd', '.grader-io/service.json')")
        cells = CELLS + [plant, f"open('mode.txt', 'w').write('spy {host.server_address[1]}')"]
        report, _out = grade(make_submission(cells, pack=serving_pack), pack=serving_pack)
    finally:
        host.shutdown()
    section = report["serving"]
    spied = [json.loads(failure["answer"]) for failure in section["failures"]]
    assert len(spied) == len(section["failures"]) > 0 and all(s["processes"] >= 1 for s in spied), section["failures"][:2]
    assert all(s["host"] != "reached" for s in spied), spied[0]
    assert not any(s["grader_seen"] for s in spied), spied[0]
    assert "root:x:0:0" not in section["log_tail"] and section["start"]["listening"]


def test_judging_rounding_and_named_errors():
    table = Serving(command=["{python}", "-m", "app", "--port", "{port}"], latency_budget_ms=20, round_digits=2)
    valid = {"name": "v", "kind": "valid", "status": 200, "error": None, "rows": ["1", "2"]}
    assert serving.judge_answer(table, valid, {"status": 200, "body": '{"predictions": [1.25, 3]}'})[0]
    right, why, _ = serving.judge_answer(table, valid, {"status": 200, "body": '{"predictions": [1.251, 3]}'})
    assert not right and "rounded to 2 decimals" in why
    assert "a 200 without a list of 2" in serving.judge_answer(table, valid, {"status": 200, "body": '{"predictions": [1]}'})[1]
    assert "not a finite number" in serving.judge_answer(table, valid, {"status": 200, "body": '{"predictions": [true, 1]}'})[1]
    named = {"name": "m", "kind": "malformed", "status": 400, "error": "not_an_object", "rows": []}
    assert serving.judge_answer(table, named, {"status": 400, "body": '{"error": "not_an_object"}'})[0]
    assert "expected the error named 'not_an_object'" in serving.judge_answer(table, named, {"status": 400, "body": '{"error": "bad"}'})[1]
    assert serving.judge_answer(table, named, {"status": None, "problem": "TimeoutError: timed out"})[1] == "TimeoutError: timed out"

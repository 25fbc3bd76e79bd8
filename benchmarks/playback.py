"""The playback of a 60-minute session: its record's size, opening the page, seeking.

    .venv/bin/python -P benchmarks/playback.py [--minutes 60] [--seeks 200]

A session is recorded by a real ``HistoryRecorder`` reading real files, on a simulated clock (the
recorder's time source advanced by the script), shaped like a working hour in a notebook:

* the notebook grows to 30 cells of 6 to 20 lines; an edit burst every 20 s, each saved the way
  jupyter-collaboration saves (about a second after the change), so 3 saves a minute;
* a cell run every 30 s, with its output, one in ten into an error;
* a scaffold file saved every 3 minutes, a few lines changed each time.

It prints the record's bytes per hour, then times, in the same run:

* building the playback's model (``extension/service_playback.py``) and its JSON, as the service's
  ``api/interviews/<id>/playback`` does per request;
* opening the page in Chromium (Playwright driving Debian's Chromium, headless) until it has drawn
  the first moment, against the target of 2 s; the page is the service's own template and script,
  served by a small tornado app here with the model's JSON, so no hub is needed;
* seeking to random moments (the hash link a reviewer clicks) until the next frame is drawn,
  against the target of 200 ms: p50, p95 and max.

The recording's cost on a cell's round trip is ``benchmarks/history_roundtrip.py --with-saves``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mlinterview.extension import history_recorder  # noqa: E402
from mlinterview.extension.history_recorder import HistoryRecorder  # noqa: E402
from mlinterview.extension.service_playback import playback_model  # noqa: E402
from mlinterview.history import read_events  # noqa: E402

REPO = HERE.parent
TEMPLATES = REPO / "extension" / "templates"
STATIC = REPO / "extension" / "static"


class Clock:
    def __init__(self, start: float):
        self.now = start

    def iso(self) -> str:
        return datetime.fromtimestamp(self.now, timezone.utc).isoformat(timespec="microseconds")


def cell_source(rng: random.Random, index: int) -> str:
    lines = [f"# step {index}: {rng.choice(['load', 'clean', 'encode', 'train', 'evaluate', 'plot'])}"]
    for line in range(rng.randint(6, 20)):
        lines.append(f"value_{index}_{line} = compute(df['{rng.choice('abcdefgh')}'], alpha={rng.random():.3f})")
    return "\n".join(lines)


def record_session(root: Path, history: Path, minutes: int, seed: int = 3) -> Path:
    rng = random.Random(seed)
    clock = Clock(time.time() - minutes * 60)
    history_recorder.utc_now = clock.iso  # the recorder's time source, simulated
    recorder = HistoryRecorder(history_dir=str(history), session_id="bench", owner="alice")
    recorder.start({"server": "benchmark"})
    recorder.document_presence("interview.ipynb", "alice", "join")
    cells: list[tuple[str, str]] = [("c0", "import pandas as pd")]
    scaffold = "\n".join(f"SETTING_{i} = {i}" for i in range(120)) + "\n"
    (root / "kit").mkdir(parents=True, exist_ok=True)
    runs = 0
    end = clock.now + minutes * 60
    next_run, next_file = clock.now + 30, clock.now + 180
    while clock.now < end:
        clock.now += 20
        # an edit burst: a new cell or a few lines changed in one, saved about a second later
        if len(cells) < 30 and rng.random() < 0.4:
            cells.append((f"c{len(cells)}", cell_source(rng, len(cells))))
        else:
            index = rng.randrange(len(cells))
            cell_id, source = cells[index]
            lines = source.splitlines()
            lines[rng.randrange(len(lines))] = f"tuned_{rng.randrange(10**6)} = {rng.random():.4f}"
            cells[index] = (cell_id, "\n".join(lines))
        for _ in range(3):
            clock.now += 1.0
            (root / "interview.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
                {"id": cid, "cell_type": "code", "source": src, "metadata": {}, "outputs": [], "execution_count": None} for cid, src in cells]}))
            recorder.file_saved(str(root), "interview.ipynb", {"type": "notebook"})
            index = rng.randrange(len(cells))
            cells[index] = (cells[index][0], cells[index][1] + f"\n# note {rng.randrange(1000)}")
        if clock.now >= next_run:
            next_run += 30
            runs += 1
            cell_id, source = rng.choice(cells)
            recorder.request(msg_id=f"m{runs}", kernel_id="k", owner="tab", user="alice", code=source, cell_id=cell_id)
            clock.now += rng.uniform(0.2, 8)
            error = rng.random() < 0.1
            recorder.reply(f"m{runs}", {"status": "error" if error else "ok", "execution_count": runs,
                                        **({"ename": "ValueError", "evalue": "shapes do not match"} if error else {})})
        if clock.now >= next_file:
            next_file += 180
            lines = scaffold.splitlines()
            for _ in range(3):
                lines[rng.randrange(len(lines))] = f"SETTING_{rng.randrange(500)} = {rng.random():.3f}"
            scaffold = "\n".join(lines) + "\n"
            (root / "kit" / "model.py").write_text(scaffold)
            recorder.file_saved(str(root), "kit/model.py", {"type": "file"})
    recorder.store.close()
    return recorder.path


def serve_page(model_json: bytes, port_holder: list, ready: threading.Event) -> None:
    """The service's playback template and script, with the model's JSON, on a loopback port."""
    import jinja2
    from tornado import httpserver, ioloop, netutil, web

    jinja = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)

    class Interview:
        id, candidate_name, scenario = "bench", "Bench Candidate", "churn"

    class Page(web.RequestHandler):
        def get(self):
            self.finish(jinja.get_template("playback.html").render(
                prefix="/", hub_prefix="/hub/", user=None, xsrf_token="x", static_url=lambda name: f"/static/{name}",
                interview=Interview, has_report=False, playback_config={"playback_url": "/model.json", "xsrf_token": "x"}))

    class Model(web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "application/json")
            self.finish(model_json)

    asyncio.set_event_loop(asyncio.new_event_loop())
    app = web.Application([("/", Page), ("/model.json", Model)], static_path=str(STATIC), log_function=lambda handler: None)
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    port_holder.append(sockets[0].getsockname()[1])
    server = httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    ready.set()
    ioloop.IOLoop.current().start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--seeks", type=int, default=200)
    parser.add_argument("--opens", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = record_session(tmp / "workspace", tmp / "history", args.minutes)
        events = read_events(path)
        size = path.stat().st_size
        print(f"session: {args.minutes} min, {len(events)} events "
              f"({sum(e['kind'] == 'notebook_saved' for e in events)} notebook saves, {sum(e['kind'] == 'execute_request' for e in events)} runs, "
              f"{sum(e['kind'] == 'file_saved' for e in events)} file saves)")
        print(f"record: {size / 1024:.0f} KiB, {size / 1024 / 1024 * 60 / args.minutes:.2f} MiB per hour")
        builds = []
        for _ in range(5):
            started = time.perf_counter()
            body = json.dumps(playback_model(events, []), separators=(",", ":")).encode()
            builds.append(time.perf_counter() - started)
        print(f"model: {len(body) / 1024:.0f} KiB of JSON, built in {statistics.median(builds) * 1000:.0f} ms (median of 5)")

        port: list = []
        ready = threading.Event()
        threading.Thread(target=serve_page, args=(body, port, ready), daemon=True).start()
        ready.wait(10)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            opens = []
            for _ in range(args.opens):
                page = chromium.new_page(viewport={"width": 1500, "height": 1000})
                started = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port[0]}/")
                page.wait_for_selector("body[data-playback-ready='1']", timeout=30_000)
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
                opens.append(time.perf_counter() - started)
                page.close()
            page = chromium.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(f"http://127.0.0.1:{port[0]}/")
            page.wait_for_selector("body[data-playback-ready='1']", timeout=30_000)
            rng = random.Random(5)
            seeks = []
            for _ in range(args.seeks):
                moment = rng.uniform(0, args.minutes * 60)
                seeks.append(page.evaluate("""(t) => new Promise(resolve => {
                    const started = performance.now();
                    window.location.hash = 't=' + t.toFixed(1);
                    requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - started)));
                })""", moment) / 1000)
            cells = page.locator("#notebook-cells .pb-cell").count()
            chromium.close()
        opens.sort()
        seeks.sort()
        worst = opens[-1] + max(builds)  # the service builds the model per request, then the page draws it
        print(f"open (the model built, the page loaded, the first moment drawn): median {(statistics.median(opens) + statistics.median(builds)) * 1000:.0f} ms, "
              f"worst {worst * 1000:.0f} ms (n={len(opens)}); target <= 2000 ms: {'within' if worst <= 2 else 'OVER'} ({worst / 2:.2f}x of the target)")
        p95 = seeks[int(len(seeks) * 0.95) - 1]
        print(f"seek (hash link to the next frame drawn, {cells} cells shown at the last): p50 {statistics.median(seeks) * 1000:.1f} ms, "
              f"p95 {p95 * 1000:.1f} ms, max {seeks[-1] * 1000:.1f} ms (n={len(seeks)}); target <= 200 ms: "
              f"{'within' if seeks[-1] <= 0.2 else 'OVER'} ({seeks[-1] / 0.2:.2f}x of the target)")


if __name__ == "__main__":
    main()

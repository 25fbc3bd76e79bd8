"""1,000 trivial cells through a real jupyter-server's kernel websocket, with the cell-history
extension recording vs a server without it, in the same run.

    .venv/bin/python benchmarks/history_roundtrip.py [--cells 1000] [--batch 50]

Three real ``jupyter server`` processes (tests/extension/browser.py), one mlinterview-cpu kernel
each, the same JupyterLab-like websocket client (v1 protocol, cellId metadata):

* recorded: the extension loaded, ``HistoryRecordingConnection`` recording every cell;
* baseline: the extension not loaded, the same connection class (it then only forwards, with
  TCP_NODELAY like the recorded one): the like-for-like "without the extension";
* stock: jupyter-server's own ``ZMQChannelsWebsocketConnection`` (no TCP_NODELAY: replies can
  wait ~40 ms for the client's delayed ACK), for context.

Batches of cells rotate between the servers so machine noise hits all alike; each cell is timed
from sending the execute_request to having both the reply and the kernel's idle status, as a
browser waits. Prints the ratio of the medians, recorded vs baseline; target <= 1.05x.

``--with-saves``: while its cells run, each server also gets a 30-cell notebook saved through its
contents API four times a second with one cell changed (jupyter-collaboration saves a notebook
being edited about once a second: this is four times as hard); the recorded server records each save (``notebook_saved``) on the same event loop that
forwards the cells, so this measures the edit recording's cost on a cell's round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "extension"))
sys.path.insert(0, str(HERE))  # timing.py (python -P leaves the script's folder off the path)

from browser import JupyterServer, KernelSocket  # noqa: E402
from timing import ratio_line, summary  # noqa: E402
from workspace_factory import make_workspace  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (Linux /proc): the server's own work, whatever the machine's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def time_cells(socket: KernelSocket, count: int, offset: int) -> list[float]:
    timings = []
    for i in range(count):
        started = time.perf_counter()
        result = await socket.execute(f"x = {offset + i}", cell_id=f"cell-{offset + i}")
        timings.append(time.perf_counter() - started)
        assert result["reply"]["status"] == "ok"
    return timings


SAVE_PERIOD = 0.25


def saved_notebook(change: int) -> dict:
    cells = [{"id": f"c{i}", "cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": "\n".join(f"value_{i}_{line} = compute(df, alpha={line / 10})" for line in range(12))} for i in range(30)]
    cells[change % 30]["source"] += f"\n# edit {change}"
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


SAVES = itertools.count(1)  # every save has a change of its own, across batches and servers


async def keep_saving(server, stop: asyncio.Event, period: float) -> None:
    while not stop.is_set():
        change = next(SAVES)
        await server.api("PUT", "/api/contents/edited.ipynb", {"type": "notebook", "content": saved_notebook(change)})
        try:
            await asyncio.wait_for(stop.wait(), period)
        except asyncio.TimeoutError:
            pass


async def run(cells: int, batch: int, with_saves: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        workspace = make_workspace(tmp / "workspace")
        servers = {
            "recorded": JupyterServer(workspace, tmp / "recorded", history_dir=tmp / "history", record=True),
            "baseline": JupyterServer(workspace, tmp / "baseline", history_dir=tmp / "unused", record=False,
                                      connection_class=JupyterServer.RECORDING_CONNECTION),
            "stock": JupyterServer(workspace, tmp / "stock", history_dir=tmp / "unused", record=False),
        }
        try:
            sockets = {}
            for name, server in servers.items():
                server.start()
                kernel_id = await server.open_notebook()
                sockets[name] = await KernelSocket(server, kernel_id).connect()
                await time_cells(sockets[name], 20, 0)  # warm-up (first cell shows the panel)
            timings: dict[str, list[float]] = {name: [] for name in servers}
            cpu = {name: 0.0 for name in servers}
            order = list(servers)
            done = 0
            while done < cells:
                for name in order:
                    before = cpu_seconds(servers[name].process.pid)
                    stop = asyncio.Event()
                    saver = asyncio.create_task(keep_saving(servers[name], stop, SAVE_PERIOD)) if with_saves else None
                    timings[name] += await time_cells(sockets[name], batch, 1000 + done)
                    if saver is not None:
                        stop.set()
                        await saver
                    cpu[name] += cpu_seconds(servers[name].process.pid) - before
                order = order[1:] + order[:1]
                done += batch
            recorded = servers["recorded"]
            events = await recorded.history()
            replies = sum(1 for e in events if e["kind"] == "execute_reply")
            saves = sum(1 for e in events if e["kind"] == "notebook_saved")
            print(f"recorded server wrote {len(events)} events ({replies} replies, {saves} notebook saves) to {len(list((tmp / 'history').glob('*.jsonl')))} file")
            print(summary("round trip, stock jupyter-server", timings["stock"]))
            print(summary("round trip, without the extension", timings["baseline"]))
            print(summary("round trip, with the extension", timings["recorded"]))
            print(ratio_line("history extension overhead", timings["recorded"], timings["baseline"], 1.05))
            per_cell = {name: cpu[name] / cells * 1000 for name in servers}
            print("server CPU per cell (load-independent): " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_cell.items())
                  + f"; recording adds {per_cell['recorded'] - per_cell['baseline']:.2f} ms")
            for socket in sockets.values():
                await socket.close()
        finally:
            for server in servers.values():
                server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000, help="cells per server")
    parser.add_argument("--batch", type=int, default=50, help="cells per alternation")
    parser.add_argument("--with-saves", action="store_true", help="a notebook saved once a second meanwhile (edit recording)")
    args = parser.parse_args()
    asyncio.run(run(args.cells, args.batch, args.with_saves))


if __name__ == "__main__":
    main()

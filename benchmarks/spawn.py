"""Spawn: a candidate's server up to a ready interview kernel vs a plain spawn plus a bare kernel, same run.

    .venv/bin/python benchmarks/spawn.py [--rounds 5] [--scenario churn]

Two real hubs (hub, proxy, interview service; ``tests/hub/hubtools.py``) on free loopback ports:

- interview: the embedded default configuration. Each round creates an interview, then the
  clock runs from the spawn request (hub API) through the interview spawner (scenario
  materialized into a fresh workspace, kernelspec and settings applied, recorded kernel
  websocket) to the end of the first cell in the notebook's mlinterview-cpu kernel, opened as
  JupyterLab opens it (a session on the notebook's path: the server starts that kernel with
  itself, ``extension/notebook_session.py``); the cell asserts the scaffold package is already
  imported (the kernel's extension imports it at start).
- plain: the same hub configuration with JupyterHub's own ``SimpleLocalProcessSpawner`` for a
  fresh user; the clock runs from the spawn request to the end of the first cell (``pass``) of a
  bare ``python3`` kernel.

Rounds alternate the order; prints server-ready and kernel-ready parts and the ratio of the
medians of the totals, aim 1.2x. A reference line also counts, on the plain side, the import of
the libraries every scaffold needs (numpy, pandas, torch) in the same bare kernel: the part of
the gap a scenario cannot avoid. Needs ``make setup`` (the proxy in node_modules/).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "hub"))
sys.path.insert(0, str(HERE))

import hubtools  # noqa: E402
from hubtools import RunningHub, run_code, wait_for  # noqa: E402
from timing import ratio_line, summary  # noqa: E402

from mlinterview.scenarios.pack import default_scenarios_dir, list_packs  # noqa: E402

# what every pack's scaffold imports; the reference line below adds its cost to the plain spawn
SCAFFOLD_LIBRARIES = "import numpy, pandas, torch"
PLAIN_SPAWNER_CONFIG = """\
# the hub tests' configuration with JupyterHub's own spawner: no scenario, no kernel choice
load_subconfig({test_config!r})  # noqa: F821
c = get_config()  # noqa: F821
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
import os  # noqa: E402
if os.geteuid() == 0:  # the baseline is JupyterHub's plain spawner, which runs servers as the hub's user
    c.Spawner.args = ["--allow-root"]
"""


def start_hub(root: Path, config_file: Path | None = None) -> RunningHub:
    """A started hub; ``config_file`` replaces the hub tests' configuration file for this hub."""
    return RunningHub(root, default_scenarios_dir(), config_file=config_file or hubtools.TEST_CONFIG).start(timeout=120)


def time_spawn_to_first_cell(hub: RunningHub, user: str, first_cell: str) -> tuple[float, float, str]:
    """(seconds until the hub says the server is ready, seconds more until the first cell is done, kernel id)."""
    started = time.perf_counter()
    response = hub.api("POST", f"users/{user}/server")
    assert response.status_code in (201, 202), (user, response.status_code, response.text)
    wait_for(lambda: hub.server_ready(user), 180, f"{user}'s server", interval=0.05)
    server_ready = time.perf_counter()
    kernel_id, reply = run_code(hub, user, hub.admin_token, first_cell)
    done = time.perf_counter()
    assert reply["status"] == "ok", reply
    return server_ready - started, done - server_ready, kernel_id


def stop_server(hub: RunningHub, user: str) -> None:
    hub.api("DELETE", f"users/{user}/server")
    wait_for(lambda: not hub.api("GET", f"users/{user}").json()["servers"], 60, f"{user}'s server to stop")


def interview_round(hub: RunningHub, interviewer_token: str, scenario: str, round_number: int) -> tuple[float, float]:
    made = hub.create_interview(interviewer_token, f"Benchmark Candidate {round_number}", scenario)
    user = made["interview"]["candidate_user"]
    created = hub.api("POST", f"users/{user}")
    assert created.status_code == 201, created.text
    from mlinterview.scenarios.pack import load_pack

    scaffold = load_pack(scenario, default_scenarios_dir()).scaffold_name
    first_cell = f"import sys\nassert {scaffold!r} in sys.modules, 'the scaffold is not imported'"
    server_s, kernel_s, _ = time_spawn_to_first_cell(hub, user, first_cell)
    settings = json.loads((hub.state / "workspaces" / user / ".mlinterview" / "workspace.json").read_text())
    assert settings["scenario"] == scenario
    stop_server(hub, user)
    return server_s, kernel_s


def plain_round(hub: RunningHub, round_number: int) -> tuple[float, float, float]:
    """(server ready, first cell done, then seconds to import the libraries a scaffold needs)."""
    user = f"plain-{round_number}-{os.getpid()}"
    created = hub.api("POST", f"users/{user}")
    assert created.status_code == 201, created.text
    server_s, kernel_s, kernel_id = time_spawn_to_first_cell(hub, user, "pass")
    started = time.perf_counter()
    _, reply = run_code(hub, user, hub.admin_token, SCAFFOLD_LIBRARIES, kernel_id=kernel_id)
    libraries_s = time.perf_counter() - started
    assert reply["status"] == "ok", reply
    stop_server(hub, user)
    return server_s, kernel_s, libraries_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", default="")
    args = parser.parse_args()
    packs = list_packs(default_scenarios_dir())
    scenario = args.scenario or ("churn" if "churn" in packs else packs[0])
    with tempfile.TemporaryDirectory(prefix="mlinterview-spawn-") as tmp:
        root = Path(tmp)
        plain_config = root / "plain_spawner_config.py"
        plain_config.write_text(PLAIN_SPAWNER_CONFIG.format(test_config=str(hubtools.TEST_CONFIG)))
        (root / "interview").mkdir()
        (root / "plain").mkdir()
        hubs = []
        try:
            interview_hub = start_hub(root / "interview")
            hubs.append(interview_hub)
            plain_hub = start_hub(root / "plain", plain_config)
            hubs.append(plain_hub)
            token = interview_hub.token_for("alice")
            # warm the file cache (python, torch, jupyterlab) for both; not counted
            interview_round(interview_hub, token, scenario, -1)
            plain_round(plain_hub, -1)
            measured: dict[str, list[tuple[float, ...]]] = {"interview": [], "plain": []}
            for round_number in range(args.rounds):
                pair = [("plain", lambda n=round_number: plain_round(plain_hub, n)),
                        ("interview", lambda n=round_number: interview_round(interview_hub, token, scenario, n))]
                for label, run in pair if round_number % 2 == 0 else reversed(pair):
                    measured[label].append(run())
        finally:
            for hub in hubs:
                hub.stop()
    plain = [server + kernel for server, kernel, _ in measured["plain"]]
    plain_with_libraries = [sum(timings) for timings in measured["plain"]]
    interview = [server + kernel for server, kernel in measured["interview"]]
    for label, title in (("plain", "plain spawn + bare python3"), ("interview", f"interview spawn ({scenario})")):
        print(summary(f"{title}: server ready", [timings[0] for timings in measured[label]], "s", 1.0))
        print(summary(f"{title}: first cell done", [timings[1] for timings in measured[label]], "s", 1.0))
    print(summary("plain spawn + bare python3: total", plain, "s", 1.0))
    print(summary(f"interview spawn ({scenario}): total", interview, "s", 1.0))
    print(summary(f"reference: plain + {SCAFFOLD_LIBRARIES}", plain_with_libraries, "s", 1.0))
    print(ratio_line("spawn to ready kernel", interview, plain, 1.2))
    print(ratio_line(f"(reference) vs plain spawn + {SCAFFOLD_LIBRARIES}", interview, plain_with_libraries, 1.2))


if __name__ == "__main__":
    main()

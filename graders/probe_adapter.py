"""Bug-probe verdicts for the report, through ``scenarios/probe_runner.py`` (the pack tooling's runner).

The probes themselves live in each pack's private part and run in a subprocess of their own
(``scenarios/probe_runner.py`` decides how); this adapter only turns the runner's answer into the
report's shape: ``{bug_id: {"fixed": bool, "message": str}}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..scenarios.pack import ScenarioPack


def probe_with_pack_tools(pack: ScenarioPack, scaffold: Path, hidden: list[str] = ()) -> dict[str, dict[str, Any]]:
    from ..scenarios.probe_runner import ProbeRunner

    verdicts = ProbeRunner(hidden_paths=list(hidden)).run(pack, scaffold)
    return {
        bug_id: {"fixed": verdict.fixed, "status": verdict.status, "message": verdict.detail}
        for bug_id, verdict in verdicts.items()
    }

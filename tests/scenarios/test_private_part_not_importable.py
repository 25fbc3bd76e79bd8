"""The private part of a pack cannot be imported from a kernel started the way candidate kernels are.

A real kernel (``mlinterview-cpu`` when installed, else ``python3``) runs with its working directory
in a materialized workspace, like a candidate's. It tries the obvious imports and walks the whole
``mlinterview`` package for anything that looks like a pack's private part.
"""

from __future__ import annotations

import json
import os

import pytest
from jupyter_client.manager import KernelManager

from mlinterview.scenarios import materialize

ATTEMPTS = [
    "mlinterview.scenarios.churn",
    "mlinterview.scenarios.churn.private",
    "mlinterview.scenarios.churn.private.generator",
    "mlinterview.scenarios.churn.private.probes",
    "mlinterview.scenarios.churn.private.reference",
    "mlinterview.scenarios.churn.private.reference.pipeline",
    "mlinterview.scenarios.churn.candidate",
    "mlinterview.churn",
    "scenarios",
    "scenarios.churn.private.generator",
    "churn",
    "private",
    "generator",
    "probes",
    "reference",
    "_mlinterview_private",
    "_mlinterview_private.churn.generator",
]

SPY = """
import importlib, importlib.resources, importlib.util, json, pkgutil, sys
report = {"imported": [], "walk": [], "origins": [], "resources": [], "modules": [], "scaffold": None}
for name in %(attempts)r:
    try:
        importlib.import_module(name)
        report["imported"].append(name)
    except ImportError:
        pass
import mlinterview
words = ("private", "reference", "generator", "churn", "candidate")
for info in pkgutil.walk_packages(mlinterview.__path__, "mlinterview.", onerror=lambda name: None):
    if any(word in info.name for word in words) or (info.name.startswith("mlinterview.scenarios.") and "probes" in info.name):
        report["walk"].append(info.name)
    spec = importlib.util.find_spec(info.name)
    origin = (spec.origin or "") if spec else ""
    if "/private/" in origin or "/candidate/" in origin or "/reference/" in origin:
        report["origins"].append(origin)
report["resources"] = sorted(path.name for path in importlib.resources.files("mlinterview.scenarios").iterdir())
report["modules"] = sorted(
    name for name in sys.modules
    if "private" in name or name.split(".")[0] in ("generator", "probes", "reference", "scenarios", "churn")
)
import churnlab
report["scaffold"] = churnlab.__file__
print("SPY-REPORT" + json.dumps(report))
"""


def _run_in_kernel(kernel_name: str, cwd, code: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLINTERVIEW_")}
    manager = KernelManager(kernel_name=kernel_name)
    manager.start_kernel(cwd=str(cwd), env=env)
    client = manager.client()
    client.start_channels()
    chunks: list[str] = []
    try:
        client.wait_for_ready(timeout=120)

        def collect(message):
            if message["msg_type"] == "stream":
                chunks.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                chunks.append("\n".join(message["content"]["traceback"]))

        reply = client.execute_interactive(code, timeout=120, output_hook=collect)
        assert reply["content"]["status"] == "ok", "".join(chunks)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(chunks)


@pytest.mark.slow
def test_private_part_is_not_importable_from_a_candidate_kernel(churn_pack, candidate_kernel_name, tmp_path):
    workspace = materialize(churn_pack, tmp_path / "workspace")
    output = _run_in_kernel(candidate_kernel_name, workspace, SPY % {"attempts": ATTEMPTS})
    line = next(line for line in output.splitlines() if line.startswith("SPY-REPORT"))
    report = json.loads(line[len("SPY-REPORT"):])
    assert report["scaffold"].startswith(str(workspace)), "the kernel must run in the workspace (it imports the scaffold)"
    assert report["imported"] == [], f"importable from a candidate kernel: {report['imported']}"
    assert report["walk"] == [], f"found walking mlinterview: {report['walk']}"
    assert report["origins"] == [], f"modules loaded from a pack folder: {report['origins']}"
    assert not {"churn", "private", "demand", "digits", "text", "merge", "serve"} & set(report["resources"]), report["resources"]
    assert report["modules"] == [], f"private modules in the kernel: {report['modules']}"

"""The bug probes import the candidate's scaffold: that code runs only inside the sandbox, without
the holdout seed or a private path in its environment or arguments, and nothing it starts outlives
the probe run."""

from __future__ import annotations

import ast
import json
import os
import shutil
import time

import psutil

from mlinterview.scenarios.probe_runner import ProbeRunner

MARKER = "mlinterview-probe-spy-7d1f"
SPY = f'''
import json, os, subprocess, sys
found = {{}}
found["seed_in_env"] = sorted(k for k in os.environ if "HOLDOUT" in k.upper())
found["cmdline"] = open("/proc/self/cmdline", "rb").read().decode(errors="replace")
private = os.environ.get("SPY_PRIVATE", "") or {{private!r}}
try:
    found["private_listing"] = sorted(os.listdir(private))
except OSError as error:
    found["private_listing"] = str(error)
try:
    with open("/var/tmp/{MARKER}.txt", "w") as handle:
        handle.write("escaped")
    found["wrote_outside"] = True
except OSError:
    found["wrote_outside"] = False
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{MARKER}"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
FEATURES = ["x1", json.dumps(found)]
'''


def spies():
    return [p for p in psutil.process_iter(["cmdline"]) if MARKER in " ".join(p.info["cmdline"] or [])]


def test_scaffold_code_run_by_a_probe_is_confined(tiny_pack, tmp_path, monkeypatch):
    monkeypatch.setenv("MLINTERVIEW_HOLDOUT_SEED", "424242")
    scaffold = tmp_path / "submission" / tiny_pack.scaffold_name
    shutil.copytree(tiny_pack.scaffold_dir, scaffold)
    (scaffold / "features.py").write_text(SPY.replace("{private!r}", repr(str(tiny_pack.private_dir))))
    (scaffold / "seed_link.txt").symlink_to(tiny_pack.private_dir / "probes.py")
    assert not spies()
    verdict = ProbeRunner().run(tiny_pack, scaffold, ["drops_signal"])["drops_signal"]
    assert verdict.status == "not_fixed", verdict
    found = json.loads(ast.literal_eval(verdict.detail.split("FEATURES is ", 1)[1])[1])
    assert found["seed_in_env"] == []
    assert str(tiny_pack.private_dir) not in found["cmdline"]
    assert found["private_listing"] in ([],) or "No such file" in str(found["private_listing"]), found["private_listing"]
    assert found["wrote_outside"] is False and not os.path.exists(f"/var/tmp/{MARKER}.txt")
    deadline = time.monotonic() + 5
    while spies() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not spies(), "a process the scaffold detached outlived the probe run"

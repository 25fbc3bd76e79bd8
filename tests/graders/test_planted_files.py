"""What a hostile candidate plants for the grader (run as root, through the real grader).

- links to the holdout seed and the pack's generator, a FIFO, a hard link to a private file and
  a link to a root-only decoy inside the scaffold: left out, listed, never read, AP not inflated;
- two submissions graded at the same time, one reaching for the other's kernel through
  ``/proc/<pid>/cwd``: it finds nothing, writes nothing;
- a process a replay detaches from its kernel does not outlive the replay.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import psutil
import pytest

from conftest import HOLDOUT_SEED, TINY_OK_CELLS

from mlinterview.graders.batch import BatchJob, grade_batch

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="the attacks target a grader running as root")]

# Rebuilds the holdout labels from the planted links when they are followed: AUC 1.0 then.
CHEAT = """
import importlib.util, pathlib
import numpy as np
try:
    seed = int(pathlib.Path('tinylab/_s.txt').read_text())
    spec = importlib.util.spec_from_file_location('planted_generator', 'tinylab/_g.py')
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    features, labels = generator.make_holdout(seed)
    truth = dict(zip(features['row_id'], labels))
    predict = lambda frame: np.array([truth.get(i, 0.5) for i in frame['row_id']], float)
    print('CHEAT ARMED')
except Exception as error:
    print('CHEAT FAILED', type(error).__name__)
"""


def texts_of(out):
    return {path.name: path.read_text(errors="replace") for path in out.iterdir() if path.suffix in (".json", ".html", ".ipynb")}


def test_planted_links_fifo_and_hard_link_are_left_out_and_never_read(make_submission, grade, tiny_pack, tmp_path, monkeypatch):
    canary, decoy_text = f"CANARY-{secrets.token_hex(8)}", f"SHADOW-{secrets.token_hex(8)}"
    store = tmp_path / "private-store"
    store.mkdir(mode=0o700)
    seed_file = store / "holdout-seed"
    seed_file.write_text(str(HOLDOUT_SEED))
    monkeypatch.setenv("MLINTERVIEW_HOLDOUT_SEED_FILE", str(seed_file))
    decoy = tmp_path / "shadow"  # stands in for /etc/shadow: root only
    decoy.write_text(decoy_text)
    decoy.chmod(0o600)
    private_canary = tiny_pack.private_dir / f"canary-{canary}.txt"
    private_canary.write_text(canary)
    try:
        folder = make_submission([*TINY_OK_CELLS, CHEAT])
        scaffold = folder / "tinylab"
        (scaffold / "_s.txt").symlink_to(seed_file)
        (scaffold / "_g.py").symlink_to(tiny_pack.private_dir / "generator.py")
        (scaffold / "_d.txt").symlink_to(decoy)
        os.mkfifo(scaffold / "_f.txt")
        os.link(private_canary, scaffold / "_h.txt")
        (folder / "notes.txt").symlink_to(seed_file)

        started = time.monotonic()
        report, out = grade(folder)
        assert time.monotonic() - started < 120, "the FIFO must not block the grader"
    finally:
        private_canary.unlink()

    left_out = {entry["path"]: entry["why"] for entry in report["submission"]["left_out"]}
    assert left_out["tinylab/_s.txt"] == f"a symlink to {seed_file}"
    assert left_out["tinylab/_g.py"] == f"a symlink to {tiny_pack.private_dir / 'generator.py'}"
    assert left_out["tinylab/_d.txt"].startswith("a symlink")
    assert left_out["tinylab/_f.txt"] == "a FIFO"
    assert left_out["tinylab/_h.txt"].startswith("a hard link (2 names")
    assert left_out["notes.txt"].startswith("a symlink")
    assert f"left out: tinylab/_s.txt, a symlink to {seed_file}" in report["submission"]["notes"]
    assert any("links or special files, left out" in flag for flag in report["integrity"]["flags"])

    replayed = (out / "replay-top-to-bottom.ipynb").read_text()
    assert "CHEAT FAILED" in replayed and "CHEAT ARMED\\n" not in replayed
    assert report["verdict"]["status"] == "graded", report["verdict"]
    assert report["holdout"]["value"] < 0.95  # the honest model's AUC; the rebuilt labels would give 1.0
    # the scaffold diff embeds regular files only: none of the planted names, none of their contents
    assert {entry["file"] for entry in report["scaffold"]["files"]}.isdisjoint({"_s.txt", "_g.py", "_d.txt", "_f.txt", "_h.txt"})
    for name, text in texts_of(out).items():
        for secret in (canary, decoy_text, "def make_holdout", str(HOLDOUT_SEED)):
            assert secret not in text, f"{secret} leaked into {name}"
    assert "left out: tinylab/_f.txt, a FIFO" in (out / "report.html").read_text()


ATTACKER = """
import os, time, pathlib
print('WINDOW START', time.time())
seen, wrote, errors = set(), 0, set()
mine = os.path.realpath(os.getcwd())
deadline = time.time() + 14
while time.time() < deadline:
    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
        try:
            cwd = os.readlink(f'/proc/{pid}/cwd')
        except OSError as error:
            errors.add(type(error).__name__)
            continue
        if cwd == mine or not os.path.isdir(f'/proc/{pid}/cwd/tinylab'):
            continue
        seen.add(cwd)
        try:
            pathlib.Path(f'/proc/{pid}/cwd/planted-by-attacker.txt').write_text('x')
            with open(f'/proc/{pid}/cwd/tinylab/__init__.py', 'a') as handle:
                handle.write('\\nATTACKED = True\\n')
            wrote += 1
        except OSError as error:
            errors.add(type(error).__name__)
    for copy in pathlib.Path('/tmp').glob('mlinterview-grade-*/*/work'):
        if os.path.realpath(copy) != mine:
            seen.add(str(copy))
    time.sleep(0.5)
print('WINDOW END', time.time())
print('ATTACK SAW', len(seen), 'WROTE', wrote, 'ERRORS', sorted(errors))
"""

VICTIM = """
import time, pathlib
print('WINDOW START', time.time())
time.sleep(18)  # under the pack's 20 s training budget, over the attacker's window
print('WINDOW END', time.time())
planted = sorted(p.name for p in pathlib.Path('.').iterdir() if p.name.startswith('planted'))
print('VICTIM PLANTED', planted, 'ATTACKED', 'ATTACKED' in pathlib.Path('tinylab/__init__.py').read_text())
"""


def window(replayed: str) -> tuple[float, float]:
    def after(word):
        return float(replayed.split(word, 1)[1].split("\\n", 1)[0])
    return after("WINDOW START "), after("WINDOW END ")


def test_concurrent_replays_cannot_reach_each_other_through_proc(make_submission, tiny_pack, tmp_path):
    attacker = make_submission([*TINY_OK_CELLS, ATTACKER])
    victim = make_submission([*TINY_OK_CELLS, VICTIM])
    jobs = [BatchJob(attacker, "tinypack", tmp_path / "out-attacker"), BatchJob(victim, "tinypack", tmp_path / "out-victim")]
    options = ["--kernel", "python3", "--cell-timeout", "90", "--total-timeout", "240"]
    results = dict((job.submission.name, report) for job, report in grade_batch(
        jobs, HOLDOUT_SEED, workers=2, scenarios_dir=tiny_pack.private_dir.parent.parent, extra_args=options, timeout_s=600,
    ))
    attacked = (tmp_path / "out-attacker" / "replay-top-to-bottom.ipynb").read_text()
    suffered = (tmp_path / "out-victim" / "replay-top-to-bottom.ipynb").read_text()
    # both kernels really ran at the same time
    (a_start, a_end), (v_start, v_end) = window(attacked), window(suffered)
    assert a_start < v_end and v_start < a_end, ((a_start, a_end), (v_start, v_end))
    assert "ATTACK SAW 0 WROTE 0" in attacked, attacked[-3000:]
    assert "VICTIM PLANTED [] ATTACKED False" in suffered
    for name, report in results.items():
        assert report["verdict"]["status"] == "graded", (name, report["verdict"])
        assert report["holdout"]["value"] is not None
        sandbox = report["replays"]["top_to_bottom"]["sandbox"]
        assert sandbox["pid_namespace"] and sandbox["user"].startswith("uid "), sandbox
        assert report["confinement"] == {"complete": True, "gaps": []}
    uids = {report["replays"]["top_to_bottom"]["sandbox"]["user"] for report in results.values()}
    assert len(uids) == 2 and "uid 0" not in uids, uids


def test_a_detached_process_does_not_outlive_its_replay(make_submission, grade):
    token = f"DETACHED-{secrets.token_hex(6)}"
    detach = (
        "import os, subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(900)', {token!r}], start_new_session=True,\n"
        "                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(900)', {token!r}])\n"
        "    os._exit(0)\n"
        "print('DETACHED')"
    )
    report, out = grade(make_submission([*TINY_OK_CELLS, detach]))
    assert "DETACHED" in (out / "replay-top-to-bottom.ipynb").read_text()
    assert report["holdout"]["value"] is not None
    survivors = [p.pid for p in psutil.process_iter(["cmdline"]) if token in (p.info.get("cmdline") or [])]
    assert survivors == [], f"processes left by the replay: {survivors}"


def test_a_kernel_without_a_user_of_its_own_is_said_at_the_top_of_the_report(make_submission, grade, monkeypatch, tmp_path):
    # no candidate runtime: the only interpreter is inside root's home, so the kernel stays root
    monkeypatch.setenv("MLINTERVIEW_CANDIDATE_RUNTIME", str(tmp_path / "no-runtime"))
    report, out = grade(make_submission())
    assert report["replays"]["top_to_bottom"]["sandbox"]["user"] == "same as grader"
    assert report["confinement"]["complete"] is False
    assert any("ran as the grader's own user" in gap and "no candidate runtime" in gap for gap in report["confinement"]["gaps"])
    page = (out / "report.html").read_text()
    assert page.index("not fully confined") < page.index("Holdout metric")


def test_a_grader_installed_under_tmp_still_replays_and_says_the_kernel_shared_tmp(make_submission, grade, monkeypatch):
    """A checkout under /tmp without the candidate runtime: the kernel's interpreter is the grader's
    own, under /tmp, which a private /tmp would hide (the kernel died before it answered). The
    replay runs, and the report names the shared /tmp among the confinement gaps."""
    import shutil
    import sys
    import tempfile

    checkout = Path(tempfile.mkdtemp(prefix="mlinterview-checkout-", dir="/tmp"))
    try:
        monkeypatch.setenv("MLINTERVIEW_CANDIDATE_RUNTIME", str(checkout / "no-runtime"))
        venv = checkout / ".venv"
        venv.symlink_to(sys.prefix)  # the grader's environment, reached through a path under /tmp
        monkeypatch.setattr(sys, "executable", str(venv / "bin" / Path(sys.executable).name))
        report, out = grade(make_submission())
        top = report["replays"]["top_to_bottom"]
        assert top["sandbox"].get("user") == "same as grader", json.dumps(top, default=str)[:3000]
        assert report["holdout"]["value"] is not None, report["holdout"]
        gaps = report["confinement"]["gaps"]
        assert any("shared the machine's /tmp" in gap and str(venv) in gap for gap in gaps), gaps
    finally:
        shutil.rmtree(checkout, ignore_errors=True)


def test_nothing_the_kernel_can_read_names_the_seed_or_the_private_folder(make_submission, grade, tiny_pack, tmp_path, monkeypatch):
    store = tmp_path / "private-store"
    store.mkdir(mode=0o700)
    seed_file = store / "holdout-seed"
    seed_file.write_text(str(HOLDOUT_SEED))
    monkeypatch.setenv("MLINTERVIEW_HOLDOUT_SEED_FILE", str(seed_file))
    spy = (
        "import os\n"
        f"needles = {[str(tiny_pack.private_dir), str(seed_file), str(store)]!r}\n"
        "found, pids = [], [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "for pid in pids:\n"
        "    for part in ('cmdline', 'environ'):\n"
        "        try:\n"
        "            text = open(f'/proc/{pid}/{part}', 'rb').read().decode('utf-8', 'replace')\n"
        "        except OSError:\n"
        "            continue\n"
        "        found += [f'{pid}/{part}' for needle in needles if needle in text]\n"
        "print('SEES', len(pids), 'PROCESSES; FOUND', found)"
    )
    report, out = grade(make_submission([*TINY_OK_CELLS, spy]))
    replayed = (out / "replay-top-to-bottom.ipynb").read_text()
    seen = int(replayed.split("SEES ", 1)[1].split(" ", 1)[0])
    assert seen <= 6, f"the kernel sees {seen} processes: more than its own namespace"
    assert "FOUND []" in replayed, replayed.split("FOUND", 2)[-1][:500]

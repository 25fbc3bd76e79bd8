"""The interviewer's side never acts on what a candidate planted: the real hub, service and kernel.

- the read-only watch view follows the candidate's saves within seconds, with untrusted outputs
  made inert (no script, no event handler, no javascript: link, images as data: URIs only);
- every response of the service carries the content security policy (no framing, only its own
  scripts) and the headers that keep other windows off it;
- a state-changing request with the interviewer's cookies is refused unless it is a top-level
  form submission from the service's own page with the xsrf token; a script never gets an
  invite code from the cookie-authenticated API;
- releasing the twist never writes or chowns through a link the candidate planted.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path

import pytest

from hubtools import SERVICE, run_code, wait_for, xsrf_of

pytestmark = pytest.mark.slow

PLANTED = "<script>window.__planted = 1; fetch('/services/interview/api/interviews')</script>"
HANDLER = "<img src=x onerror=\"window.__planted = 2\">"
LINK = "<a href=\"javascript:window.__planted = 3\">click me</a>"


@pytest.fixture(scope="module")
def live(hub, scenario_id):
    """alice's live interview: her browser, the candidate's name, token and kernel, the interview id."""
    alice = hub.login_interviewer("alice")
    created = hub.create_interview(hub.token_for("alice"), "Watched Candidate", scenario_id)
    interview = created["interview"]
    candidate = interview["candidate_user"]
    hub.candidate_opens(created["invite_url"], candidate)
    token = hub.token_for(candidate)
    kernel_id, reply = run_code(hub, candidate, token, "1 + 1")
    assert reply["status"] == "ok"
    return {"alice": alice, "id": interview["id"], "candidate": candidate, "token": token, "kernel": kernel_id}


def notebook_path(hub, live, scenario_id) -> Path:
    from mlinterview.scenarios import load_pack

    return hub.state / "workspaces" / live["candidate"] / load_pack(scenario_id).manifest.candidate.notebook


def watched(alice, live, stamp: str = "") -> dict:
    response = alice.get(f"{SERVICE}api/interviews/{live['id']}/notebook", params={"stamp": stamp})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_watch_view_shows_a_saved_change_within_seconds_and_runs_nothing(hub, live, scenario_id):
    alice, candidate = live["alice"], live["candidate"]
    page = alice.get(f"{SERVICE}interviews/{live['id']}")
    assert page.status_code == 200 and 'id="notebook-view"' in page.text
    first = wait_for(lambda: (w := watched(alice, live))["changed"] and w, 30, "the first rendering of the notebook")

    # the candidate adds a cell and saves, as JupyterLab does (contents API PUT), outputs included
    path = notebook_path(hub, live, scenario_id)
    relative = path.relative_to(hub.state / "workspaces" / candidate).as_posix()
    api = f"{hub.url}/user/{candidate}/api/contents/{relative}"
    import httpx

    headers = {"Authorization": f"token {live['token']}"}
    notebook = httpx.get(api, headers=headers, timeout=60).json()["content"]
    marker = f"saved_change_{time.time_ns()}"
    notebook["cells"].append(
        {
            "cell_type": "code", "id": "planted", "metadata": {}, "execution_count": 7, "source": f"{marker} = 1",
            "outputs": [
                {"output_type": "display_data", "metadata": {}, "data": {"text/html": PLANTED + HANDLER + LINK + "<b>bold</b>", "text/plain": "html"}},
                {"output_type": "display_data", "metadata": {}, "data": {"application/javascript": "window.__planted = 4"}},
                {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="}},
            ],
        }
    )
    saved_at = time.monotonic()
    saved = httpx.put(api, headers=headers, json={"type": "notebook", "format": "json", "content": notebook}, timeout=60)
    assert saved.status_code == 200, saved.text
    shown = wait_for(lambda: (w := watched(alice, live, first["stamp"]))["changed"] and marker in w["html"] and w, 10, "the saved change in the watch view")
    seconds = time.monotonic() - saved_at
    assert seconds < 5, seconds
    html = shown["html"]
    assert "<b>bold</b>" in html and 'src="data:image/png;base64,' in html
    assert "<script" not in html.lower() and "onerror" not in html.lower() and "javascript:" not in html.lower()
    assert "not shown here: application/javascript" in html
    print(f"\nwatch view: a saved change shown {seconds:.2f} s after the save")


def test_the_watch_view_does_not_follow_a_planted_link(hub, live, scenario_id, tmp_path):
    secret = tmp_path / "root-only.ipynb"
    secret.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "ROOT ONLY SECRET"}]}))
    secret.chmod(0o600)
    path = notebook_path(hub, live, scenario_id)
    backup = path.with_name(path.name + ".bak")
    os.rename(path, backup)
    try:
        os.symlink(secret, path)
        time.sleep(0.05)
        answer = watched(live["alice"], live)
        assert not answer["changed"] and "ROOT ONLY" not in json.dumps(answer)
        assert "not a regular file" in answer["problem"]
    finally:
        path.unlink()
        os.rename(backup, path)


def test_every_response_carries_the_policy(hub, live):
    alice = live["alice"]
    pages = [
        SERVICE, f"{SERVICE}interviews/{live['id']}", f"{SERVICE}interviews/{live['id']}/join",
        f"{SERVICE}api/interviews", f"{SERVICE}no/such/page", f"{SERVICE}static/live.js", f"{SERVICE}static/nothing.js",
    ]
    for path in pages:
        response = alice.get(path)
        policy = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "default-src 'none'" in policy, (path, policy)
        assert "unsafe-inline" not in policy.split("style-src")[0], (path, policy)
        assert response.headers.get("X-Frame-Options") == "DENY", path
        assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin", path
        if response.headers.get("Content-Type", "").startswith("text/html"):
            # no inline script: every <script> has a src of the service's own, or is inert JSON
            for tag in re.findall(r"<script\b[^>]*>", response.text):
                assert 'type="application/json"' in tag or f'src="{SERVICE}static/' in tag, (path, tag)
            assert not re.search(r"\son[a-z]+=", response.text), path
    assert alice.get(f"{SERVICE}no/such/page").status_code == 404
    script = alice.get(f"{SERVICE}static/live.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]


def test_a_cross_site_or_scripted_post_is_refused(hub, live):
    alice = live["alice"]
    page = alice.get(f"{SERVICE}interviews/{live['id']}")
    xsrf = xsrf_of(page.text)
    note_url = f"{SERVICE}interviews/{live['id']}/note"

    def notes() -> list[str]:
        return [note["text"] for note in alice.get(f"{SERVICE}api/interviews/{live['id']}/events?after=-1").json()["notes"]]

    attempts = {
        "another site's form": {"Origin": f"http://cand-x.localhost:{hub.port}", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
        "a same-site form": {"Origin": f"http://cand-x.localhost:{hub.port}", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
        "an old browser's cross-site form": {"Origin": "http://evil.example"},
        "a sandboxed frame": {"Origin": "null"},
        "a script's fetch": {"Origin": hub.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
        "a form into a frame": {"Origin": hub.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
    }
    for what, headers in attempts.items():
        refused = alice.post(note_url, data={"_xsrf": xsrf, "text": f"forged by {what}"}, headers=headers)
        assert refused.status_code == 403, (what, refused.status_code)
    no_token = alice.post(note_url, data={"text": "forged without the xsrf token"}, headers={"Origin": hub.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
    assert no_token.status_code == 403
    assert not [text for text in notes() if text.startswith("forged")]

    own_form = {"Origin": hub.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    accepted = alice.post(note_url, data={"_xsrf": xsrf, "text": "from the live view's own form"}, headers=own_form)
    assert accepted.status_code == 200
    assert "from the live view's own form" in notes()


def test_no_invite_code_for_a_cookie_authenticated_script(hub, live, scenario_id):
    alice = live["alice"]
    page = alice.get(SERVICE)
    scripted = alice.post(
        f"{SERVICE}api/interviews", json={"scenario": scenario_id, "candidate_name": "Scripted"},
        headers={"X-XSRFToken": xsrf_of(page.text), "Origin": hub.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
    )
    assert scripted.status_code == 403 and "/hub/invite/" not in scripted.text
    # even without the Sec-Fetch headers (no browser sent them), cookies alone never return a code
    bare = alice.post(f"{SERVICE}api/interviews", json={"scenario": scenario_id, "candidate_name": "Scripted"}, headers={"X-XSRFToken": xsrf_of(page.text)})
    assert bare.status_code == 403 and "/hub/invite/" not in bare.text
    assert not [i for i in alice.get(f"{SERVICE}api/interviews").json()["interviews"] if i["candidate_name"] == "Scripted"]
    # a script's read with the cookies but without the token is not authenticated at all
    scripted_read = alice.get(f"{SERVICE}api/interviews", headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}, follow_redirects=False)
    assert scripted_read.status_code in (302, 403) and "candidate_user" not in scripted_read.text
    invite_page = alice.post(f"{SERVICE}interviews/{live['id']}/invite", data={"_xsrf": xsrf_of(page.text)})
    assert invite_page.status_code == 200 and "/hub/invite/" in invite_page.text
    assert invite_page.headers["Cache-Control"] == "no-store"


def test_the_twist_never_writes_through_a_planted_link(hub, live, tmp_path):
    """The candidate links the old staging name and a data name to a root-only canary; the release
    replaces directory entries in the workspace and leaves the canary as it was."""
    alice, candidate = live["alice"], live["candidate"]
    canary_dir = tmp_path / "root-only"
    canary_dir.mkdir(mode=0o700)
    canary = canary_dir / "canary"
    canary.write_text("root's own\n")
    canary.chmod(0o600)
    before = canary.stat()
    workspace = hub.state / "workspaces" / candidate
    planted = (
        f"import os\nos.chdir({str(workspace)!r})\n"
        "for name in ('.mlinterview/workspace.json.new', '.mlinterview/.workspace.json.new', 'data/december_2023.csv'):\n"
        "    if not os.path.isdir(os.path.dirname(name)): continue\n"
        "    if os.path.lexists(name): os.unlink(name)\n"
        f"    os.symlink({str(canary)!r}, name)\n"
    )
    _, reply = run_code(hub, candidate, live["token"], planted, kernel_id=live["kernel"])
    assert reply["status"] == "ok", reply
    assert (workspace / ".mlinterview" / "workspace.json.new").is_symlink()

    page = alice.get(f"{SERVICE}interviews/{live['id']}")
    released = alice.post(f"{SERVICE}interviews/{live['id']}/twist", data={"_xsrf": xsrf_of(page.text)})
    assert released.status_code == 200, released.text
    settings_file = workspace / ".mlinterview" / "workspace.json"
    assert not settings_file.is_symlink() and stat.S_ISREG(settings_file.lstat().st_mode)
    assert json.loads(settings_file.read_text())["twist"]
    # the new settings belong to the workspace's owner (the candidate, under isolation), like the rest
    record = (workspace / ".mlinterview").stat()
    written = settings_file.stat()
    assert (written.st_uid, written.st_gid) == (record.st_uid, record.st_gid)
    assert os.geteuid() != 0 or record.st_uid != 0, "the hub runs as root, so the candidate is a user of their own"
    after = canary.stat()
    assert canary.read_text() == "root's own\n"
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode), after.st_mtime_ns) == (before.st_uid, before.st_gid, 0o600, before.st_mtime_ns)
    assert (workspace / ".mlinterview" / "workspace.json.new").is_symlink()  # left alone, never followed
    assert not [name for name in os.listdir(workspace / ".mlinterview") if name.endswith(".new") and not name.startswith("workspace.json")
                and name != ".workspace.json.new"], "no staging file left behind"


@pytest.mark.parametrize("scenario", ["churn", "demand"])
def test_the_twist_as_root_gives_its_files_to_the_candidate_and_nothing_else(scenario, tmp_path):
    """Root releases into a workspace owned by another uid, whose every twist name is a link to a canary."""
    import pwd

    from mlinterview.scenarios import load_pack, materialize
    from mlinterview.scenarios.twist import release_twist

    nobody = pwd.getpwnam("nobody")
    pack = load_pack(scenario)
    workspace = materialize(pack, tmp_path / "ws")
    for path in [workspace, *workspace.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)
    canary = tmp_path / "canary"
    canary.write_text("root's own\n")
    canary.chmod(0o600)
    data_dir = workspace / pack.manifest.candidate.data_dir
    twist_names = sorted(pack.generator.make_twist_data(1)) if pack.manifest.twist.kind == "new_data" else []
    for link in [workspace / ".mlinterview" / "workspace.json.new", *(data_dir / name for name in twist_names)]:
        link.symlink_to(canary)
    before = canary.stat()

    released = release_twist(pack, workspace)

    after = canary.stat()
    assert canary.read_text() == "root's own\n" and (after.st_uid, after.st_gid, after.st_mtime_ns) == (before.st_uid, before.st_gid, before.st_mtime_ns)
    written = [workspace / ".mlinterview" / "workspace.json", *(workspace / relative for relative in released["files"])]
    for path in written:
        info = path.lstat()
        assert stat.S_ISREG(info.st_mode) and (info.st_uid, info.st_gid) == (nobody.pw_uid, nobody.pw_gid), path
    assert len(written) == 1 + len(twist_names)

"""Through a real hub and its proxy: no-shows and cancellations, and the comparison page and CSV.

alice runs one interview a candidate really takes (ended, then graded by the real grader), one
nobody opens (ended: a no-show), one she cancels, and two whose grade summaries the test writes
into the store (as the lifecycle does after grading); bob runs one of his own, summarised the
same way; boss is an admin.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import httpx
import pytest

from hubtools import SERVICE, wait_for, xsrf_of
from mlinterview.extension.hub_settings import load_settings
from mlinterview.extension.service_compare import overall_score
from mlinterview.extension.service_store import InterviewStore, State
from test_browser_e2e import browser  # noqa: F401

pytestmark = pytest.mark.slow


def summary(value: float, bands: tuple[str, ...], parameters: str = "ok") -> dict:
    signals = dict(zip(("data_handling", "model_selection", "optimization", "evaluation"), ({"band": b, "fixed": 1, "total": 2} for b in bands)))
    return {"version": 2, "holdout": {"metric": "roc_auc", "value": value, "band": "strong", "baseline": 0.70, "reference": 0.90},
            "signals": signals, "constraints": {"parameters": parameters, "training_time": "ok"}, "bugs_fixed": 3, "bugs_total": 5,
            "direction": "higher", "verdict": {"status": "graded"}}


def get(hub, path, token=None, client=None):
    if client is not None:
        return client.get(path, follow_redirects=False)
    return httpx.get(f"{hub.url}{path}", headers={"Authorization": f"token {token}"}, follow_redirects=False, timeout=60)


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def post_action(client, interview_id: str, action: str):
    own_page = client.get(SERVICE)  # the xsrf token is the session's, whichever page holds it
    return client.post(f"{SERVICE}interviews/{interview_id}/{action}", data={"_xsrf": xsrf_of(own_page.text)})


@pytest.fixture(scope="module")
def store(hub):
    settings = load_settings(environ={"MLINTERVIEW_HUB_SETTINGS": str(hub.settings_file)})
    opened = InterviewStore(settings.interview_store_url)
    yield opened
    opened.close()


def test_outcomes_and_the_comparison(hub, store, scenario_id):
    tokens = {name: hub.token_for(name) for name in ("alice", "bob", "boss")}
    alice, bob = hub.login_interviewer("alice"), hub.login_interviewer("bob")
    compare, compare_csv = f"{SERVICE}compare?scenario={scenario_id}", f"{SERVICE}compare.csv?scenario={scenario_id}"

    # one real interview: the candidate opens it, alice ends it, the real grader grades it
    taken = hub.create_interview(tokens["alice"], "Grace Taken", scenario_id)
    taken_id, taken_user = taken["interview"]["id"], taken["interview"]["candidate_user"]
    candidate = hub.candidate_opens(taken["invite_url"], taken_user)
    candidate_token = hub.token_for(taken_user)
    for path in (compare, compare_csv):  # the candidate: refused, by token and in their browser
        assert get(hub, path, candidate_token).status_code == 403
        assert candidate.get(path).status_code == 403
    wait_for(lambda: store.history_head(taken_id)[0] >= 0, 60, "the candidate's server's first history events")
    assert post_action(alice, taken_id, "end").status_code == 200

    # ended before anyone opened it: a no-show, not graded
    never = hub.create_interview(tokens["alice"], "Nora Never", scenario_id)
    never_id = never["interview"]["id"]
    assert post_action(bob, never_id, "end").status_code == 403  # not bob's to end
    assert post_action(alice, never_id, "end").status_code == 200
    ended = alice.get(f"{SERVICE}api/interviews/{never_id}").json()
    assert ended["state"] == "no_show" and ended["started_at"] is None
    live_page = alice.get(f"{SERVICE}interviews/{never_id}").text
    assert 'id="outcome"' in live_page and "No-show" in live_page and 'id="end-interview"' not in live_page
    reports = hub.state / "private" / "reports"
    assert not (reports / never_id).exists() and not (hub.state / "private" / "submissions" / never_id).exists()
    assert hub.api("GET", f"users/{never['interview']['candidate_user']}").status_code == 404
    assert f"interview {never_id}: ended before the candidate started: a no-show, not graded" in hub.log_path.read_text()

    # cancelled while invited: the invite link is refused
    called_off = hub.create_interview(tokens["alice"], "Carl Cancelled", scenario_id)
    called_off_id, called_off_user = called_off["interview"]["id"], called_off["interview"]["candidate_user"]
    assert 'id="cancel-interview"' in alice.get(f"{SERVICE}interviews/{called_off_id}").text
    assert post_action(bob, called_off_id, "cancel").status_code == 403
    assert post_action(alice, called_off_id, "cancel").status_code == 200
    assert alice.get(f"{SERVICE}api/interviews/{called_off_id}").json()["state"] == "cancelled"
    assert post_action(alice, called_off_id, "cancel").status_code == 409
    arrival = hub.browser().get(called_off["invite_url"])
    assert arrival.url.path == "/hub/interview-over", arrival.url
    assert hub.api("GET", f"users/{called_off_user}").status_code == 404  # never logged in

    # the listing says so plainly
    listing = alice.get(SERVICE).text
    row_of = lambda html, interview_id: html.split(f'data-interview="{interview_id}"', 1)[1].split("</tr>", 1)[0]  # noqa: E731
    assert "no-show: the candidate never started; not graded" in row_of(listing, never_id)
    assert "n/a" not in row_of(listing, never_id) and "bugs fixed" not in row_of(listing, never_id)
    assert "cancelled before the candidate started" in row_of(listing, called_off_id)

    # graded interviews, their summaries written as the lifecycle writes them
    seeded = {}
    for owner, name, value, bands in [("alice", "Ada Strong", 0.88, ("very_strong", "strong", "strong", "very_strong")),
                                      ("alice", "Bo Weak", 0.72, ("weak", "very_weak", "weak", "weak")),
                                      ("bob", "Bob's Candidate", 0.80, ("strong",) * 4)]:
        made = hub.create_interview(tokens[owner], name, scenario_id)["interview"]
        grade = summary(value, bands)
        store.set_state(made["id"], State.graded, grade_summary=json.dumps(grade), started_at=datetime(2026, 12, 1, 9),
                        ended_at=datetime(2026, 12, 1, 10), grade_progress="report ready")
        seeded[made["id"]] = (owner, overall_score("graded", grade))

    final = wait_for(
        lambda: (m := alice.get(f"{SERVICE}api/interviews/{taken_id}").json())["state"] in ("graded", "grading_failed") and m,
        400, "the real interview's grading", interval=1,
    )
    assert final["state"] == "graded", final["grade_progress"]
    assert final["grade_summary"]["version"] == 2 and final["grade_summary"]["signals"]  # the bands, from the real report

    # alice's comparison: her interviews, none of bob's, best score first
    page = alice.get(compare)
    assert page.status_code == 200 and 'id="score-formula"' in page.text and "200–600" in page.text
    rows = csv_rows(alice.get(compare_csv))
    ids = [row["interview"] for row in rows]
    alice_ids = {i for i, (owner, _) in seeded.items() if owner == "alice"} | {taken_id, never_id, called_off_id}
    assert set(ids) == alice_ids
    for interview_id in ids:
        assert f'data-interview="{interview_id}"' in page.text
    by_id = {row["interview"]: row for row in rows}
    for interview_id, (owner, score) in seeded.items():
        if owner == "alice":
            assert by_id[interview_id]["Overall (200-600)"] == str(score)
    assert by_id[never_id]["State"] == "no-show" and by_id[never_id]["Overall (200-600)"] == ""
    assert by_id[called_off_id]["State"] == "cancelled" and by_id[called_off_id]["Overall (200-600)"] == ""
    real = by_id[taken_id]
    assert real["State"] == "graded" and 200 <= int(real["Overall (200-600)"]) <= 600
    assert real["Data handling"] in ("very_weak", "weak", "strong", "very_strong") and "/" in real["Bugs fixed"]
    assert real["Parameters"] in ("ok", "over", "unknown")
    assert real["Overall (200-600)"] == str(overall_score("graded", final["grade_summary"]))
    scores = [int(row["Overall (200-600)"]) for row in rows if row["Overall (200-600)"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    scored = [bool(row["Overall (200-600)"]) for row in rows]
    assert scored == sorted(scored, reverse=True)  # the unscored last
    names = [row["Candidate"] for row in csv_rows(alice.get(compare_csv + "&sort=candidate&order=asc"))]
    assert names == sorted(names, key=str.casefold)
    assert alice.get(compare + "&sort=nonsense").status_code == 400

    # bob: his own only; the admin: everyone's
    bob_rows = csv_rows(get(hub, compare_csv, tokens["bob"]))
    assert [row["interview"] for row in bob_rows] == [i for i, (owner, _) in seeded.items() if owner == "bob"]
    bob_page = bob.get(compare).text
    assert not any(f'data-interview="{i}"' in bob_page for i in alice_ids)
    assert {row["interview"] for row in csv_rows(get(hub, compare_csv, tokens["boss"]))} == alice_ids | set(seeded)


def test_the_comparison_in_the_browser_sorts_and_downloads_its_csv(hub, store, browser, tmp_path, scenario_id):  # noqa: F811
    from test_cockpit import log_in

    token = hub.token_for("bob")
    scenario = "compare-in-chromium"  # a round of its own: only this test's interviews
    made = {}
    for name, value, bands in [("Zed Middle", 0.80, ("strong",) * 4), ("Amy Top", 0.90, ("very_strong",) * 4), ("Max Low", 0.70, ("weak",) * 4)]:
        interview = hub.create_interview(token, name, scenario_id)["interview"]
        store.update(interview["id"], scenario=scenario)
        store.set_state(interview["id"], State.graded, grade_summary=json.dumps(summary(value, bands)), started_at=datetime(2026, 12, 1, 9),
                        ended_at=datetime(2026, 12, 1, 10), grade_progress="report ready")
        made[name] = interview["id"]
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    try:
        log_in(page, hub.url, "bob")
        page.click(f"#compare-links a:has-text('{scenario}')")
        page.wait_for_selector("#comparison")
        order = lambda: page.eval_on_selector_all("#comparison tbody tr", "rows => rows.map(r => r.cells[0].innerText)")  # noqa: E731
        assert order() == ["Amy Top", "Zed Middle", "Max Low"]  # best overall score first
        page.click("#comparison th[data-column=candidate] a")
        page.wait_for_function("() => document.querySelector('#comparison th[data-column=candidate]').innerText.includes('▲')")
        assert order() == ["Amy Top", "Max Low", "Zed Middle"]
        page.click("#comparison th[data-column=candidate] a")  # again: the other way
        page.wait_for_function("() => document.querySelector('#comparison th[data-column=candidate]').innerText.includes('▼')")
        assert order() == ["Zed Middle", "Max Low", "Amy Top"]
        with page.expect_download() as downloading:
            page.click("#compare-csv")
        saved = tmp_path / "compare.csv"
        downloading.value.save_as(saved)
        rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
        assert [row["Candidate"] for row in rows] == ["Zed Middle", "Max Low", "Amy Top"]  # as the page sorted them
        assert [row["interview"] for row in rows] == [made[name] for name in ("Zed Middle", "Max Low", "Amy Top")]
        assert all(200 <= int(row["Overall (200-600)"]) <= 600 for row in rows)
    finally:
        context.close()

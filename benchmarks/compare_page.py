"""The comparison page for 200 graded interviews, through a real hub, its proxy and the service.

    .venv/bin/python -P benchmarks/compare_page.py [--interviews 200] [--rounds 30]

Starts a real JupyterHub (tests/hub/hubtools.py: proxy, hub, interview service) in a temporary
folder, seeds its store with graded interviews of one scenario, each with the grade summary the
lifecycle keeps (holdout metric with baseline and reference, the four signals' bands, bugs,
constraint verdicts, the grader's verdict with its headline and problems), and times, as an
interviewer (a hub token, through the proxy):

* compare: ``GET /services/interview/compare?scenario=churn``
* compare.csv: the same rows as CSV
* baseline: ``GET /services/interview/`` (the interview list of the same interviews)

Requests rotate between the three so machine noise hits all alike. Prints p50/p95 of each,
the ratios of the medians against the baseline, and whether the page is within 1 s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "hub"))
sys.path.insert(0, str(HERE))  # timing.py (python -P leaves the script's folder off the path)

from hubtools import SERVICE, RunningHub  # noqa: E402
from timing import ratio_line, summary  # noqa: E402

from mlinterview.extension.hub_settings import load_settings  # noqa: E402
from mlinterview.extension.service_store import InterviewStore, State  # noqa: E402
from mlinterview.scenarios.pack import default_scenarios_dir  # noqa: E402

SCENARIO = "churn"
BANDS = ("very_weak", "weak", "strong", "very_strong")
SIGNALS = ("data_handling", "model_selection", "optimization", "evaluation")
TARGET_SECONDS = 1.0


def realistic_summary(rng: random.Random) -> dict:
    """A grade summary as ``summarize_report`` writes it for a churn report."""
    value = round(rng.uniform(0.62, 0.91), 4)
    signals = {}
    for signal in SIGNALS:
        total = rng.choice((1, 2))
        fixed = rng.randint(0, total)
        band = "very_weak" if fixed == 0 else "very_strong" if fixed == total else "weak"
        signals[signal] = {"band": band, "fixed": fixed, "total": total}
    fixed_all = sum(s["fixed"] for s in signals.values())
    total_all = sum(s["total"] for s in signals.values())
    over = rng.random() < 0.1
    band = BANDS[min(3, int((value - 0.62) / 0.075))]
    problems = ["the parameter budget was exceeded: 1,204,311 trainable parameters for a limit of 1,000,000"] if over else []
    return {
        "version": 2,
        "holdout": {"metric": "roc_auc", "value": value, "band": band, "baseline": 0.70, "reference": 0.88, "problems": []},
        "verdict": {"status": "graded_with_problems" if over else "graded",
                    "headline": f"roc_auc {value:.4f} on the holdout ({band.replace('_', ' ')}); {fixed_all} of {total_all} planted bugs fixed; "
                                f"constraints {'BROKEN' if over else 'kept'}; reproducible",
                    "problems": problems, "rank_key": [1, int(not over), 1, value, fixed_all]},
        "bugs_fixed": fixed_all, "bugs_total": total_all, "direction": "higher", "signals": signals,
        "constraints": {"parameters": "over" if over else "ok", "training_time": rng.choice(("ok", "ok", "ok", "unknown"))},
    }


def seed(store: InterviewStore, count: int, interviewer: str) -> None:
    rng = random.Random(7)
    start = datetime(2026, 11, 1, 9)
    for number in range(count):
        interview, _ = store.create_interview(
            scenario=SCENARIO, kernel="cpu", candidate_name=f"Candidate {number:03d}", interviewer=interviewer,
            time_budget_minutes=90, invite_ttl=timedelta(hours=1),
        )
        began = start + timedelta(hours=number)
        store.set_state(interview.id, State.graded, grade_summary=json.dumps(realistic_summary(rng)), started_at=began,
                        ended_at=began + timedelta(minutes=85), ended_by=interviewer, grade_progress="report ready")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interviews", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlinterview-compare-bench-") as folder:
        hub = RunningHub(Path(folder), default_scenarios_dir()).start()
        try:
            store = InterviewStore(load_settings(environ={"MLINTERVIEW_HUB_SETTINGS": str(hub.settings_file)}).interview_store_url)
            seed(store, args.interviews, "alice")
            token = hub.token_for("alice")
            headers = {"Authorization": f"token {token}"}
            pages = {
                "compare": f"{hub.url}{SERVICE}compare?scenario={SCENARIO}",
                "compare.csv": f"{hub.url}{SERVICE}compare.csv?scenario={SCENARIO}",
                "baseline (interview list)": f"{hub.url}{SERVICE}",
            }
            timings: dict[str, list[float]] = {name: [] for name in pages}
            with httpx.Client(headers=headers, timeout=60) as client:
                for name, url in pages.items():  # warm up: token cache, templates, connections
                    response = client.get(url)
                    assert response.status_code == 200, (name, response.status_code, response.text[:300])
                rows = client.get(pages["compare.csv"]).text.count("\n") - 1  # the header line aside
                assert rows == args.interviews, f"the CSV has {rows} rows, not {args.interviews}"
                for _ in range(args.rounds):
                    for name, url in pages.items():
                        started = time.perf_counter()
                        response = client.get(url)
                        timings[name].append(time.perf_counter() - started)
                        assert response.status_code == 200
            store.close()
        finally:
            hub.stop()

    print(f"{args.interviews} graded interviews of {SCENARIO}, {args.rounds} rounds, through the hub's proxy")
    for name, seconds in timings.items():
        print(summary(name, seconds) + f"   p50 {percentile(seconds, 0.5) * 1000:7.1f} ms   p95 {percentile(seconds, 0.95) * 1000:7.1f} ms")
    baseline = timings["baseline (interview list)"]
    for name in ("compare", "compare.csv"):
        print(ratio_line(f"{name} vs the interview list", timings[name], baseline, target=3.0))
    p95 = percentile(timings["compare"], 0.95)
    print(f"compare page p95 {p95 * 1000:.1f} ms, target <= {TARGET_SECONDS * 1000:.0f} ms: {'within' if p95 <= TARGET_SECONDS else 'OVER'}")
    print(f"(median of the page: {statistics.median(timings['compare']) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()

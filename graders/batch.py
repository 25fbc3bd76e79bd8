"""Grading many submissions: one grader process per submission, N at a time, and a ranking.

Each submission is graded by its own ``mlinterview grade`` process, so a submission that
crashes or wedges its grader (or the interpreter) costs only its own report: the batch
writes a "not gradable" row for it and carries on. The holdout seed travels to the child
through its environment, never on a command line. ``summary.csv`` and ``summary.html`` rank
the submissions by the reports' ``verdict.rank_key``, within each scenario: one table per
scenario, since one pack's metric says nothing next to another's.
"""

from __future__ import annotations

import csv
import html
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .submission import SUBMISSION_FILE, read_meta

SUMMARY_COLUMNS = [
    "rank", "submission", "candidate", "scenario", "status", "metric", "holdout", "band", "bugs_fixed", "bugs_total",
    "bugs", "constraints", "hidden_state", "headline", "report",
]


@dataclass
class BatchJob:
    submission: Path
    scenario: str | None
    out_dir: Path


def find_submissions(paths: list[Path]) -> list[Path]:
    """Each path is a submission, or a folder of submissions (subfolders holding submission.json or a notebook)."""
    def looks_like_submission(folder: Path) -> bool:
        return (folder / SUBMISSION_FILE).is_file() or any(folder.glob("*.ipynb"))

    found = []
    for path in paths:
        path = Path(path)
        children = sorted(c for c in path.iterdir() if c.is_dir() and not c.name.startswith(".")) if path.is_dir() else []
        if not looks_like_submission(path) and any(looks_like_submission(child) for child in children):
            found += children
        else:
            found.append(path)  # graded even when broken: its report says what is missing
    return found


def plan_jobs(submissions: list[Path], out_root: Path, scenario: str | None) -> list[BatchJob]:
    jobs, used = [], set()
    for submission in submissions:
        name = submission.name or "submission"
        unique, number = name, 2
        while unique in used:
            unique, number = f"{name}-{number}", number + 1
        used.add(unique)
        meta_scenario = read_meta(submission).get("scenario") if submission.is_dir() else None
        jobs.append(BatchJob(submission, scenario or meta_scenario, out_root / unique))
    return jobs


def grade_one_in_subprocess(job: BatchJob, holdout_seed: int, scenarios_dir: Path | None, timeout_s: float, extra: list[str]) -> dict[str, Any]:
    """Run ``mlinterview grade`` for one job; return its report (or a stand-in saying what went wrong)."""
    job.out_dir.mkdir(parents=True, exist_ok=True)
    # The child runs in its report folder: every path it gets is absolute.
    command = [sys.executable, "-m", "mlinterview.cli", "grade", str(job.submission.resolve()), "--out", str(job.out_dir.resolve()), *extra]
    if job.scenario:
        command += ["--scenario", job.scenario]
    if scenarios_dir:
        command += ["--scenarios-dir", str(Path(scenarios_dir).resolve())]
    env = dict(os.environ, MLINTERVIEW_HOLDOUT_SEED=str(holdout_seed))
    started = time.monotonic()
    problem = None
    with open(job.out_dir / "grader.log", "wb") as log:
        try:
            process = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout_s, cwd=job.out_dir)
            if process.returncode != 0:
                problem = f"the grader exited with status {process.returncode}; see {job.out_dir / 'grader.log'}"
        except subprocess.TimeoutExpired:
            problem = f"the grader took longer than {timeout_s:g} s and was stopped"
    report_path = job.out_dir / "report.json"
    if report_path.is_file():
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
            report["_report_path"] = str(report_path)
            return report
        except ValueError:
            problem = problem or "the grader wrote an unreadable report.json"
    return {
        "verdict": {"status": "not_gradable", "headline": problem or "no report", "problems": [problem], "rank_key": [0, 0, 0, 0.0, 0]},
        "submission": {"folder": str(job.submission)},
        "scenario": {"id": job.scenario},
        "holdout": {},
        "bugs": [],
        "grading_seconds": round(time.monotonic() - started, 1),
    }


def grade_batch(
    jobs: list[BatchJob],
    holdout_seed: int,
    *,
    workers: int,
    scenarios_dir: Path | None = None,
    timeout_s: float = 7200,
    extra_args: list[str] = (),
    on_done: Callable[[BatchJob, dict], None] | None = None,
) -> list[tuple[BatchJob, dict]]:
    """Grade ``jobs`` with ``workers`` graders at a time; results in completion order."""
    results = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {
            pool.submit(grade_one_in_subprocess, job, holdout_seed, scenarios_dir, timeout_s, list(extra_args)): job for job in jobs
        }
        for future in as_completed(futures):
            job = futures[future]
            try:
                report = future.result()
            except Exception as error:  # noqa: BLE001 - a batch goes on
                report = {"verdict": {"status": "not_gradable", "headline": f"batch error: {error}", "rank_key": [0, 0, 0, 0.0, 0]}}
            results.append((job, report))
            if on_done:
                on_done(job, report)
    return results


def summary_rows(results: list[tuple[BatchJob, dict]]) -> list[dict[str, Any]]:
    """One row per submission, ranked within its scenario (a churn AP and a demand MAE are not
    comparable): rows grouped by scenario, in alphabetical order, best first in each group."""
    def scenario_of(job: BatchJob, report: dict) -> str:
        return (report.get("scenario") or {}).get("id") or job.scenario or ""

    groups: dict[str, list[tuple[BatchJob, dict]]] = {}
    for job, report in results:
        groups.setdefault(scenario_of(job, report), []).append((job, report))
    rows = []
    for scenario in sorted(groups):
        ranked = sorted(groups[scenario], key=lambda item: tuple(item[1].get("verdict", {}).get("rank_key") or [0]), reverse=True)
        for rank, (job, report) in enumerate(ranked, start=1):
            rows.append(_summary_row(rank, scenario, job, report))
    return rows


def _summary_row(rank: int, scenario: str, job: BatchJob, report: dict) -> dict[str, Any]:
    verdict = report.get("verdict", {})
    holdout = report.get("holdout", {})
    bugs = report.get("bugs") or []
    constraints = report.get("constraints") or {}
    broken = [k for k in ("parameters", "training_time") if (constraints.get(k) or {}).get("verdict") == "over"]
    return {
        "rank": rank,
        "submission": job.submission.name,
        "candidate": (report.get("submission") or {}).get("candidate") or "",
        "scenario": scenario,
        "status": verdict.get("status", ""),
        "metric": holdout.get("metric", ""),
        "holdout": "" if holdout.get("value") is None else f"{holdout['value']:.4f}",
        "band": holdout.get("band") or "",
        "bugs_fixed": sum(1 for b in bugs if b.get("fixed")),
        "bugs_total": len(bugs),
        "bugs": " ".join(b["id"] for b in bugs if b.get("fixed")),
        "constraints": "broken: " + ", ".join(broken) if broken else ("kept" if constraints else ""),
        "hidden_state": {True: "yes", False: "no"}.get((report.get("reproducibility") or {}).get("hidden_state"), "unknown"),
        "headline": verdict.get("headline", ""),
        "report": str(job.out_dir / "report.html"),
    }


def write_summary(rows: list[dict[str, Any]], out_root: Path) -> tuple[Path, Path]:
    """``summary.csv`` (every row; ``rank`` is within the row's scenario), ``summary-<scenario>.csv``
    when the batch mixes scenarios, and ``summary.html`` with one ranked table per scenario."""
    out_root.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out_root / "summary.csv", out_root / "summary.html"
    scenarios = sorted({row["scenario"] for row in rows})
    _write_csv(csv_path, rows)
    if len(scenarios) > 1:
        for scenario in scenarios:
            _write_csv(out_root / f"summary-{scenario or 'unknown'}.csv", [row for row in rows if row["scenario"] == scenario])
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in SUMMARY_COLUMNS if c != "report")
    tables = []
    for scenario in scenarios:
        own = [row for row in rows if row["scenario"] == scenario]
        body = []
        for row in own:
            cells = []
            for column in SUMMARY_COLUMNS:
                if column == "report":
                    continue
                value = html.escape(str(row[column]))
                if column == "submission":
                    link = os.path.relpath(row["report"], out_root)
                    value = f'<a href="{html.escape(link)}">{value}</a>'
                cells.append(f'<td class="{column} {html.escape(str(row[column]))}">{value}</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        metric = next((row["metric"] for row in own if row["metric"]), "")
        tables.append(
            f'<h2 id="scenario-{html.escape(scenario)}">{html.escape(scenario or "unknown scenario")}</h2>'
            f"<p>{len(own)} submission(s), ranked among themselves{f' by holdout {html.escape(metric)}' if metric else ''}.</p>"
            f'<table class="scenario"><tr>{head}</tr>{"".join(body)}</table>'
        )
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Grading summary</title>
<style>body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2129}}table{{border-collapse:collapse;width:100%}}
th,td{{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e6ee;vertical-align:top}}th{{background:#f5f6fa}}
td.headline{{font-size:12px;color:#445}}td.not_gradable{{color:#c62828}}td.graded{{color:#2e7d32}}td.graded_with_problems{{color:#a86400}}</style>
</head><body><h1>Grading summary</h1><p>{len(rows)} submission(s) of {len(scenarios)} scenario(s). Each scenario is ranked on its
own (its metric means nothing next to another scenario's), best first: gradable, constraints kept, reproducible, then
holdout metric. Each name links to its report.</p>{''.join(tables)}</body></html>"""
    html_path.write_text(page, encoding="utf-8")
    return csv_path, html_path


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

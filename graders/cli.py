"""``mlinterview grade`` and ``mlinterview grade-batch``: replay-grade submissions, write reports."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..cli import CommandError
from ..scenarios.pack import PackError, load_pack


def _limits_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenarios-dir", type=Path, default=None, help="folder of scenario packs (default: the shipped packs)")
    parser.add_argument(
        "--holdout-seed", default=None,
        help="the installation's secret holdout seed (default: $MLINTERVIEW_HOLDOUT_SEED, then the file named by "
        "$MLINTERVIEW_HOLDOUT_SEED_FILE, then /etc/mlinterview/holdout-seed)",
    )
    parser.add_argument("--cell-timeout", type=float, default=None, help="seconds one cell may run (default 600)")
    parser.add_argument("--total-timeout", type=float, default=None, help="seconds one replay may run (default 1800)")
    parser.add_argument("--memory-gb", type=float, default=None, help="memory of a replay's kernel in GiB (default 4)")
    parser.add_argument("--kernel", default=None, help="kernelspec to replay with (default: the scenario's, else python3)")


def _grade_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", metavar="SUBMISSION", help="submission folder (see graders/README.md)")
    parser.add_argument("--scenario", default=None, help="scenario id (default: the one in submission.json)")
    parser.add_argument("--out", default=None, help="report folder (default: ./report-<submission name>)")
    _limits_args(parser)


def _limit_options(args) -> list[str]:
    """The limit options as command-line words (to hand on to a child grader)."""
    words = []
    for flag, value in (("--cell-timeout", args.cell_timeout), ("--total-timeout", args.total_timeout),
                        ("--memory-gb", args.memory_gb), ("--kernel", args.kernel)):
        if value is not None:
            words += [flag, str(value)]
    return words


def _grader(args):
    from .grade import Grader

    grader = Grader()
    if args.cell_timeout is not None:
        grader.limits.cell_timeout = args.cell_timeout
    if args.total_timeout is not None:
        grader.limits.total_timeout = args.total_timeout
    if args.memory_gb is not None:
        grader.limits.memory_bytes = int(args.memory_gb * 1024**3)
    if args.kernel:
        grader.kernel_name = args.kernel
    return grader


def _seed(args) -> int:
    from .grade import HoldoutSeedError, resolve_holdout_seed

    try:
        return resolve_holdout_seed(args.holdout_seed)
    except HoldoutSeedError as error:
        raise CommandError(str(error)) from None


def cmd_grade(args) -> int:
    from .submission import read_meta

    submission = Path(args.submission)
    if not submission.is_dir():
        raise CommandError(f"{submission} is not a folder; a submission is a folder with the notebook, scaffold and history (see graders/README.md)")
    scenario = args.scenario or read_meta(submission).get("scenario")
    if not scenario:
        raise CommandError(f"which scenario? {submission / 'submission.json'} names none; pass --scenario ID")
    try:
        pack = load_pack(scenario, args.scenarios_dir)
    except PackError as error:
        raise CommandError(str(error)) from None
    out = Path(args.out) if args.out else Path.cwd() / f"report-{submission.resolve().name}"
    seed = _seed(args)
    grader = _grader(args)
    report = grader.grade(submission, pack, out, seed, progress=lambda stage: print(stage, flush=True))
    verdict = report["verdict"]
    print(f"{verdict['status']}: {verdict['headline']}")
    print(f"report: {out / 'report.html'}")
    return 0


def cmd_grade_on_request(args) -> int:
    """Import what grading needs, then wait for the job on stdin: one JSON line,
    ``{"args": [the mlinterview grade arguments], "cwd": "folder"}``. The hub's interview service
    keeps one of these ready, so that the report after End does not wait for the imports."""
    import json

    from . import grade, report  # noqa: F401  (the imports are the point)
    from . import render
    from ..scenarios import metrics  # noqa: F401

    render.warm_up()

    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the service stopped before giving a job
    try:
        job = json.loads(line)
        if not isinstance(job.get("args"), list):
            raise TypeError("'args' is not a list")
        words, cwd = [str(word) for word in job["args"]], str(job.get("cwd") or ".")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CommandError(f"the job must be one JSON line with 'args' (a list) and 'cwd': {error}") from None
    for thread in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else [0]:
        try:  # started at a low priority while it waited; on Linux each thread has its own
            os.setpriority(os.PRIO_PROCESS, int(thread), 0)
        except OSError:
            pass
    os.chdir(cwd)
    parser = argparse.ArgumentParser(prog="mlinterview grade")
    _grade_args(parser)
    try:
        code = cmd_grade(parser.parse_args(words))
    except CommandError as error:
        print(f"mlinterview: error: {error}", file=sys.stderr)
        code = 2
    # The report is written and every exit handler runs; the interpreter's own teardown of the
    # loaded libraries (about a second here) is skipped: the service waits for this exit.
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_grade_batch(args) -> int:
    from tqdm import tqdm

    from .batch import find_submissions, grade_batch, plan_jobs, summary_rows, write_summary

    submissions = find_submissions([Path(p) for p in args.paths])
    if not submissions:
        raise CommandError("no submissions found in " + ", ".join(args.paths))
    seed = _seed(args)
    out_root = Path(args.out)
    jobs = plan_jobs(submissions, out_root, args.scenario)
    with tqdm(total=len(jobs), unit="submission", desc="grading", file=sys.stderr) as bar:
        def done(job, report):
            bar.update(1)
            bar.set_postfix_str(f"{job.submission.name}: {report.get('verdict', {}).get('status', '?')}")

        results = grade_batch(
            jobs, seed, workers=args.workers, scenarios_dir=args.scenarios_dir, extra_args=_limit_options(args), on_done=done,
            timeout_s=args.timeout,
        )
    rows = summary_rows(results)
    csv_path, html_path = write_summary(rows, out_root)
    scenario = None
    for row in rows:
        if row["scenario"] != scenario:
            scenario = row["scenario"]
            print(f"{scenario or 'unknown scenario'} ({row['metric'] or 'no metric'}):")
        print(f"{row['rank']:>3}. {row['submission']:<28} {row['status']:<22} {row['holdout'] or '-':>8}  bugs {row['bugs_fixed']}/{row['bugs_total']}")
    print(f"summary: {csv_path} and {html_path}")
    return 0


def add_subcommands(subparsers) -> None:
    grade = subparsers.add_parser(
        "grade", help="replay-grade one submission and write its report",
        description="Replay a submission's notebook in fresh kernels, score it on the hidden holdout, run the bug probes "
        "and the constraint audit, and write report.json and report.html.",
    )
    _grade_args(grade)
    grade.set_defaults(handler=cmd_grade)

    on_request = subparsers.add_parser(
        "grade-on-request", help="load the grader, then grade the job read from stdin (the interview service keeps one ready)",
        description=cmd_grade_on_request.__doc__.split("\n\n")[0].replace("\n    ", " "),
    )
    on_request.set_defaults(handler=cmd_grade_on_request)

    batch = subparsers.add_parser(
        "grade-batch", help="grade many submissions in parallel and rank them",
        description="Grade every submission found under the given folders, N at a time; write one report per submission "
        "plus summary.csv and summary.html ranking them.",
    )
    batch.add_argument("paths", nargs="+", metavar="DIR", help="a submission folder, or a folder of submission folders")
    batch.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="submissions graded at once (default 2)")
    batch.add_argument("--out", default="grading-batch", help="folder for the reports and the summary (default ./grading-batch)")
    batch.add_argument("--scenario", default=None, help="scenario id for all (default: each submission.json's)")
    batch.add_argument("--timeout", type=float, default=7200, help="seconds one submission's grading may take (default 7200)")
    _limits_args(batch)
    batch.set_defaults(handler=cmd_grade_batch)

"""``mlinterview scenarios ...``: list, show, materialize and calibrate scenario packs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import CommandError
from .materialize import WorkspaceError, materialize
from .pack import PackError, default_scenarios_dir, list_packs, load_pack


def _pack(args):
    try:
        return load_pack(args.scenario_id, args.scenarios_dir)
    except PackError as error:
        raise CommandError(str(error)) from None


def cmd_list(args) -> int:
    root = args.scenarios_dir or default_scenarios_dir()
    ids = list_packs(root)
    if not ids:
        raise CommandError(f"no scenario packs in {root}; pass --scenarios-dir or set $MLINTERVIEW_SCENARIOS_DIR")
    for scenario_id in ids:
        try:
            manifest = load_pack(scenario_id, root).manifest
            print(f"{scenario_id:<24} {manifest.title}  ({manifest.time_budget_minutes} min, {manifest.metric.name})")
        except PackError as error:
            print(f"{scenario_id:<24} INVALID: {str(error).splitlines()[0]}")
    return 0


def cmd_show(args) -> int:
    manifest = _pack(args).manifest
    print(f"{manifest.title} [{manifest.id} v{manifest.version}]")
    print(manifest.summary.strip())
    print()
    c = manifest.constraints
    print(f"time budget   {manifest.time_budget_minutes} min")
    print(f"constraints   max {c.max_parameters:,} parameters, {c.train_time_budget_seconds:g} s training, seed {c.seed}")
    print(f"metric        {manifest.metric.name} ({manifest.metric.direction} is better)")
    bands = manifest.rubric.metric_bands
    print(f"metric bands  weak {bands.weak:g} / strong {bands.strong:g} / very strong {bands.very_strong:g}")
    print(f"kernel        {manifest.kernel.default}{' (GPU capable)' if manifest.kernel.gpu_capable else ''}")
    if manifest.serving is not None:
        serving = manifest.serving
        print(f"serving       {' '.join(serving.command)}; POST {serving.path}, p95 within {serving.latency_budget_ms:g} ms "
              "(the grader sends a hidden request suite; the production signal is rated from the answers)")
    if args.interviewer:
        print("\nplanted bugs:")
        for bug in manifest.bugs:
            print(f"  - {bug.id} [{bug.kind}, {bug.signal}] at {bug.location}: {bug.title}")
            print(f"      {bug.interviewer_notes.strip()}")
        if manifest.quirks:
            print("\ndataset quirks:")
            for quirk in manifest.quirks:
                print(f"  - {quirk.id}: {quirk.description.strip()}")
        if manifest.hints:
            print("\nhints, in order:")
            for hint in manifest.hints:
                print(f"  - after {hint.after_minutes} min: {hint.text.strip()}")
    else:
        print(f"\n{len(manifest.bugs)} planted bugs ({len(manifest.breaking_bugs)} breaking); add --interviewer to list them")
    return 0


def cmd_materialize(args) -> int:
    pack = _pack(args)
    try:
        target = materialize(pack, Path(args.directory), args.seed, overwrite=args.overwrite)
    except WorkspaceError as error:
        raise CommandError(str(error)) from None
    print(f"materialized '{pack.id}' into {target}")
    return 0


def cmd_calibrate(args) -> int:
    from .calibration import run_calibration_command

    return run_calibration_command(_pack(args), args)


def add_subcommands(subparsers) -> None:
    scenarios = subparsers.add_parser("scenarios", help="list, show, materialize and calibrate scenario packs")
    scenarios.set_defaults(subparser=scenarios)
    sub = scenarios.add_subparsers(dest="scenarios_command", metavar="ACTION")

    def add(name, handler, help_text):
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument(
            "--scenarios-dir", type=Path, default=None,
            help="folder of scenario packs (default: $MLINTERVIEW_SCENARIOS_DIR, else the packs shipped with mlinterview)",
        )
        parser.set_defaults(handler=handler)
        return parser

    add("list", cmd_list, "list the scenario packs")
    show = add("show", cmd_show, "describe one scenario pack")
    show.add_argument("scenario_id", metavar="ID")
    show.add_argument("--interviewer", action="store_true", help="also list planted bugs, quirks and hints (private)")
    mat = add("materialize", cmd_materialize, "write a candidate workspace (brief, notebook, scaffold, data) for a scenario")
    mat.add_argument("scenario_id", metavar="ID")
    mat.add_argument("directory", metavar="DIR", help="workspace folder to create (must be empty or new)")
    mat.add_argument("--seed", type=int, default=None, help="data seed (default: the scenario's seed)")
    mat.add_argument("--overwrite", action="store_true", help="write over an existing workspace")
    cal = add("calibrate", cmd_calibrate, "run the pack's self-test: scaffold, each fix, all fixes, reference, over several seeds")
    cal.add_argument("scenario_id", metavar="ID")
    cal.add_argument("--seeds", type=int, default=3, help="number of seeds (at least 3; default 3)")
    cal.add_argument("--jobs", type=int, default=None, help="parallel training runs (default: min(2, number of CPUs))")
    cal.add_argument(
        "--out", type=Path, default=None,
        help="write the table to this file (its JSON summary beside it), or into this folder as ID-calibration.txt/.json",
    )
    cal.add_argument("--json", type=Path, default=None, help="also write the summary as JSON to this file")
    cal.add_argument(
        "--from-summary", type=Path, default=None, metavar="FILE",
        help="train nothing: check the criteria again on the measurements of a saved summary (e.g. after declaring a "
        "bug probe_only in scenario.toml); with --update-pack it becomes the pack's evidence if it passes",
    )
    cal.add_argument(
        "--update-pack", action="store_true",
        help="when the calibration passes, write its summary to the pack's private/calibration.json (the evidence the "
        "grader compares candidates with; commit it with the pack). A failed run never changes it.",
    )

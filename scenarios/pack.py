"""Finding, validating and loading scenario packs.

A pack is a folder ``<scenarios dir>/<id>/`` holding ``scenario.toml``, a ``candidate/`` part
(the only part ever copied into a workspace) and a ``private/`` part (data generator with the
holdout split, reference solution, probes, fixes). The private part is loaded by path, under
a module name of its own, by the hub, the grader and the calibration only: it is never on a
candidate kernel's import path.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from pydantic import ValidationError

from .schema import ScenarioManifest

SCENARIOS_DIR_ENV = "MLINTERVIEW_SCENARIOS_DIR"
MANIFEST = "scenario.toml"
# Files every private part must have, and what each holds.
PRIVATE_FILES = {
    "generator.py": "make_candidate_data(seed) and make_holdout(seed) for the pack's data",
    "probes.py": "one probe function per planted bug, named in scenario.toml",
    "fixes.toml": "the edit that fixes each planted bug, used by the calibration",
    "reference": "folder: the reference solution's scaffold package",
}


class PackError(Exception):
    """A scenario pack is missing or malformed; the message names the file, the field and the fix."""


def default_scenarios_dir() -> Path:
    """Where packs are read from when no folder is given.

    The first of: ``$MLINTERVIEW_SCENARIOS_DIR``; the source folder of this module when it holds
    packs (a checkout with an editable install); ``<prefix>/share/mlinterview/scenarios`` (a wheel).
    """
    configured = os.environ.get(SCENARIOS_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    source = Path(__file__).resolve().parent
    if any(source.glob(f"*/{MANIFEST}")):
        return source
    return Path(sys.prefix) / "share" / "mlinterview" / "scenarios"


def list_packs(scenarios_dir: Path | None = None) -> list[str]:
    """Ids of the packs in a scenarios folder, sorted."""
    root = Path(scenarios_dir) if scenarios_dir else default_scenarios_dir()
    return sorted(p.parent.name for p in root.glob(f"*/{MANIFEST}"))


def load_pack(scenario_id: str, scenarios_dir: Path | None = None) -> "ScenarioPack":
    """Load and validate the pack ``scenario_id``; raise PackError saying what to do otherwise."""
    root = Path(scenarios_dir) if scenarios_dir else default_scenarios_dir()
    folder = root / scenario_id
    if not (folder / MANIFEST).is_file():
        known = list_packs(root)
        raise PackError(
            f"no scenario pack '{scenario_id}' in {root} (expected {folder / MANIFEST}). "
            + (f"Known packs: {', '.join(known)}. " if known else "That folder holds no packs. ")
            + f"Pass another folder with --scenarios-dir or ${SCENARIOS_DIR_ENV}."
        )
    return ScenarioPack.from_folder(folder)


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: {error.error_count()} problem(s) in the scenario manifest:"]
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        kind = problem["type"]
        if kind == "missing":
            fix = "add this field"
        elif kind == "extra_forbidden":
            fix = "remove this field or fix its spelling (see scenarios/README.md for the fields)"
        else:
            fix = "correct the value"
        lines.append(f"  - field '{field}': {problem['msg']} -> {fix}")
    return "\n".join(lines)


@dataclass(frozen=True)
class ScenarioPack:
    folder: Path
    manifest: ScenarioManifest

    @classmethod
    def from_folder(cls, folder: Path) -> "ScenarioPack":
        folder = Path(folder).resolve()
        path = folder / MANIFEST
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PackError(f"{path}: missing; every pack needs a {MANIFEST} (see scenarios/README.md)") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise PackError(f"{path}: not valid TOML ({error}); fix the syntax at that position") from None
        try:
            manifest = ScenarioManifest.model_validate(raw)
        except ValidationError as error:
            raise PackError(_format_validation_error(path, error)) from None
        pack = cls(folder, manifest)
        pack._check_layout()
        return pack

    def _check_layout(self) -> None:
        manifest, path = self.manifest, self.folder / MANIFEST
        if manifest.id != self.folder.name:
            raise PackError(f"{path}: field 'id' is '{manifest.id}' but the folder is '{self.folder.name}'; make them equal")
        for field, relative in (
            ("candidate.brief", manifest.candidate.brief),
            ("candidate.notebook", manifest.candidate.notebook),
            ("candidate.scaffold", manifest.candidate.scaffold),
        ):
            if not (self.candidate_dir / relative).exists():
                raise PackError(f"{path}: field '{field}' names {self.candidate_dir / relative}, which does not exist; add it or fix the field")
        for name, what in PRIVATE_FILES.items():
            if not (self.private_dir / name).exists():
                raise PackError(f"{self.private_dir / name}: missing; the private part needs it ({what})")
        if manifest.git is not None and not (self.folder / manifest.git.history).is_file():
            raise PackError(f"{path}: field 'git.history' names {self.folder / manifest.git.history}, which does not exist; add it or fix the field")
        scaffold_module = manifest.contract.pipeline.split(":")[0].split(".")[0]
        if scaffold_module != Path(manifest.candidate.scaffold).name:
            raise PackError(
                f"{path}: field 'contract.pipeline' starts with '{scaffold_module}' but the scaffold package is "
                f"'{Path(manifest.candidate.scaffold).name}'; the pipeline must live in the scaffold"
            )

    # -- parts -----------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def candidate_dir(self) -> Path:
        return self.folder / "candidate"

    @property
    def private_dir(self) -> Path:
        return self.folder / "private"

    @property
    def scaffold_dir(self) -> Path:
        return self.candidate_dir / self.manifest.candidate.scaffold

    @property
    def scaffold_name(self) -> str:
        return Path(self.manifest.candidate.scaffold).name

    @property
    def reference_dir(self) -> Path:
        """The reference solution's scaffold package (same name as the shipped scaffold)."""
        return self.private_dir / "reference"

    def bug(self, bug_id: str):
        for bug in self.manifest.bugs:
            if bug.id == bug_id:
                return bug
        raise PackError(f"scenario '{self.id}' has no bug '{bug_id}'; known: {', '.join(b.id for b in self.manifest.bugs)}")

    # -- private code, loaded by path ----------------------------------------------------------
    def load_private_module(self, name: str) -> ModuleType:
        """Import ``private/<name>.py`` by path under a module name private to this pack."""
        path = self.private_dir / f"{name}.py"
        module_name = f"_mlinterview_private.{self.id.replace('-', '_')}.{name}"
        if module_name in sys.modules:
            return sys.modules[module_name]
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise PackError(f"{path}: cannot be loaded as Python; check that the file exists")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module

    @cached_property
    def generator(self) -> ModuleType:
        return self.load_private_module("generator")

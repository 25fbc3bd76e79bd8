"""Probes of the merge scenario: one per planted bug.

The merge's two breaking bugs are judged on the package's files and imports (no conflict marker
left, every module compiles, nothing refers to the renamed module); the others by behaviour:
each imports the candidate's scaffold package (its parent folder is on ``sys.path``), runs the
function the bug lives in on a few synthetic parcels, and returns ``(fixed, what it saw)``. A
probe that cannot import or run the function says "not fixed" and why.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

OLD_MODULE = "features"
NEW_MODULE = "preprocessing"
MARKER = re.compile(r"^(<{7}|={7}|>{7}|\|{7})( |$)", re.MULTILINE)


def _module(scaffold: Path, name: str):
    return importlib.import_module(f"{Path(scaffold).name}.{name}")


def _sources(scaffold: Path) -> dict[str, str]:
    return {
        path.relative_to(scaffold).as_posix(): path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(Path(scaffold).rglob("*.py")) if "__pycache__" not in path.parts and path.is_file()
    }


def _build_features(scaffold: Path):
    """The merged build_features, or the reason there is none."""
    try:
        return _module(scaffold, NEW_MODULE).build_features, None
    except Exception as error:  # noqa: BLE001 - any failure means the merge is not usable
        return None, f"courier.{NEW_MODULE} does not import: {type(error).__name__}: {str(error)[:160]}"


def parcels(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """A few parcels with the columns of ``train.csv`` (H1 and H5 among the hubs)."""
    rng = np.random.default_rng(seed)
    hubs = np.array(["H1", "H2", "H3", "H4", "H5", "H6"])
    frame = pd.DataFrame({
        "parcel_id": [f"Q{i:05d}" for i in range(n)],
        "pickup_date": "2026-09-15",
        "hub": hubs[np.arange(n) % len(hubs)],
        "distance_km": np.round(rng.uniform(2, 120, n), 1),
        "promised_hours": rng.choice([1, 2, 4, 8, 24], n),
        "weight_kg": np.round(rng.uniform(0.5, 30, n), 2),
        "n_stops": rng.integers(1, 12, n),
        "pickup_hour": rng.integers(7, 20, n),
        "driver_experience_years": np.round(rng.uniform(0, 15, n), 1),
        "delivery_hours": np.round(rng.uniform(0.2, 30, n), 2),
        "late": rng.integers(0, 2, n),
    })
    frame.loc[frame["hub"] == "H5", "weight_kg"] *= 1000.0  # H5's scanners record grams
    return frame


def probe_merge_conflict(scaffold: Path) -> tuple[bool, str]:
    """No conflict marker in any module, every module compiles, and the merged module imports."""
    sources = _sources(scaffold)
    marked = [name for name, text in sources.items() if MARKER.search(text)]
    if marked:
        return False, f"conflict markers left in {', '.join(marked)}"
    for name, text in sources.items():
        try:
            compile(text, name, "exec")
        except SyntaxError as error:
            return False, f"{name} does not compile: {error.msg} (line {error.lineno})"
    build, problem = _build_features(scaffold)
    if build is None:
        return False, problem
    return True, f"no conflict marker left, {len(sources)} modules compile, courier.{NEW_MODULE}.build_features imports"


def _refers_to_old_module(tree: ast.AST, package: str) -> list[str]:
    found = []
    old_names = {f"{package}.{OLD_MODULE}"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if (node.level and module.split(".")[0] == OLD_MODULE) or module in old_names or module.startswith(f"{package}.{OLD_MODULE}."):
                found.append(f"line {node.lineno}: from {'.' * node.level}{module} import ...")
            elif (node.level == 1 and not module) or module == package:
                found += [f"line {node.lineno}: import of {alias.name}" for alias in node.names if alias.name == OLD_MODULE]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {alias.name}" for alias in node.names if alias.name in old_names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(rf"\b{package}\.{OLD_MODULE}\b|^\.{OLD_MODULE}$", node.value):
            found.append(f"line {node.lineno}: the string {node.value[:60]!r}")
    return found


def probe_old_module_name(scaffold: Path) -> tuple[bool, str]:
    """Nothing in the package refers to courier.features, and the whole pipeline imports."""
    scaffold = Path(scaffold)
    package = scaffold.name
    if (scaffold / f"{OLD_MODULE}.py").exists() or (scaffold / OLD_MODULE).is_dir():
        return False, f"{package}/{OLD_MODULE}.py exists again: the renamed module lives on under its old name"
    references = []
    for name, text in _sources(scaffold).items():
        try:
            tree = ast.parse(text)
        except SyntaxError as error:
            return False, f"{name} does not parse (line {error.lineno}): the merge is not finished"
        references += [f"{name} {where}" for where in _refers_to_old_module(tree, package)]
    if references:
        return False, f"still refers to the old module name {package}.{OLD_MODULE}: " + "; ".join(references[:4])
    try:
        _module(scaffold, "pipeline")
    except Exception as error:  # noqa: BLE001
        return False, f"{package}.pipeline does not import: {type(error).__name__}: {str(error)[:160]}"
    return True, f"no module refers to {package}.{OLD_MODULE}, and {package}.pipeline imports"


def _weight_columns(build, frame: pd.DataFrame) -> list[str]:
    heavier = frame.copy()
    heavier["weight_kg"] = heavier["weight_kg"] * 2.0
    a, b = build(frame.copy()), build(heavier)
    return [c for c in a.columns if not np.allclose(a[c].to_numpy(float), b[c].to_numpy(float), equal_nan=True)]


def probe_weight_fix_lost_in_merge(scaffold: Path) -> tuple[bool, str]:
    """A parcel of H5 recorded as 4000 (grams) gets the inputs of a 4 kg parcel, as on main."""
    build, problem = _build_features(scaffold)
    if build is None:
        return False, problem
    frame = parcels()
    frame["hub"] = "H1"
    frame.loc[frame.index[::2], "hub"] = "H5"
    kilograms = frame.copy()
    h5 = frame["hub"] == "H5"
    frame.loc[h5, "weight_kg"] = frame.loc[h5, "weight_kg"] * 1000.0
    columns = _weight_columns(build, kilograms.assign(hub="H1"))
    if not columns:
        return False, "build_features gives the same inputs whatever the weight: the weight is not an input any more"
    recorded, true = build(frame.copy()), build(kilograms.assign(hub="H1"))
    off = [c for c in columns if not np.allclose(recorded[c].to_numpy(float), true[c].to_numpy(float), rtol=1e-6, atol=1e-9)]
    if off:
        return False, f"H5's weights recorded in grams give other inputs ({', '.join(off)}) than the same weights in kilograms: main's fix is lost"
    return True, f"H5's grams become kilograms in build_features ({', '.join(columns)})"


def probe_speed_feature_lost_in_merge(scaffold: Path) -> tuple[bool, str]:
    """One input ranks parcels by distance / promised hours (the feature branch's km_per_promised_hour)."""
    build, problem = _build_features(scaffold)
    if build is None:
        return False, problem
    frame = parcels(200, seed=3)
    inputs = build(frame.copy())
    speed = frame["distance_km"] / frame["promised_hours"]
    for column in inputs.columns:
        values = pd.Series(inputs[column].to_numpy(float))
        if values.nunique() > 10 and abs(values.corr(pd.Series(speed.to_numpy(float)), method="spearman")) > 0.99:
            return True, f"the input {column} follows distance / promised hours"
    return False, "no input follows distance / promised hours: the feature branch's km_per_promised_hour is lost"


def probe_delivery_hours_used(scaffold: Path) -> tuple[bool, str]:
    """The inputs do not change with delivery_hours, which is known only after the delivery."""
    build, problem = _build_features(scaffold)
    if build is None:
        return False, problem
    frame = parcels()
    other = frame.copy()
    other["delivery_hours"] = other["delivery_hours"][::-1].to_numpy() + 3.0
    empty = frame.copy()
    empty["delivery_hours"] = np.nan
    a, b, c = build(frame.copy()), build(other), build(empty)
    moved = [col for col in a.columns if col in b.columns and not np.allclose(a[col].to_numpy(float), b[col].to_numpy(float), equal_nan=True)]
    if moved or list(a.columns) != list(c.columns):
        return False, f"build_features' inputs change with delivery_hours ({', '.join(moved) or 'its columns'}): an after-the-fact column is an input"
    return True, "build_features' inputs do not depend on delivery_hours"


def probe_validation_rows_in_training(scaffold: Path) -> tuple[bool, str]:
    """No parcel is in both the training and the validation part, and both have rows."""
    frame = parcels(100)
    train, valid = _module(scaffold, "data").split_train_valid(frame, 0.2, 0)
    if len(train) == 0 or len(valid) == 0:
        return False, f"split_train_valid gave {len(train)} training and {len(valid)} validation rows"
    shared = set(train["parcel_id"]) & set(valid["parcel_id"])
    if shared:
        return False, f"{len(shared)} of the {len(valid)} validation parcels are also in the training part"
    return True, f"{len(train)} training and {len(valid)} validation parcels, none in both"

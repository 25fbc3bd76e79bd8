"""Ship the scenario packs as data under <prefix>/share/mlinterview/scenarios.

The packs hold private parts (holdout generator, reference solution, probes). Installing them
as data files keeps them off every import path a candidate kernel has, in a wheel as in a
strict editable install; the hub and the grader load them by path.
"""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent


def scenario_pack_data_files():
    files = {}
    for pack in sorted((HERE / "scenarios").glob("*/scenario.toml")):
        for path in sorted(pack.parent.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(HERE)
                target = str(Path("share/mlinterview") / rel.parent)
                files.setdefault(target, []).append(str(rel))
    return sorted(files.items())


setup(data_files=scenario_pack_data_files())

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


def jupyter_data_files():
    """The kernelspecs into <prefix>/share/jupyter/kernels, the server extension's auto-enable
    config into <prefix>/etc/jupyter/jupyter_server_config.d and JupyterLab's page config into
    <prefix>/etc/jupyter/labconfig (kernels/, extension/)."""
    files = [
        (f"share/jupyter/kernels/{spec.name}", [str(path.relative_to(HERE)) for path in sorted(spec.iterdir()) if path.is_file()])
        for spec in sorted((HERE / "kernels" / "kernelspecs").glob("mlinterview-*"))
    ]
    config = sorted((HERE / "extension" / "jupyter-config" / "jupyter_server_config.d").glob("*.json"))
    files.append(("etc/jupyter/jupyter_server_config.d", [str(path.relative_to(HERE)) for path in config]))
    # JupyterLab's page config: the news popup ("official Jupyter news?") is off for candidates
    labconfig = sorted((HERE / "extension" / "jupyter-config" / "labconfig").glob("*.json"))
    files.append(("etc/jupyter/labconfig", [str(path.relative_to(HERE)) for path in labconfig]))
    # JupyterLab's settings defaults: comms never over kernel subshells, which the history refuses
    lab_settings = sorted((HERE / "extension" / "jupyter-config" / "lab-settings").glob("*.json"))
    files.append(("share/jupyter/lab/settings/overrides.d", [str(path.relative_to(HERE)) for path in lab_settings]))
    return files + candidate_labextension_data_files()


LABEXTENSION = HERE / "extension" / "candidate-lab" / "labextension"


def candidate_labextension_data_files():
    """The candidate's JupyterLab extension, prebuilt (``make setup`` builds it with npm), into
    <prefix>/share/jupyter/labextensions/mlinterview-candidate."""
    if not (LABEXTENSION / "package.json").is_file():
        raise SystemExit(
            f"{LABEXTENSION} is not built: run 'make setup' (it builds the candidate's JupyterLab extension with npm) "
            "before building a wheel"
        )
    files = {}
    for path in sorted(LABEXTENSION.rglob("*")):
        if path.is_file():
            target = str(Path("share/jupyter/labextensions/mlinterview-candidate") / path.parent.relative_to(LABEXTENSION))
            files.setdefault(target, []).append(str(path.relative_to(HERE)))
    return sorted(files.items())


setup(data_files=scenario_pack_data_files() + jupyter_data_files())

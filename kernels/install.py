"""Installing the mlinterview kernelspecs (``mlinterview-cpu``, ``mlinterview-gpu``).

``pip install`` puts them into ``<prefix>/share/jupyter/kernels`` (setup.py data_files); this
module installs them elsewhere (``mlinterview kernels install --prefix P`` or ``--user``) through
jupyter_client's KernelSpecManager, writing this interpreter's absolute path into ``argv`` so
a kernel started by any Jupyter server runs where mlinterview is installed.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

KERNEL_NAMES = ("mlinterview-cpu", "mlinterview-gpu")


def bundled_kernelspec_dir(name: str) -> Path:
    """The folder of a kernelspec shipped with the package."""
    if name not in KERNEL_NAMES:
        raise ValueError(f"unknown kernelspec {name!r}; mlinterview ships {', '.join(KERNEL_NAMES)}")
    return Path(str(resources.files("mlinterview.kernels") / "kernelspecs" / name))


def kernelspec_for_interpreter(name: str, python: str = sys.executable) -> dict:
    """The kernel.json of ``name`` with ``python`` as the interpreter."""
    spec = json.loads((bundled_kernelspec_dir(name) / "kernel.json").read_text(encoding="utf-8"))
    spec["argv"][0] = python
    return spec


def install_kernelspecs(*, prefix: str | None = None, user: bool = False, python: str = sys.executable) -> list[str]:
    """Install both kernelspecs; returns the folders written."""
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelSpecManager()
    written = []
    for name in KERNEL_NAMES:
        with tempfile.TemporaryDirectory() as staging:
            folder = Path(staging) / name
            shutil.copytree(bundled_kernelspec_dir(name), folder)
            (folder / "kernel.json").write_text(json.dumps(kernelspec_for_interpreter(name, python), indent=2) + "\n", encoding="utf-8")
            written.append(manager.install_kernel_spec(str(folder), kernel_name=name, user=user, prefix=prefix))
    return written


def install_server_extension_config(prefix: str) -> list[Path]:
    """Write the Jupyter config shipped in ``extension/jupyter-config`` into PREFIX/etc/jupyter: the
    cell-history server extension's (``jupyter_server_config.d``) and JupyterLab's page config
    (``labconfig``: no news popup), and JupyterLab's settings defaults into PREFIX/share/jupyter/lab/settings
    (``lab-settings``: no comms over subshells). ``pip install`` does this through data_files; editable
    installs skip those."""
    source_root = resources.files("mlinterview.extension") / "jupyter-config"
    written = []
    for folder in ("jupyter_server_config.d", "labconfig"):
        for source in sorted((source_root / folder).iterdir(), key=lambda entry: entry.name):
            if not source.name.endswith(".json"):
                continue
            target = Path(prefix) / "etc" / "jupyter" / folder / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
            written.append(target)
    # JupyterLab's settings defaults for candidates (comms never over kernel subshells, which the
    # history refuses: CONFINEMENT.md), in PREFIX/share/jupyter/lab/settings/overrides.d
    for source in sorted((source_root / "lab-settings").iterdir(), key=lambda entry: entry.name):
        if source.name.endswith(".json"):
            target = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
            written.append(target)
    return written


def list_kernelspecs() -> dict[str, str]:
    """Installed mlinterview kernelspecs visible to Jupyter: name -> folder."""
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().find_kernel_specs()
    return {name: path for name, path in sorted(found.items()) if name in KERNEL_NAMES}

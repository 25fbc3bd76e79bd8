"""The distribution installs and runs from a built wheel, not only from the checkout.

A wheel is built from a copy of the checkout and installed, without dependencies, into a fresh
virtual environment whose only other path entry is this environment's site-packages (for the
dependencies). The editable install's finder is not active there, so every import below comes
from the wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory, repo_root: Path) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    # a copy without build outputs, so the wheel holds exactly what the tracked sources make
    tracked = subprocess.run(["git", "ls-files"], cwd=repo_root, capture_output=True, text=True, check=True).stdout.split()
    for relative in tracked:
        if (repo_root / relative).is_file():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo_root / relative, source / relative)
    # and the one build output the wheel ships: the candidate's JupyterLab extension, prebuilt by make setup
    labextension = Path("extension") / "candidate-lab" / "labextension"
    assert (repo_root / labextension / "package.json").is_file(), f"{labextension} is not built: run `make setup`"
    shutil.copytree(repo_root / labextension, source / labextension)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(source)],
        check=True, capture_output=True,
    )
    (wheel,) = (work / "dist").glob("mlinterview-*.whl")
    env = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    purelib = Path(subprocess.run(
        [str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--quiet", "--no-deps", str(wheel)],
        check=True, capture_output=True,
    )
    return env


def run_in(env: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(env / "bin" / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_wheel_imports_from_its_own_install(wheel_env: Path, tmp_path: Path):
    result = run_in(wheel_env, "python", "-c", "import mlinterview.scenarios, mlinterview.graders, mlinterview.kernels, "
                    "mlinterview.extension; print(mlinterview.scenarios.__file__)", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(wheel_env)), result.stdout


def test_wheel_cli_lists_the_shipped_packs(wheel_env: Path, tmp_path: Path):
    result = run_in(wheel_env, "mlinterview", "scenarios", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "churn" in result.stdout


def test_wheel_materializes_a_workspace(wheel_env: Path, tmp_path: Path):
    result = run_in(wheel_env, "mlinterview", "scenarios", "materialize", "churn", str(tmp_path / "ws"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    settings = json.loads((tmp_path / "ws" / ".mlinterview" / "workspace.json").read_text())
    assert settings["scenario"] == "churn"


def test_wheel_keeps_private_parts_off_the_import_path(wheel_env: Path, tmp_path: Path):
    """The packs are data under <prefix>/share: nothing named private is importable or in site-packages."""
    site_packages = next((wheel_env / "lib").glob("python3*/site-packages"))
    assert not list(site_packages.rglob("private")), "a private folder was installed into site-packages"
    assert list((wheel_env / "share" / "mlinterview" / "scenarios").glob("*/private/probes.py"))
    probe = (
        "import importlib, pkgutil, mlinterview\n"
        "from mlinterview.scenarios import list_packs\n"
        "names = [m.name for m in pkgutil.walk_packages(mlinterview.__path__, 'mlinterview.')]\n"
        "packs = {*list_packs(), 'private', 'reference'}\n"
        "bad = [n for n in names if any(part in packs for part in n.split('.'))]\n"
        "print(bad)\n"
        "for name in ('mlinterview.scenarios.churn', 'mlinterview.scenarios.churn.private.probes'):\n"
        "    try:\n"
        "        importlib.import_module(name); print('IMPORTED', name)\n"
        "    except ImportError:\n"
        "        pass\n"
    )
    result = run_in(wheel_env, "python", "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def test_wheel_installs_the_kernelspecs(wheel_env: Path, tmp_path: Path):
    result = run_in(wheel_env, "python", "-c", "from jupyter_client.kernelspec import KernelSpecManager as K; "
                    "print(sorted(K().find_kernel_specs()))", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "mlinterview-cpu" in result.stdout and "mlinterview-gpu" in result.stdout


def test_wheel_ships_the_hub_pages_and_turns_the_lab_news_popup_off(wheel_env: Path, tmp_path: Path):
    result = run_in(wheel_env, "python", "-c", "from mlinterview.extension.hub_settings import HUB_TEMPLATES; "
                    "print((HUB_TEMPLATES / 'home.html').is_file())", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "True", (result.stdout, result.stderr)
    page_config = json.loads((wheel_env / "etc" / "jupyter" / "labconfig" / "page_config.json").read_text())
    assert page_config["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] is True
    # the hub's menu entries (Hub Control Panel, Log Out) and its restart prompt are off for candidates
    assert page_config["disabledExtensions"]["@jupyterlab/hub-extension:menu"] is True
    assert page_config["disabledExtensions"]["@jupyterlab/hub-extension:connectionlost"] is True


def test_wheel_ships_the_candidates_jupyterlab_extension_prebuilt(wheel_env: Path, tmp_path: Path):
    result = run_in(wheel_env, "python", "-m", "jupyterlab.labextensions", "list", cwd=tmp_path)
    listed = result.stdout + result.stderr
    assert result.returncode == 0 and "mlinterview-candidate" in listed and "enabled" in listed and "OK" in listed, listed
    static = wheel_env / "share" / "jupyter" / "labextensions" / "mlinterview-candidate" / "static"
    assert any(path.name.startswith("remoteEntry.") for path in static.iterdir()), sorted(static.iterdir())


def test_wheel_ships_the_store_migrations_and_a_store_opens_at_the_newest(wheel_env: Path, tmp_path: Path):
    probe = (
        "from mlinterview.extension.service_store import MIGRATIONS_DIR, SCHEMA_REVISION, InterviewStore, store_revision\n"
        "store = InterviewStore('sqlite:///interviews.sqlite')\n"
        "with store.engine.connect() as connection:\n"
        "    print(store_revision(connection) == SCHEMA_REVISION)\n"
        "print(MIGRATIONS_DIR)\n"
        "print(' '.join(sorted(path.name for path in MIGRATIONS_DIR.rglob('*') if path.suffix in ('.py', '.mako'))))\n"
    )
    result = run_in(wheel_env, "python", "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    up_to_date, folder, files = result.stdout.strip().splitlines()
    assert up_to_date == "True" and folder.startswith(str(wheel_env)), result.stdout
    assert {"env.py", "script.py.mako", "0001_initial_schema.py", "0002_interview_time_out.py"} <= set(files.split()), files

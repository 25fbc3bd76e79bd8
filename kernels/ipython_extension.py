"""The IPython extension the mlinterview kernelspecs load (``%load_ext mlinterview.kernels.ipython_extension``).

At load it finds the workspace (``kernels/workspace.py``), makes the scaffold importable and
imports it, seeds Python, numpy and torch with the scenario's seed, picks the device, and
installs the constraint guard (``kernels/guard.py``). Around every cell: before it, the guard's
integrity is checked, a new training run starts and the scaffold package is reloaded if one of
its files changed (``kernels/scaffold_reload.py``: an edit takes effect the next time a cell
runs that uses it); after it, the integrity is checked again and the status panel
(``kernels/panel.py``) is refreshed. Unloading the extension switches the guard
off, which is reported as tampering (a ``tamper`` constraint event in the history). The panel
and any start-up warning (no GPU, a scaffold that does not import) are shown in the first cell
the candidate runs, because output published between cells reaches no notebook.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import traceback
import warnings
from typing import Any

from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, Int, List, Unicode
from traitlets.config import LoggingConfigurable

from . import workspace as ws
from .signals import STATUS_MIME, constraint_bundle, status_bundle

DEVICE_ENV = "MLINTERVIEW_KERNEL_DEVICE"


class CandidateKernelSession(LoggingConfigurable):
    """Everything the extension set up in this kernel; ``get_ipython().mlinterview`` points at it."""

    device_request = Unicode(help="'cpu' or 'gpu': which kernelspec started this kernel ($MLINTERVIEW_KERNEL_DEVICE).").tag(config=True)
    settings = Dict(help="The workspace's public settings (.mlinterview/workspace.json); empty outside a workspace.")
    workspace = AnyTrait(None, allow_none=True, help="The workspace folder (pathlib.Path) or None.")
    device = Unicode("cpu", help="The torch device models should use: 'cuda' or 'cpu'.")
    startup_warnings = List(Unicode(), help="Messages shown in the first cell (no GPU, scaffold import failure).")
    guard = AnyTrait(None, allow_none=True, help="The installed ConstraintGuard.")
    panel = AnyTrait(None, allow_none=True, help="The StatusPanel.")
    reloader = AnyTrait(None, allow_none=True, help="The ScaffoldReloader of the scaffold package, or None.")
    shown = Bool(False, help="Whether the first cell has shown the panel and the warnings.")
    last_status = Dict(help="The status last published to the server (kernels/signals.py).")
    settings_modified = Int(0, help="Modification time (ns) of the workspace settings as last read; a change means a released twist.")

    def __init__(self, shell: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.shell = shell

    # -- start ------------------------------------------------------------------------------

    def start(self) -> None:
        import numpy  # noqa: F401  (seeded below; the scaffold needs it anyway)
        import torch

        from .guard import guard_from_settings
        from .panel import StatusPanel

        self.device_request = os.environ.get(DEVICE_ENV, "cpu").lower()
        self.workspace = ws.find_workspace()
        self.settings = ws.read_settings(self.workspace) if self.workspace else {}
        self.settings_modified = ws.settings_modified(self.workspace) if self.workspace else 0
        if self.workspace is None:
            self.startup_warnings.append(
                "This kernel is not running inside an interview workspace (no .mlinterview/workspace.json "
                "here or above): no scenario constraints are enforced."
            )
        self.device = self._pick_device(torch)
        self.seed()
        self._quiet_known_warnings()
        if self.workspace is not None:
            ws.make_scaffold_importable(self.workspace)
            self._import_scaffold(self.settings.get("scaffold"))
        self.guard = guard_from_settings(self.settings, describe_model=self.describe_model, on_event=self.on_constraint_event, parent=self)
        self.guard.install()
        device_note = self.startup_warnings[0] if self.device_request == "gpu" and self.device == "cpu" else ""
        self.panel = StatusPanel.from_settings(
            self.settings, ws.interview_started_at(self.workspace), device_note=device_note, parent=self
        )
        self.shell.push({"DEVICE": torch.device(self.device)})
        # ipywidgets takes ~0.3 s to import: do it while the kernel finishes starting and the browser
        # connects, so the first cell does not wait for it (the import machinery's locks make this safe)
        threading.Thread(target=_import_quietly, args=("ipywidgets",), name="mlinterview-preload", daemon=True).start()
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self.shell.register_magic_function(self.status_magic, magic_kind="line", magic_name="mlinterview_status")

    def seed(self) -> None:
        """Seed Python, numpy and torch with the scenario's seed (at start, and again right before the
        first cell: the kernel's own start-up draws from ``random`` after the extension is loaded)."""
        seed = (self.settings.get("constraints") or {}).get("seed")
        if seed is not None:
            ws.seed_everything(int(seed))

    def _pick_device(self, torch: Any) -> str:
        if self.device_request != "gpu":
            return "cpu"
        if torch.cuda.is_available():
            return "cuda"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        assigned = f"CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else "no CUDA_VISIBLE_DEVICES assigned"
        self.startup_warnings.insert(
            0,
            f"No GPU is available to this kernel ({assigned}; torch {torch.__version__} sees no CUDA device). "
            "It runs on the CPU instead: DEVICE is 'cpu'. Ask the interviewer if this interview needs a GPU.",
        )
        return "cpu"

    def _quiet_known_warnings(self) -> None:
        """Hide torch's "The given NumPy array is not writable" warning: pandas hands out read-only
        arrays (copy-on-write), so torch.as_tensor(frame.to_numpy()) and friends, in the scaffold
        and in most fixes of it, would greet every run with it. Nothing here writes to such a tensor."""
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)

    def _import_scaffold(self, package: str | None) -> None:
        if not package:
            return
        self._watch_scaffold(package)
        try:
            importlib.import_module(package)
        except Exception:
            # a breaking bug may well sit in the scaffold's imports: say so, keep the kernel usable
            last = traceback.format_exc().strip().splitlines()[-1]
            self.startup_warnings.append(f"The scaffold package '{package}' does not import yet: {last}")

    def _watch_scaffold(self, package: str) -> None:
        """Reload the scaffold package before a cell when a file of one of its loaded modules changed
        (a stat per file per cell), whenever they were imported: stamped before the first import."""
        from .scaffold_reload import ScaffoldReloader

        self.reloader = ScaffoldReloader(package, self.workspace, self.shell.user_ns)
        self.reloader.watch()

    # -- per cell ---------------------------------------------------------------------------

    def pre_run_cell(self, info: Any = None) -> None:
        self.guard.check_integrity()
        self.follow_released_twist()
        self.guard.new_training_run()
        if self.reloader is not None:
            self.reloader.check()
        if not self.shown:
            self.shown = True
            for message in self.startup_warnings:
                sys.stderr.write(f"mlinterview: {message}\n")
            sys.stderr.flush()
            self.panel.display(self.models())
            self.seed()

    def follow_released_twist(self) -> None:
        """Pick up a twist the interviewer released since the last cell (a tighter parameter budget
        in the workspace settings, or new data files) and say so once."""
        if self.workspace is None or self.settings.get("twist"):
            return
        try:
            # a stat per cell, a parse only when the interview service rewrote the settings
            modified = ws.settings_modified(self.workspace)
            if modified == self.settings_modified:
                return
            self.settings_modified = modified
            settings = ws.read_settings(self.workspace)
        except (OSError, ValueError):
            return
        twist = settings.get("twist")
        if not twist:
            return
        self.settings = settings
        limit = (settings.get("constraints") or {}).get("max_parameters")
        if limit and int(limit) < self.guard.max_parameters:  # a twist only ever tightens the budget
            self.guard.max_parameters = int(limit)
            self.panel.max_parameters = float(limit)
        what = (f"the parameter budget is now {int(limit):,}" if twist.get("max_parameters")
                else "new data: " + ", ".join(twist.get("files") or []))
        sys.stderr.write(f"mlinterview: the interviewer released a twist, '{twist.get('title')}': {what}\n")
        sys.stderr.flush()

    def post_run_cell(self, result: Any = None) -> None:
        self.guard.check_integrity()
        models = self.models()
        self.panel.refresh(models)
        self.publish_status(models)

    def publish_status(self, models: list[tuple[str, int]]) -> None:
        """Tell the server (a silent display it keeps for the status bar and drops) when the models or
        the last training run's CPU time changed: a cell that changed neither costs no message."""
        from IPython.display import display

        seconds = self.guard.training_seconds()
        if seconds is None:  # this cell trained nothing: the last run's time still stands
            seconds = (self.last_status.get(STATUS_MIME) or {}).get("training_seconds")
        bundle = status_bundle(models=models, training_seconds=seconds)
        if bundle != self.last_status:
            self.last_status = bundle
            display(bundle, raw=True)

    def status_magic(self, line: str = "") -> None:
        """Show the interview status panel here: %mlinterview_status"""
        self.panel.display(self.models())

    # -- models -----------------------------------------------------------------------------

    def models(self) -> list[tuple[str, int]]:
        """(variable name, trainable parameter count) of the torch models in the notebook's namespace."""
        import torch

        found, seen = [], set()
        for name, value in list(self.shell.user_ns.items()):
            if name.startswith("_") or not isinstance(value, torch.nn.Module) or id(value) in seen:
                continue
            seen.add(id(value))
            found.append((name, self.guard.count(value)))
        found.sort(key=lambda item: -item[1])
        return found[:5]

    def describe_model(self, obj: Any) -> str:
        """Names what the guard counted: a module, an optimizer, or the tensors a backward pass reaches."""
        import torch

        names = [name for name, value in self.shell.user_ns.items() if value is obj and not name.startswith("_")]
        if isinstance(obj, torch.nn.Module):
            kind = type(obj).__name__
            return f"model '{names[0]}' ({kind})" if names else f"model {kind}"
        if isinstance(obj, torch.optim.Optimizer):
            tensors = [tensor for group in obj.param_groups for tensor in group["params"]]
        else:
            tensors = list(obj)
        ids = {id(t) for t in tensors}
        models = [name for name, value in self.shell.user_ns.items()
                  if isinstance(value, torch.nn.Module) and not name.startswith("_") and any(id(p) in ids for p in value.parameters())]
        inside = {id(p) for name in models for p in self.shell.user_ns[name].parameters()}
        outside = sum(int(t.numel()) for t in tensors if id(t) not in inside)
        what = (f"optimizer '{names[0]}'" if names else f"optimizer {type(obj).__name__}") if isinstance(obj, torch.optim.Optimizer) else "this backward pass"
        parts = [f"model '{name}' ({type(self.shell.user_ns[name]).__name__})" for name in models[:3]]
        if outside:
            parts.append(f"{outside:,} weights outside any model of the notebook")
        return f"{what} ({', '.join(parts)})" if parts else what

    def on_constraint_event(self, event: str, model: str, count: float, limit: float, message: str) -> None:
        """Tell the server extension (a silent display it records and drops) and, for warnings, the candidate."""
        from IPython.display import display

        display(constraint_bundle(event, model=model, count=count, limit=limit, message=message), raw=True)
        if event in ("near_limit", "tamper"):
            sys.stderr.write(f"mlinterview: warning: {message}\n")


def _import_quietly(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception:  # the panel falls back to text when ipywidgets is missing
        pass


def load_ipython_extension(shell: Any) -> None:
    if getattr(shell, "mlinterview", None) is not None:
        return
    started = time.perf_counter()
    session = CandidateKernelSession(shell, parent=shell)
    session.start()
    shell.mlinterview = session
    session.log.debug("mlinterview kernel extension ready in %.2f s", time.perf_counter() - started)


def unload_ipython_extension(shell: Any) -> None:
    session = getattr(shell, "mlinterview", None)
    if session is None:
        return
    session.guard.uninstall(reason="the mlinterview kernel extension was unloaded")
    shell.events.unregister("pre_run_cell", session.pre_run_cell)
    shell.events.unregister("post_run_cell", session.post_run_cell)
    shell.mlinterview = None


__all__ = ["CandidateKernelSession", "load_ipython_extension", "unload_ipython_extension"]

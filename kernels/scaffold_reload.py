"""Reloads the scaffold package before a cell when one of its files changed (``ScaffoldReloader``).

The candidate edits the scaffold's files (``churnlab/train.py``, ...) while the notebook's kernel
keeps running; an edit must take effect the next time a cell runs that uses it, dataclass
defaults and module constants included. IPython's autoreload does not promise that: its default
mode patches changed functions in place and leaves a dataclass's generated ``__init__`` (its
defaults) and a constant another module imported with ``from .train import EPOCHS`` as they were.

So, before every cell, the reloader compares the modification time and size of the package's
``.py`` files with those of the check before (a stat per file and per folder; ``sys.modules`` is
searched again only when its size changed), and a module imported since is compared with the
check before its import. When the file of a loaded module changed, all of the package's loaded
modules are imported afresh, as one step: they are taken out of ``sys.modules`` (their bytecode
files too: Python checks those by whole seconds and size) and imported again by name, so the
import system runs them in dependency order and a module re-runs its ``from .train import ...``
against the new ``train``. If any of them fails to import (a half-written edit), the previous
modules are put back, the cell runs with them and the error is shown once, until the next edit.

Then the notebook's names are pointed at the new objects: a name bound to a scaffold module, or to
a class or function defined in the scaffold (under any name: ``from churnlab.train import
train_model as fit``), and a name bound to the very object a scaffold module has under the same
name (a constant imported with ``from churnlab.data import LABEL_COLUMN``). Objects the notebook
made before the edit (a model, a config, the datasets) are left as they are: they keep their old
class, code and values until the cell that builds them runs again.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
import types
from typing import Any, Callable

Stamp = tuple[int, int] | None  # (st_mtime_ns, st_size) of a file; None when it cannot be read


def _stamp(path: str) -> Stamp:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


class ScaffoldReloader:
    """Keeps the scaffold package ``package`` (a folder of ``root``) in step with its files."""

    def __init__(self, package: str, root: str | os.PathLike, namespace: dict[str, Any],
                 write: Callable[[str, str], None] | None = None):
        self.package = package
        self.folder = os.path.realpath(os.path.join(os.fspath(root), *package.split(".")))
        self.namespace = namespace
        self.write = write or _write
        self.folders: dict[str, Stamp] = {}  # the package's folders: a file added or removed shows there
        self.files: set[str] = set()  # the .py files in them
        self.stamps: dict[str, Stamp] = {}  # those files and the loaded modules' as they were at the last check
        self.loaded: dict[str, str] = {}  # module name -> its .py file, for the package's loaded modules
        self.modules_seen = -1  # len(sys.modules) when the loaded modules were last looked up

    def watch(self) -> None:
        """Stamp the package's files as they are now: call it before the package's first import."""
        self._list_files()
        self._look_up_modules()
        self.stamps = {path: _stamp(path) for path in {*self.files, *self.loaded.values()}}

    # -- per cell ---------------------------------------------------------------------------

    def check(self) -> bool:
        """Before a cell: reload the package if the file of a loaded module changed since the last
        check (for a module imported since, since the check before its import). True if reloaded."""
        try:
            if not self.folders or any(_stamp(folder) != stamp for folder, stamp in self.folders.items()):
                self._list_files()
            if len(sys.modules) != self.modules_seen:
                self._look_up_modules()
            now = {path: _stamp(path) for path in {*self.files, *self.loaded.values()}}
            changed = sorted({path for path in self.loaded.values() if path in self.stamps and now[path] != self.stamps[path]})
            self.stamps = now  # taken before the import: an edit made while it runs is seen next time
            return self.reload(changed) if changed else False
        except Exception as error:  # never stop the candidate's cell over this
            self.write("stderr", f"mlinterview: the scaffold package '{self.package}' could not be reloaded: "
                                 f"{type(error).__name__}: {error}\n")
            return False

    # -- reloading --------------------------------------------------------------------------

    def reload(self, changed: list[str]) -> bool:
        """Import every loaded module of the package afresh; on failure put the old ones back."""
        old = {name: module for name, module in list(sys.modules.items()) if self._is_scaffold(name)}
        what = ", ".join(self._relative(path) for path in changed)
        for module in old.values():  # bytecode is checked by whole seconds and size: a quick
            self._drop_bytecode(module)  # same-size edit would otherwise load the old version
        importlib.invalidate_caches()
        for name in old:
            del sys.modules[name]
        try:
            fresh = {}
            for name in old:
                path = self.loaded.get(name)
                if path is not None and not os.path.exists(path):
                    continue  # the file was deleted: its module goes with it
                fresh[name] = importlib.import_module(name)
        except BaseException as error:
            for name in [name for name in sys.modules if self._is_scaffold(name)]:
                del sys.modules[name]
            sys.modules.update(old)  # said once; tried again after the next edit
            self._look_up_modules()
            if not isinstance(error, Exception):
                raise
            self.write("stderr", f"mlinterview: {self.package} was not reloaded after the change to {what}: "
                                 f"{self._describe(error)}. Cells use the version from before that change "
                                 "until the package imports again.\n")
            return False
        self._rebind(old, fresh)
        self._look_up_modules()
        self.write("stdout", f"mlinterview: reloaded {self.package} ({what} changed). "
                             "Objects made before keep their old code and values: re-run the cells that build them.\n")
        return True

    def _rebind(self, old: dict[str, types.ModuleType], fresh: dict[str, types.ModuleType]) -> None:
        by_identity: dict[int, Any] = {}  # modules, and classes and functions defined in the scaffold
        by_name: dict[str, list[tuple[Any, Any]]] = {}  # other values, matched by name and identity
        for name, module in old.items():
            if name in fresh:
                by_identity[id(module)] = fresh[name]
        for name, module in old.items():
            if name not in fresh:
                continue
            new_values = vars(fresh[name])
            for attribute, value in vars(module).items():
                if attribute.startswith("__") or attribute not in new_values or new_values[attribute] is value:
                    continue
                if isinstance(value, types.ModuleType):
                    continue
                if isinstance(value, (type, types.FunctionType)) and getattr(value, "__module__", None) in old:
                    by_identity.setdefault(id(value), new_values[attribute])
                else:
                    by_name.setdefault(attribute, []).append((value, new_values[attribute]))
        for key, value in list(self.namespace.items()):
            if key.startswith("_"):
                continue
            if id(value) in by_identity:
                self.namespace[key] = by_identity[id(value)]
                continue
            for before, after in by_name.get(key, ()):
                if before is value:
                    self.namespace[key] = after
                    break

    # -- the package's modules --------------------------------------------------------------

    def _is_scaffold(self, name: str) -> bool:
        return name == self.package or name.startswith(self.package + ".")

    def _list_files(self) -> None:
        """Find the package's folders and .py files, links left out (nothing outside it is watched)."""
        folders, files = {}, set()
        for folder, subfolders, names in os.walk(self.folder):
            subfolders[:] = [name for name in subfolders if not name.startswith((".", "__pycache__"))]
            folders[folder] = _stamp(folder)
            files.update(os.path.join(folder, name) for name in names
                         if name.endswith(".py") and not os.path.islink(os.path.join(folder, name)))
        self.folders, self.files = folders, files

    def _look_up_modules(self) -> None:
        """The package's loaded modules whose file is a .py file in the package's folder."""
        loaded = {}
        for name, module in list(sys.modules.items()):
            if not self._is_scaffold(name):
                continue
            path = getattr(module, "__file__", None)
            if path and path.endswith(".py"):
                path = os.path.realpath(path)
                if path.startswith(self.folder + os.sep):
                    loaded[name] = path
        self.loaded = loaded
        self.modules_seen = len(sys.modules)

    def _drop_bytecode(self, module: types.ModuleType) -> None:
        cached = getattr(module, "__cached__", None)
        if not cached or os.path.commonpath([os.path.realpath(os.path.dirname(cached)), self.folder]) != self.folder:
            return
        try:
            os.unlink(cached)
        except OSError:
            pass

    def _relative(self, path: str) -> str:
        return os.path.join(os.path.basename(self.folder), os.path.relpath(path, self.folder))

    def _describe(self, error: BaseException) -> str:
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, SyntaxError) and error.filename:
            return f"{type(error).__name__}: {error.msg} ({self._where(error.filename)}, line {error.lineno})"
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if os.path.realpath(frame.filename).startswith(self.folder + os.sep)]
        if frames:
            text += f" ({self._where(frames[-1].filename)}, line {frames[-1].lineno})"
        return text

    def _where(self, filename: str) -> str:
        path = os.path.realpath(filename)
        return self._relative(path) if path.startswith(self.folder + os.sep) else filename


def _write(stream: str, text: str) -> None:
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()


__all__ = ["ScaffoldReloader"]

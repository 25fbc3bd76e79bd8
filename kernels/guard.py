"""The constraint guard: a torch model over the parameter limit cannot be run or trained.

One global forward pre-hook (``torch.nn.modules.module.register_module_forward_pre_hook``, a
public torch API) sees every module call. The outermost module of a call is always checked
first, and every submodule of a model under the limit is itself under the limit, so checking
each call against a cached count is the same as checking only top-level models, without
tracking call depth.

* Parameter limit: a module whose *trainable* parameter count (unique parameters with
  ``requires_grad``, the schema's definition) exceeds ``max_parameters`` raises
  ``ConstraintViolation`` naming the model, its count and the limit; its forward never runs.
* Training-time budget: a *training run* is one cell execution (or the span between two
  ``new_training_run()`` calls outside IPython). It starts at the first forward pass of a
  module in training mode with gradients enabled; once ``train_time_budget_seconds`` of wall
  time have passed since then, further training-mode forward passes in that run raise
  ``TrainingTimeExceeded``. Evaluation (``eval()`` mode or ``torch.no_grad()``) is never limited.

Counts are cached on each module (an entry in its ``__dict__`` stamped with the guard's current
generation, so freed models are not kept alive and copies or unpickled models recount) and
the cache is invalidated whenever any module registers a parameter or a submodule (torch's
global registration hooks), at the start of every cell, and never kept for modules with lazy
(uninitialised) parameters: those are checked again right after the forward pass that
materialises them, so even their first output is refused when they turn out too big. A model
under the limit therefore costs one dictionary lookup and a comparison per module call; the
settings are mirrored into plain attributes because a traitlets read is slow at that rate.

The guard is a convenience for the candidate and a signal for the interviewer, not the
authority: candidate code runs in the same process and could remove it. The grader re-checks
every constraint on the replayed model.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Callable

import torch
from torch.nn.modules import module as torch_module
from torch.nn.parameter import is_lazy
from traitlets import Callable as CallableTrait
from traitlets import Float, Int, observe
from traitlets.config import LoggingConfigurable
_grad_enabled = torch.is_grad_enabled
_monotonic = time.monotonic

# the per-module cache entry: (guard generation, trainable parameter count)
_CACHE_KEY = "_mlinterview_parameter_count"
_LAZY_CHECK_KEY = "_mlinterview_lazy_check"


class ConstraintViolation(RuntimeError):
    """A scenario constraint was broken; ``model``, ``count`` and ``limit`` say how."""

    def __init__(self, message: str, *, model: str, count: float, limit: float, event: str = "violation"):
        super().__init__(message)
        self.model, self.count, self.limit, self.event = model, count, limit, event

class TrainingTimeExceeded(ConstraintViolation):
    """A training run went past the scenario's training-time budget."""

def trainable_parameter_count(module: torch.nn.Module) -> int:
    """Unique trainable parameters of ``module`` (shared weights counted once; lazy ones as 0)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad and not is_lazy(p))

def _has_lazy_parameters(module: torch.nn.Module) -> bool:
    return any(is_lazy(p) for p in module.parameters())

class ConstraintGuard(LoggingConfigurable):
    """Enforces the scenario's parameter limit and training-time budget on torch models in this process."""

    max_parameters = Int(
        0, help="Largest trainable parameter count a model may have; 0 disables the check."
    ).tag(config=True)
    train_time_budget_seconds = Float(
        0.0, help="Wall time one training run may take (see the module docstring); 0 disables the check."
    ).tag(config=True)
    near_limit_fraction = Float(
        0.9, help="A model at or above this fraction of the limit gets one warning (and one history signal)."
    ).tag(config=True)
    describe_model = CallableTrait(
        None, allow_none=True,
        help="Callable(module) -> str naming a model for messages (the kernel extension looks up its variable name).",
    )
    on_event = CallableTrait(
        None, allow_none=True,
        help="Callable(event, model, count, limit, message) called for each violation and warning (history signal).",
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._generation = object()
        self._warned: weakref.WeakKeyDictionary[torch.nn.Module, int] = weakref.WeakKeyDictionary()
        self._handles: list[Any] = []
        self._run_started: float | None = None
        self._time_warned = False
        self._warned_this_run: set[int] = set()
        self._settings_changed()

    @observe("max_parameters", "train_time_budget_seconds", "near_limit_fraction")
    def _settings_changed(self, change: Any = None) -> None:
        self._limit = self.max_parameters
        self._budget = self.train_time_budget_seconds
        # below this count nothing else is looked at: the common, fast path
        self._attention_threshold = self.near_limit_fraction * self._limit if self._limit else float("inf")

    # -- installation -----------------------------------------------------------------------

    @property
    def installed(self) -> bool:
        return bool(self._handles)

    def install(self) -> "ConstraintGuard":
        """Register the global hooks (idempotent)."""
        if not self._handles:
            self._handles = [
                torch_module.register_module_forward_pre_hook(self._forward_pre_hook),
                torch_module.register_module_parameter_registration_hook(self._structure_changed),
                torch_module.register_module_module_registration_hook(self._structure_changed),
            ]
        return self

    def uninstall(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # -- bookkeeping ------------------------------------------------------------------------

    def _structure_changed(self, *args: Any) -> None:
        self._generation = object()

    def new_training_run(self) -> None:
        """Start a new training run (the kernel extension calls this before every cell) and forget cached counts."""
        self._run_started = None
        self._time_warned = False
        self._warned_this_run: set[int] = set()
        self._generation = object()

    def count(self, module: torch.nn.Module) -> int:
        """The module's trainable parameter count, cached until the structure may have changed."""
        entry = module.__dict__.get(_CACHE_KEY)
        if entry is not None and entry[0] is self._generation:
            return entry[1]
        counted = trainable_parameter_count(module)
        if not _has_lazy_parameters(module):
            module.__dict__[_CACHE_KEY] = (self._generation, counted)
        elif _LAZY_CHECK_KEY not in module.__dict__:
            # its size is only known once this forward has materialised it: check right after, before
            # the output can be used
            module.__dict__[_LAZY_CHECK_KEY] = module.register_forward_hook(self._after_lazy_forward)
        return counted

    def _after_lazy_forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if _has_lazy_parameters(module):
            return
        module.__dict__.pop(_LAZY_CHECK_KEY).remove()
        count = self.count(module)
        if self._limit and count > self._limit:
            self._violation(module, count, self._limit)

    def _name(self, module: torch.nn.Module) -> str:
        if self.describe_model is not None:
            try:
                return str(self.describe_model(module))
            except Exception:  # a naming failure must never hide the violation itself
                pass
        return type(module).__name__

    def _emit(self, event: str, model: str, count: float, limit: float, message: str) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event, model, count, limit, message)
            except Exception:
                self.log.debug("constraint signal failed", exc_info=True)

    # -- the hook ---------------------------------------------------------------------------

    def _forward_pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        entry = module.__dict__.get(_CACHE_KEY)
        count = entry[1] if entry is not None and entry[0] is self._generation else self.count(module)
        if count >= self._attention_threshold:
            if count > self._limit:
                self._violation(module, count, self._limit)
            if self._warned.get(module) != count:
                self._near_limit(module, count, self._limit)
        # parameterless layers (activations, dropout) train nothing: skip the clock for them. Inlined (no
        # method call) because this line runs for every module call of every training step.
        if count and self._budget and module.training and _grad_enabled():
            now = _monotonic()
            started = self._run_started
            if started is None:
                self._run_started = now
            elif now - started > self._budget:
                self._training_time_exceeded(now - started)

    def _violation(self, module: torch.nn.Module, count: int, limit: int) -> None:
        name = self._name(module)
        message = (
            f"{name} has {count:,} trainable parameters, over this scenario's limit of {limit:,}: "
            f"it cannot be run or trained. Make the model smaller (fewer or narrower layers) and run the cell again."
        )
        self._emit("violation", name, count, limit, message)
        raise ConstraintViolation(message, model=name, count=count, limit=limit)

    def _near_limit(self, module: torch.nn.Module, count: int, limit: int) -> None:
        self._warned[module] = count
        if count in self._warned_this_run:
            return  # the same parameters seen again through a submodule (a model wrapping its layers)
        self._warned_this_run.add(count)
        name = self._name(module)
        message = f"{name} has {count:,} trainable parameters, {count / limit:.0%} of the limit of {limit:,}."
        self.log.info("mlinterview: %s", message)
        self._emit("near_limit", name, count, limit, message)

    def _training_time_exceeded(self, elapsed: float) -> None:
        budget = self._budget
        message = (
            f"This training run has taken {elapsed:.1f} s, over this scenario's training-time budget of "
            f"{budget:g} s: further training steps in this cell are refused. Train for fewer steps or a "
            f"smaller model; evaluation (model.eval() or torch.no_grad()) is not limited."
        )
        if not self._time_warned:
            self._time_warned = True
            self._emit("time_budget", "training run", round(elapsed, 3), budget, message)
        raise TrainingTimeExceeded(message, model="training run", count=round(elapsed, 3), limit=budget, event="time_budget")


def guard_from_settings(settings: dict[str, Any], **kwargs: Any) -> ConstraintGuard:
    """A guard configured from a workspace's ``constraints`` settings (missing values disable checks)."""
    constraints = settings.get("constraints") or {}
    return ConstraintGuard(
        max_parameters=int(constraints.get("max_parameters") or 0),
        train_time_budget_seconds=float(constraints.get("train_time_budget_seconds") or 0.0),
        near_limit_fraction=float(constraints.get("near_limit_fraction") or 0.9),
        **kwargs,
    )

OnEvent = Callable[[str, str, float, float, str], None]

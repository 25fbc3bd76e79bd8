"""The constraint guard: a model over the parameter limit cannot be trained, a training run over budget is stopped.

It acts where training starts, not on every forward pass (cheaper, and harder to get around):

* **Optimizer construction** (every ``add_param_group``, which ``Optimizer.__init__`` calls) and
  **optimizer steps** (torch's global ``register_optimizer_step_pre_hook``): the optimizer's
  trainable tensors are counted: every unique tensor in its ``param_groups`` that requires grad
  or already carries a gradient (a tensor trained, then marked ``requires_grad=False``, still has
  one). Plain tensors count like module parameters: an optimizer trains what it holds.
* **Backward passes** (``torch.autograd.backward``, ``Tensor.backward`` and ``torch.autograd.grad``
  all run through ``torch.autograd._engine_run_backward``, which the guard wraps): the leaf
  tensors of the autograd graph are counted, that is every weight the loss reaches, wherever it
  is kept (a module, a dict of a scaffold file, a closure); when the call names its ``inputs``
  (``torch.autograd.grad``), those.

Counting a graph or an optimizer costs microseconds, a step costs about as much: the guard counts
on the first step and the first backward pass of each training run, then on the 2nd, 4th, 8th, ...
and every 256th, and checks its own integrity each time. Over the limit, ``ConstraintViolation``
is raised (naming the model, the count and the limit) before the step or the backward pass runs.

* **Training-time budget**, in CPU seconds of this process (``time.process_time``, what the pack's
  calibration measures, so a loaded machine does not fail a candidate): a *training run* is one
  cell execution (or the span between two ``new_training_run()`` calls outside IPython); it starts
  at its first backward pass; past ``train_time_budget_seconds``, further backward passes in that
  run raise ``TrainingTimeExceeded``. Evaluation is never limited.
* **Tampering** (the hooks removed, the wrapper replaced, the limit or budget raised, the guard
  switched off, weights hidden behind ``requires_grad=False``) is detected at the next check or
  the next cell boundary (``check_integrity``), reported as a ``tamper`` event (recorded in the
  history like violations) and repaired.

The guard is a convenience for the candidate and a signal for the interviewer, not the authority:
candidate code runs in the same process. The grader re-counts every trainable tensor on the
replayed kernel (``kernels/capacity.py``) and reads the replay's own guard.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import torch
import torch.autograd
from torch.nn.modules import module as torch_module
from torch.nn.parameter import is_lazy
from torch.optim import optimizer as torch_optimizer
from traitlets import Callable as CallableTrait
from traitlets import Float, Int, observe
from traitlets.config import LoggingConfigurable

_cpu_seconds = time.process_time
_Tensor = torch.Tensor

# the per-module cache entry: (guard generation, trainable parameter count)
_CACHE_KEY = "_mlinterview_parameter_count"
EVERY = 256  # past the doubling schedule, one counted step in this many


class ConstraintViolation(RuntimeError):
    """A scenario constraint was broken; ``model``, ``count`` and ``limit`` say how."""

    def __init__(self, message: str, *, model: str, count: float, limit: float, event: str = "violation"):
        super().__init__(message)
        self.model, self.count, self.limit, self.event = model, count, limit, event


class TrainingTimeExceeded(ConstraintViolation):
    """A training run went past the scenario's training-time budget."""


def trainable_parameter_count(module: torch.nn.Module) -> int:
    """Unique trainable parameters of ``module`` (shared weights counted once; lazy ones as 0)."""
    return sum(p.numel() for p in module.parameters() if (p.requires_grad or p.grad is not None) and not is_lazy(p))


def _trained(tensor: Any) -> bool:
    return isinstance(tensor, _Tensor) and (tensor.requires_grad or tensor.grad is not None) and not is_lazy(tensor)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """Unique trainable tensors an optimizer holds."""
    unique = {}
    for group in optimizer.param_groups:
        for tensor in group.get("params", ()):
            if _trained(tensor):
                unique[id(tensor)] = tensor
    return list(unique.values())


def graph_leaves(outputs: Iterable[Any]) -> list[torch.Tensor]:
    """The leaf tensors a backward pass from ``outputs`` reaches (what it computes gradients for)."""
    stack, seen, leaves = [], set(), {}
    for output in outputs:
        if isinstance(output, _Tensor):
            if output.grad_fn is not None:
                stack.append(output.grad_fn)
            elif output.requires_grad:
                leaves[id(output)] = output
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)  # AccumulateGrad: the leaf it accumulates into
        if variable is not None:
            leaves[id(variable)] = variable
        stack.extend(next_node for next_node, _ in node.next_functions)
    return list(leaves.values())


def _scheduled(number: int) -> bool:
    """Counted calls: 1, 2, 4, 8, ... and every EVERY-th."""
    return number & (number - 1) == 0 or number % EVERY == 0


class ConstraintGuard(LoggingConfigurable):
    """Enforces the scenario's parameter limit and training-time budget on training in this process."""

    max_parameters = Int(
        0, help="Largest number of weights one model may train; 0 disables the check. Once installed it can only be lowered."
    ).tag(config=True)
    train_time_budget_seconds = Float(
        0.0, help="CPU seconds one training run may take (see the module docstring); 0 disables the check."
    ).tag(config=True)
    near_limit_fraction = Float(
        0.9, help="A model at or above this fraction of the limit gets one warning (and one history signal)."
    ).tag(config=True)
    describe_model = CallableTrait(
        None, allow_none=True,
        help="Callable(obj) -> str naming what is trained for messages: obj is a module, an optimizer or a list "
        "of tensors (the kernel extension looks up variable names).",
    )
    on_event = CallableTrait(
        None, allow_none=True,
        help="Callable(event, model, count, limit, message) called for each violation, warning and tampering (history signal).",
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._generation = object()
        self._warned: set[int] = set()
        self._handles: list[Any] = []
        self._installed = False
        self._authority: tuple[int, float] | None = None
        self._original_engine = None
        self._original_add_param_group = None
        self._reported: set[str] = set()
        self.tamper_events: list[str] = []
        self.largest_trained = 0  # the most weights seen trained together in this kernel (the grader reads it)
        self.new_training_run()
        self._settings_changed()

        guard = self

        # Plain functions (not bound methods): installed once, compared by identity in check_integrity.
        def guarded_backward(outputs, *args, **kwargs):
            if guard._installed:
                guard._backwards += 1
                if _scheduled(guard._backwards):
                    # torch.autograd.grad (and backward(inputs=...)) name the tensors they compute gradients for
                    inputs = args[3] if len(args) > 3 else kwargs.get("inputs")
                    guard._check_backward(outputs, inputs)
                if guard._budget:
                    guard._tick()
            return guard._original_engine(outputs, *args, **kwargs)

        def guarded_add_param_group(optimizer, param_group):
            guard._original_add_param_group(optimizer, param_group)
            if guard._installed:
                guard._check_optimizer(optimizer)

        self._guarded_backward = guarded_backward
        self._guarded_add_param_group = guarded_add_param_group

    @observe("max_parameters", "train_time_budget_seconds", "near_limit_fraction")
    def _settings_changed(self, change: Any = None) -> None:
        if change is not None and getattr(self, "_installed", False) and self._authority is not None:
            limit, budget = self._authority
            loosened = (change.name == "max_parameters" and limit and (not change.new or change.new > limit)) or (
                change.name == "train_time_budget_seconds" and budget and (not change.new or change.new > budget)
            )
            if loosened:
                self._tampered(f"guard.{change.name} was raised from {change.old:g} to {change.new:g}; it stays {change.old:g}")
                setattr(self, change.name, change.old)
                return
            self._authority = (self.max_parameters, self.train_time_budget_seconds)
        self._limit = self.max_parameters
        self._budget = self.train_time_budget_seconds
        self._attention_threshold = self.near_limit_fraction * self._limit if self._limit else float("inf")

    # -- installation -----------------------------------------------------------------------

    @property
    def installed(self) -> bool:
        return self._installed

    def install(self) -> "ConstraintGuard":
        """Register the hooks and wrappers (idempotent)."""
        if self._installed:
            return self
        engine = torch.autograd._engine_run_backward
        self._original_engine = engine if engine is not self._guarded_backward else self._original_engine
        torch.autograd._engine_run_backward = self._guarded_backward
        add = torch.optim.Optimizer.add_param_group
        self._original_add_param_group = add if add is not self._guarded_add_param_group else self._original_add_param_group
        torch.optim.Optimizer.add_param_group = self._guarded_add_param_group
        self._handles = [
            torch_optimizer.register_optimizer_step_pre_hook(self._optimizer_step),
            torch_module.register_module_parameter_registration_hook(self._structure_changed),
            torch_module.register_module_module_registration_hook(self._structure_changed),
        ]
        self._installed = True
        self._authority = (self.max_parameters, self.train_time_budget_seconds)
        self._on_event_at_install = self.on_event
        return self

    def uninstall(self, reason: str | None = "guard.uninstall() was called") -> None:
        """Remove the hooks and wrappers. Any ``reason`` is reported as tampering (the kernel
        extension's own shutdown passes None)."""
        if not self._installed:
            return
        if reason:
            self._tampered(f"the constraint guard was switched off: {reason}")
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if torch.autograd._engine_run_backward is self._guarded_backward:
            torch.autograd._engine_run_backward = self._original_engine
        if torch.optim.Optimizer.add_param_group is self._guarded_add_param_group:
            torch.optim.Optimizer.add_param_group = self._original_add_param_group
        self._installed = False

    def check_integrity(self) -> list[str]:
        """What has been tampered with since install (each said once as a ``tamper`` event); repairs it."""
        if not self._installed:
            return []
        problems = []
        step, parameter, module = self._handles
        if step.id not in torch_optimizer._global_optimizer_pre_hooks:
            problems.append("torch's global optimizer hooks were cleared")
        if parameter.id not in torch_module._global_parameter_registration_hooks or module.id not in torch_module._global_module_registration_hooks:
            problems.append("torch's global module registration hooks were cleared")
        if torch.autograd._engine_run_backward is not self._guarded_backward:
            problems.append("torch.autograd's backward engine entry was replaced")
        if torch.optim.Optimizer.add_param_group is not self._guarded_add_param_group:
            problems.append("torch.optim.Optimizer.add_param_group was replaced")
        if self.on_event is not self._on_event_at_install:
            problems.append("the guard's event signal was replaced")
        limit, budget = self._authority
        if (self._limit, self._budget) != (limit, budget) or (self.max_parameters, self.train_time_budget_seconds) != (limit, budget):
            problems.append(f"the guard's limits were changed (limit {self._limit:g}, budget {self._budget:g} s; set: {limit:g}, {budget:g} s)")
        if problems:
            on_event = self._on_event_at_install
            self.set_trait("on_event", on_event)
            self.uninstall(reason=None)
            self.max_parameters, self.train_time_budget_seconds = limit, budget
            self._limit, self._budget = limit, budget
            self.install()
            for problem in problems:
                self._tampered(problem + "; the guard is back in place")
        return problems

    # -- bookkeeping ------------------------------------------------------------------------

    def _structure_changed(self, *args: Any) -> None:
        self._generation = object()

    def new_training_run(self) -> None:
        """Start a new training run (the kernel extension calls this before every cell) and forget cached counts."""
        self._run_started: float | None = None
        self._time_warned = False
        self._steps = 0
        self._backwards = 0
        self._ticks = 0
        self._generation = object()

    def training_seconds(self) -> float | None:
        """CPU seconds the current cell's training run has used so far; None when the cell trained nothing."""
        started = getattr(self, "_run_started", None)
        return None if started is None else _cpu_seconds() - started

    def count(self, module: torch.nn.Module) -> int:
        """The module's trainable parameter count, cached until the structure may have changed."""
        entry = module.__dict__.get(_CACHE_KEY)
        if entry is not None and entry[0] is self._generation:
            return entry[1]
        counted = trainable_parameter_count(module)
        if not any(is_lazy(p) for p in module.parameters()):
            module.__dict__[_CACHE_KEY] = (self._generation, counted)
        return counted

    def _name(self, obj: Any) -> str:
        if self.describe_model is not None:
            try:
                return str(self.describe_model(obj))
            except Exception:  # a naming failure must never hide the violation itself
                pass
        if isinstance(obj, (torch.nn.Module, torch.optim.Optimizer)):
            return f"{'optimizer' if isinstance(obj, torch.optim.Optimizer) else 'model'} {type(obj).__name__}"
        return "this backward pass"

    def _emit(self, event: str, model: str, count: float, limit: float, message: str) -> None:
        on_event = self.on_event if self.on_event is not None else getattr(self, "_on_event_at_install", None)
        if on_event is not None:
            try:
                on_event(event, model, count, limit, message)
            except Exception:
                self.log.debug("constraint signal failed", exc_info=True)

    def _tampered(self, problem: str) -> None:
        if problem in self._reported:
            return
        self._reported.add(problem)
        self.tamper_events.append(problem)
        message = f"tampering with the constraint guard: {problem}. This is recorded for the interviewers."
        self.log.warning("mlinterview: %s", message)
        self._emit("tamper", "constraint guard", len(self.tamper_events), 0, message)

    # -- the checks -------------------------------------------------------------------------

    def _optimizer_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        # the clock is read from the backward wrapper: every training step has a backward pass
        steps = self._steps = self._steps + 1
        if not steps & (steps - 1) or not steps % EVERY:
            self._check_optimizer(optimizer)

    def _check_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        self.check_integrity()
        self._check_tensors(optimizer_tensors(optimizer), optimizer)

    def _check_backward(self, outputs: Any, inputs: Any = None) -> None:
        self.check_integrity()
        named = [t for t in (inputs or ()) if isinstance(t, _Tensor) and t.is_leaf] if isinstance(inputs, (tuple, list)) else []
        if named:
            self._check_tensors(list({id(t): t for t in named}.values()), None)
            return
        outputs = (outputs,) if isinstance(outputs, _Tensor) else tuple(outputs or ())
        self._check_tensors(graph_leaves(outputs), None)

    def _tick(self) -> None:
        # reading the CPU clock costs as much as a small step: look at it on every 16th step or backward pass
        self._ticks += 1
        if self._run_started is None or not self._ticks & 15:
            self._check_time()

    def _check_tensors(self, tensors: list[torch.Tensor], owner: Any) -> None:
        count = sum(int(t.numel()) for t in tensors)
        self.largest_trained = max(self.largest_trained, count)
        if count < self._attention_threshold:
            return
        name = self._name(owner if owner is not None else tensors)
        hidden = sum(int(t.numel()) for t in tensors if not t.requires_grad)
        if count > self._limit:
            if hidden and count - hidden <= self._limit:
                self._tampered(f"{name}: {hidden:,} trained weights were marked requires_grad=False while keeping their gradients")
            message = (
                f"{name} trains {count:,} weights, over this scenario's limit of {self._limit:,} trainable parameters: "
                f"it cannot be trained. Make the model smaller (fewer or narrower layers) and run the cell again."
            )
            self._emit("violation", name, count, self._limit, message)
            raise ConstraintViolation(message, model=name, count=count, limit=self._limit)
        if count not in self._warned:
            self._warned.add(count)
            message = f"{name} trains {count:,} weights, {count / self._limit:.0%} of the limit of {self._limit:,}."
            self.log.info("mlinterview: %s", message)
            self._emit("near_limit", name, count, self._limit, message)

    def _check_time(self) -> None:
        now = _cpu_seconds()
        started = self._run_started
        if started is None:
            self._run_started = now
        elif now - started > self._budget:
            self._training_time_exceeded(now - started)

    def _training_time_exceeded(self, elapsed: float) -> None:
        budget = self._budget
        message = (
            f"This training run has used {elapsed:.1f} s of CPU time, over this scenario's training-time budget of "
            f"{budget:g} s: further training steps in this cell are refused. Train for fewer steps or a "
            f"smaller model; evaluation is not limited."
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

"""What the replayed notebook actually did: observed in its kernel, judged here.

The probes of a pack (``private/probes.py``) test the scaffold's functions. A candidate may fix a
bug anywhere else: in a notebook cell, in a function they wrote, by replacing a scaffold function
from the notebook. So the grader also watches the replayed notebook's own run and asks its
objects, in the replayed (sandboxed) kernel:

- :data:`OBSERVER_CODE` runs before the first cell. It adds hooks that only look (they change no
  number and draw no random number): every optimizer step (its learning rate, whether the
  gradients were fresh, i.e. equal to what the backward passes since the previous step gave, up
  to a uniform scale such as clipping), and every training call of torch's loss functions (the
  range of the inputs, the order of the targets).
- :data:`FACTS_CODE` runs after the cells (and after the holdout predictions): it calls the
  notebook's ``predict`` on a sample of the candidate's own data, as is and perturbed (a column
  flipped, a sentinel code replaced by NaN), with the same seeds, watching which modules run in
  training mode; and it finds the notebook's training and validation frames (names such as
  ``train``/``valid`` holding the id and label columns), to tell whether the split keeps groups
  apart or validates on later rows. The validation frame is written out, so the grader scores
  the candidate's validation split as the notebook defined it.

``judge(check, facts)`` turns the facts into a verdict per ``[[bugs.behaviour]]`` check of
``scenario.toml``: ``fixed``, ``not_fixed``, or ``None`` with the reason there is no evidence.
``combine`` merges those with the probe verdicts (the scaffold functions as the notebook left
them, then the scaffold files) into the report's verdict, ``undetermined`` where the evidence is
missing or conflicts. Everything here runs in the candidate's process, like the predictions: a
determined candidate could lie to it; the report says where each verdict came from.
"""

from __future__ import annotations

import math
from typing import Any

FIXED, NOT_FIXED, UNDETERMINED, ERROR = "fixed", "not_fixed", "undetermined", "error"

OBSERVER_CODE = r'''
def __mlinterview_observe(spec):
    import functools, importlib.abc, sys, types
    state = types.SimpleNamespace(optimizers={}, order=[], losses=[], loss_calls=0, targets=[], target_count=0, calls={}, wrappers={})
    module = types.ModuleType("_mlinterview_observer")
    module.state = state
    sys.modules["_mlinterview_observer"] = module

    # Which scaffold functions the notebook's run calls: the places the pack's bugs live are wrapped
    # with a counter when their module is imported (and again when it is reloaded).
    targets = spec["targets"]

    def counted(key, function):
        @functools.wraps(function)
        def counting(*args, **kwargs):
            state.calls[key] = state.calls.get(key, 0) + 1
            return function(*args, **kwargs)
        state.wrappers[key] = counting
        return counting

    def wrap(loaded, replace_references=False):
        for name in targets.get(loaded.__name__, ()):
            value = loaded.__dict__.get(name)
            key = f"{loaded.__name__}:{name}"
            if isinstance(value, types.FunctionType):
                wrapper = counted(key, value)
                setattr(loaded, name, wrapper)
                if replace_references:  # modules imported before us hold the function itself
                    package = loaded.__name__.split(".")[0]
                    for other_name, other in list(sys.modules.items()):
                        if other_name == package or other_name.startswith(package + "."):
                            for attribute, member in list(vars(other).items()):
                                if member is value:
                                    setattr(other, attribute, wrapper)
            elif isinstance(value, type):
                for attribute, member in list(vars(value).items()):
                    if isinstance(member, types.FunctionType) and not attribute.startswith("__") or attribute == "__init__" and isinstance(member, types.FunctionType):
                        setattr(value, attribute, counted(key + "." + attribute, member))
                state.wrappers[key] = value

    class CountingLoader(importlib.abc.Loader):
        def __init__(self, inner):
            self._inner = inner

        def create_module(self, found):
            return self._inner.create_module(found)

        def exec_module(self, loaded):
            self._inner.exec_module(loaded)
            try:
                wrap(loaded)
            except Exception:
                pass

        def __getattr__(self, attribute):
            return getattr(self._inner, attribute)

    class CountingFinder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name not in targets:
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                found = finder.find_spec(name, path, target)
                if found is not None:
                    if found.loader is not None and hasattr(found.loader, "exec_module"):
                        found.loader = CountingLoader(found.loader)
                    return found
            return None

    sys.meta_path.insert(0, CountingFinder())
    for name in targets:
        if name in sys.modules:  # imported when the kernel started (the scaffold's preload)
            try:
                wrap(sys.modules[name], replace_references=True)
            except Exception:
                pass
    try:
        import torch
        from torch.optim.optimizer import register_optimizer_step_pre_hook
    except Exception:
        return
    MAX_LR, MAX_LOSS_EVENTS, MAX_TARGETS = 50000, 20000, 200000

    def watch(param, buffer):
        def hook(grad):
            try:
                incoming = grad.detach()
                buffer[0] = incoming.clone() if buffer[0] is None else buffer[0] + incoming
            except Exception:
                pass
        param.register_hook(hook)

    def fresh(param, incoming):
        grad = param.grad.detach().double().flatten()
        incoming = incoming.double().flatten()
        norm_in, norm_grad = float(incoming.norm()), float(grad.norm())
        if norm_in == 0.0:
            return norm_grad == 0.0
        cosine = float((grad @ incoming) / max(norm_grad * norm_in, 1e-300))
        return cosine > 0.9999 and norm_grad <= norm_in * 1.0001

    def before_step(optimizer, args, kwargs):
        try:
            record = state.optimizers.get(id(optimizer))
            if record is None:
                record = {"class": type(optimizer).__name__, "steps": 0, "lr": [], "fresh": 0, "stale": 0,
                          "watched": [], "params": set(), "first_loss": max(0, len(state.losses) - 1), "last_loss": 0}
                state.optimizers[id(optimizer)] = record
                state.order.append(id(optimizer))
            record["steps"] += 1
            record["last_loss"] = len(state.losses)
            if len(record["lr"]) < MAX_LR:
                record["lr"].append(float(optimizer.param_groups[0].get("lr", float("nan"))))
            compared = [fresh(param, buffer[0]) for param, buffer in record["watched"] if param.grad is not None and buffer[0] is not None]
            if compared:
                record["fresh" if all(compared) else "stale"] += 1
            for _param, buffer in record["watched"]:
                buffer[0] = None
            if not record["watched"]:
                for group in optimizer.param_groups:
                    for param in group["params"]:
                        record["params"].add(id(param))
                        if (len(record["watched"]) < 2 and param.grad is not None and param.requires_grad
                                and param.is_leaf and param.numel() <= 1_000_000):
                            buffer = [None]
                            watch(param, buffer)
                            record["watched"].append((param, buffer))
        except Exception:
            pass

    register_optimizer_step_pre_hook(before_step)
    functional = torch.nn.functional
    logits_losses = ("binary_cross_entropy_with_logits", "cross_entropy")
    names = logits_losses + ("binary_cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")

    def wrap(name, original):
        def observed_loss(input, target, *args, **kwargs):
            try:
                if torch.is_tensor(input) and input.requires_grad and torch.is_grad_enabled():
                    state.loss_calls += 1
                    if len(state.losses) < MAX_LOSS_EVENTS:
                        with torch.no_grad():
                            values = input.detach()
                            event = {"loss": name, "min": float(values.min()), "max": float(values.max())}
                            if name == "cross_entropy" and values.dim() == 2:
                                event["rows_sum_to_one"] = bool(torch.allclose(values.float().sum(dim=1), torch.ones(len(values)), atol=1e-3))
                        state.losses.append(event)
                    if torch.is_tensor(target) and state.target_count < MAX_TARGETS and target.dim() <= 2:
                        flat = target.detach().flatten()[:8192].float().cpu().tolist()
                        state.targets.append((len(state.losses) - 1, flat))
                        state.target_count += len(flat)
            except Exception:
                pass
            return original(input, target, *args, **kwargs)
        observed_loss.__name__ = original.__name__
        observed_loss.__doc__ = original.__doc__
        observed_loss.__wrapped__ = original
        return observed_loss

    for name in names:
        original = getattr(functional, name, None)
        if original is not None:
            setattr(functional, name, wrap(name, original))

__mlinterview_observe({spec!r})
del __mlinterview_observe
'''

FACTS_CODE = r'''
def __mlinterview_facts(spec):
    import json, math, random, re, sys, types
    import numpy, pandas
    facts = {"observer": "_mlinterview_observer" in sys.modules, "training": None, "predict": None, "splits": []}
    torch = sys.modules.get("torch")
    state = getattr(sys.modules.get("_mlinterview_observer"), "state", None)

    # -- the notebook's predict, on the candidate's own data ----------------------------------
    predict_params, train_mode_modules = set(), set()
    fn = globals().get(spec["predict"])
    if callable(fn):
        sample = pandas.read_csv(spec["sample"])
        hooks = []
        if torch is not None:
            def forward_seen(module, args):
                for param in module.parameters(recurse=False):
                    predict_params.add(id(param))
                if module.training and isinstance(module, (torch.nn.Dropout, torch.nn.modules.batchnorm._BatchNorm)):
                    train_mode_modules.add(type(module).__name__)
            hooks.append(torch.nn.modules.module.register_module_forward_pre_hook(forward_seen))

        def call(frame, seed):
            random.seed(seed)
            numpy.random.seed(seed)
            if torch is not None:
                torch.manual_seed(seed)
            out = fn(frame.copy())
            if hasattr(out, "detach"):
                out = out.detach().cpu().numpy()
            if isinstance(out, pandas.DataFrame):
                id_column = spec["id_column"]
                if id_column in out.columns and out.shape[1] == 2:
                    out = out.set_index(id_column).iloc[:, 0]
                elif out.shape[1] == 1:
                    out = out.iloc[:, 0]
            if isinstance(out, pandas.Series) and not isinstance(out.index, pandas.RangeIndex) and spec["id_column"] in frame.columns:
                try:
                    out = out.reindex(frame[spec["id_column"]].to_numpy())
                except Exception:
                    pass
            array = numpy.asarray(out, dtype=float).ravel()
            if array.shape[0] != len(frame):
                raise ValueError(f"predict returned {array.shape[0]} values for {len(frame)} rows")
            return array

        def difference(a, b):
            if (numpy.isfinite(a) != numpy.isfinite(b)).any():
                return float("inf")
            both = numpy.isfinite(a)
            return float(numpy.max(numpy.abs(a[both] - b[both]))) if both.any() else 0.0

        predict = {"rows": len(sample), "perturbations": {}}
        try:
            base = call(sample, 0)
            predict["scale"] = float(numpy.nanstd(base)) if base.size else 0.0
            predict["min"], predict["max"] = float(numpy.nanmin(base)), float(numpy.nanmax(base))
            predict["same_seed_difference"] = difference(base, call(sample, 0))
            predict["other_seed_difference"] = difference(base, call(sample, 1))
            predict["train_mode_modules"] = sorted(train_mode_modules)
            # Control: every column but the id shuffled. A predict this leaves unchanged depends on no
            # column at all (a model that learned nothing), so it cannot say which columns it ignores.
            control = sample.copy()
            for number, column in enumerate(c for c in control.columns if c != spec["id_column"]):
                control[column] = control[column].sample(frac=1.0, random_state=number).to_numpy()
            try:
                predict["control_difference"] = difference(base, call(control, 0))
            except Exception as error:
                predict["control_problem"] = f"{type(error).__name__}: {str(error)[:200]}"
            for key, change in spec["perturbations"].items():
                frame = sample.copy()
                columns = [c for c in change["columns"] if c in frame.columns]
                if not columns:
                    predict["perturbations"][key] = {"problem": f"the sample has no column {', '.join(change['columns'])}"}
                    continue
                for column in columns:
                    if change["kind"] == "flip":
                        values = frame[column]
                        if set(pandas.unique(values.dropna())) <= {0, 1}:
                            frame[column] = 1 - values
                        else:
                            frame[column] = values.sample(frac=1.0, random_state=3).to_numpy()
                    else:
                        frame[column] = frame[column].astype(float).replace(float(change["value"]), numpy.nan)
                try:
                    predict["perturbations"][key] = {"difference": difference(base, call(frame, 0)), "columns": columns}
                except Exception as error:
                    predict["perturbations"][key] = {"problem": f"predict failed on the changed rows: {type(error).__name__}: {str(error)[:200]}"}
        except Exception as error:
            predict["problem"] = f"{type(error).__name__}: {str(error)[:300]}"
        finally:
            for hook in hooks:
                hook.remove()
        facts["predict"] = predict
    else:
        facts["predict_missing"] = f"the notebook defines no callable '{spec['predict']}'"

    # -- training, as the observer saw it -----------------------------------------------------------
    if state is not None and state.order:
        records = [state.optimizers[key] for key in state.order]
        used = [i for i, record in enumerate(records) if record["params"] & predict_params]
        chosen = used[-1] if used else len(records) - 1
        training = {"optimizers": [], "chosen": chosen, "chosen_by": "its parameters run in predict" if used else "the last one that stepped",
                    "loss_calls": state.loss_calls}
        for record in records:
            first, last = record["first_loss"], record["last_loss"]
            losses = state.losses[first:last]
            targets = [value for index, values in state.targets if first <= index < last for value in values]
            summary = {"class": record["class"], "steps": record["steps"], "lr": record["lr"][:50000],
                       "fresh": record["fresh"], "stale": record["stale"], "losses": {}, "targets": targets[:100000]}
            for event in losses:
                entry = summary["losses"].setdefault(event["loss"], {"calls": 0, "min": math.inf, "max": -math.inf, "rows_sum_to_one": 0})
                entry["calls"] += 1
                entry["min"] = min(entry["min"], event["min"])
                entry["max"] = max(entry["max"], event["max"])
                entry["rows_sum_to_one"] += int(event.get("rows_sum_to_one", False))
            training["optimizers"].append(summary)
        facts["training"] = training

    # -- which scaffold functions ran (or were replaced by the notebook) ----------------------------
    if state is not None:
        usage = {}
        for key in spec["locations"]:
            module_name, _, name = key.partition(":")
            current = getattr(sys.modules.get(module_name), name, None)
            calls = sum(count for called, count in state.calls.items() if called == key or called.startswith(key + "."))
            wrapper = state.wrappers.get(key)
            usage[key] = {"countable": wrapper is not None or module_name not in sys.modules, "calls": calls,
                          "replaced": wrapper is not None and current is not wrapper and current is not None}
        facts["usage"] = usage

    # -- the notebook's split: frames holding the id and label columns ------------------------------
    id_column, label_column = spec["group_columns"], spec["label_column"]
    frames, seen = [], set()
    queue = [(name, value, 0) for name, value in list(globals().items()) if not name.startswith("_")]
    while queue and len(seen) < 20000:
        path, obj, depth = queue.pop(0)
        if id(obj) in seen or isinstance(obj, (types.ModuleType, type, str, bytes, int, float)):
            continue
        seen.add(id(obj))
        if isinstance(obj, pandas.DataFrame):
            if label_column in obj.columns and len(obj) >= 10:
                frames.append((path, obj))
            continue
        if depth >= 3 or (torch is not None and isinstance(obj, torch.nn.Module)):
            continue
        try:
            if isinstance(obj, types.FunctionType):
                # a pipeline function's closure holds its frames (e.g. the predict that fit_predictor returns)
                children = [(f"{path}.{n}", c.cell_contents) for n, c in zip(obj.__code__.co_freevars, obj.__closure__ or ())
                            if not isinstance(c.cell_contents, types.FunctionType)]
                children += [(f"{path}.{k}", v) for k, v in list(vars(obj).items())[:50]]
            elif callable(obj):
                children = []
            elif isinstance(obj, dict):
                children = [(f"{path}[{k!r}]", v) for k, v in list(obj.items())[:200]]
            elif isinstance(obj, (list, tuple)):
                children = [(f"{path}[{i}]", v) for i, v in enumerate(list(obj)[:50])]
            elif hasattr(obj, "__dict__") and isinstance(vars(obj), dict):
                children = [(f"{path}.{k}", v) for k, v in list(vars(obj).items())[:200]]
            else:
                children = []
        except Exception:
            children = []
        queue.extend((p, c, depth + 1) for p, c in children)

    def role(path):
        last = re.split(r"[.\[\]'\"]+", path.lower())
        words = [w for w in last if w]
        name = words[-1] if words else ""
        if re.search(r"valid|(^|_)val($|_)|(^|_)dev($|_)|(^|_)eval($|_)", name):
            return "valid"
        if re.search(r"train|(^|_)fit($|_)", name):
            return "train"
        return None

    trains = [(p, f) for p, f in frames if role(p) == "train"]
    valids = [(p, f) for p, f in frames if role(p) == "valid"]
    for valid_path, valid in valids:
        for train_path, train in trains:
            if train is valid:
                continue
            pair = {"train": train_path, "valid": valid_path, "train_rows": len(train), "valid_rows": len(valid)}
            for column in id_column:
                if column in train.columns and column in valid.columns:
                    shared = set(train[column].tolist()) & set(valid[column].tolist())
                    pair.setdefault("shared", {})[column] = len(shared)
            for column in spec["time_columns"]:
                if column in train.columns and column in valid.columns:
                    try:
                        train_time, valid_time = pandas.to_datetime(train[column]), pandas.to_datetime(valid[column])
                        pair.setdefault("time", {})[column] = {
                            "train_max": str(train_time.max()), "valid_min": str(valid_time.min()),
                            "valid_rows_not_later": int((valid_time <= train_time.max()).sum()),
                        }
                    except Exception as error:
                        pair.setdefault("time", {})[column] = {"problem": f"{type(error).__name__}: {error}"}
            facts["splits"].append(pair)
    paired = [(p, f) for p, f in valids if any(pair["valid"] == p for pair in facts["splits"])] or valids
    if paired:
        valid_path, valid = min(paired, key=lambda item: (len(item[0]), item[0]))
        facts["validation_frame"] = {"path": valid_path, "rows": len(valid), "columns": [str(c) for c in valid.columns][:500]}
        if len(valid) <= 2_000_000 and valid.index.nlevels == 1:
            try:
                valid.rename_axis("__row__").to_csv(spec["validation_out"], index=True)
                facts["validation_frame"]["written"] = True
            except Exception as error:
                facts["validation_frame"]["problem"] = f"{type(error).__name__}: {str(error)[:200]}"
    with open(spec["out"], "w") as handle:
        json.dump(facts, handle, default=str)

__mlinterview_facts({spec!r})
del __mlinterview_facts
'''

NOTEBOOK_PROBES_CODE = r'''
def __mlinterview_probes(spec):
    import importlib.util, json, pathlib, signal, sys, time, traceback
    loaded = importlib.util.spec_from_file_location("_mlinterview_notebook_probes", spec["probes"])
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    verdicts = {}

    def alarm(signum, frame):
        raise TimeoutError(f"the probe did not finish within {spec['timeout']} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        for bug, name in spec["probes_to_run"]:
            started = time.monotonic()
            signal.alarm(int(spec["timeout"]))
            try:
                result = getattr(module, name)(pathlib.Path(spec["scaffold"]))
                status, detail = ("fixed" if result[0] else "not_fixed"), str(result[1])
            except BaseException as error:
                frames = traceback.extract_tb(error.__traceback__)
                where = f" (at {pathlib.Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
                status, detail = "error", f"{type(error).__name__}: {str(error)[:300]}{where}"
            finally:
                signal.alarm(0)
            verdicts[bug] = {"status": status, "detail": detail, "seconds": round(time.monotonic() - started, 3)}
    finally:
        signal.signal(signal.SIGALRM, previous)
    with open(spec["out"], "w") as handle:
        json.dump(verdicts, handle)

__mlinterview_probes({spec!r})
del __mlinterview_probes
'''


def bug_locations(bug, scaffold: str) -> list[str]:
    """``module:name`` keys of the functions and classes a bug's ``location`` names (constants skipped later)."""
    keys = []
    for part in bug.location.split(","):
        path, _, name = part.strip().partition(":")
        name = name.strip().split(" ")[0].split("(")[0]
        if not path.endswith(".py") or not name.isidentifier() or not path.startswith(scaffold + "/"):
            continue
        keys.append(f"{path[:-3].replace('/', '.')}:{name}")
    return keys


def observer_code(bugs, scaffold: str) -> str:
    targets: dict[str, list[str]] = {}
    for bug in bugs:
        for key in bug_locations(bug, scaffold):
            module, _, name = key.partition(":")
            targets.setdefault(module, [])
            if name not in targets[module]:
                targets[module].append(name)
    return OBSERVER_CODE.replace("{spec!r}", repr({"targets": targets}))


def usage_note(bug, scaffold: str, facts: dict | None) -> str | None:
    """Why a probe of the scaffold's code says nothing about the notebook's pipeline: the notebook
    never called (nor replaced) any function the bug lives in. None when it did, or when unknown."""
    usage = (facts or {}).get("usage")
    keys = [key for key in bug_locations(bug, scaffold) if (usage or {}).get(key, {}).get("countable")]
    if not usage or not keys:
        return None
    entries = [usage[key] for key in keys]
    if any(entry["calls"] or entry["replaced"] for entry in entries):
        return None
    names = ", ".join(key.replace(".", "/", key.count(".")).replace(":", ".py:") for key in keys)
    return f"the notebook's run never called {names}, where this bug lives, so the probe of that code says nothing about the pipeline it used"


def facts_code(spec: dict) -> str:
    return FACTS_CODE.replace("{spec!r}", repr(spec))


def notebook_probes_code(spec: dict) -> str:
    return NOTEBOOK_PROBES_CODE.replace("{spec!r}", repr(spec))


def perturbations(bugs) -> dict[str, dict]:
    """The perturbed copies of the sample that the bugs' behaviour checks need, by key."""
    wanted = {}
    for bug in bugs:
        for check in bug.behaviour:
            if check.check == "predict_ignores_column":
                wanted[f"flip:{check.column}"] = {"kind": "flip", "columns": [check.column], "value": None}
            elif check.check == "predict_treats_value_as_missing":
                wanted[f"missing:{','.join(check.columns)}:{check.value:g}"] = {"kind": "missing", "columns": list(check.columns), "value": check.value}
    return wanted


def group_and_time_columns(bugs) -> tuple[list[str], list[str]]:
    groups = sorted({c.column for b in bugs for c in b.behaviour if c.check == "split_keeps_groups_apart" and c.column})
    times = sorted({c.column for b in bugs for c in b.behaviour if c.check == "split_validates_later" and c.column})
    return groups, times


# -- judging ---------------------------------------------------------------------------------------

Verdict = tuple[str | None, str]  # (fixed / not_fixed / None for no evidence, the sentence)


def _chosen_training(facts: dict) -> tuple[dict | None, str]:
    training = (facts or {}).get("training")
    if not training or not training.get("optimizers"):
        return None, "the replayed notebook made no optimizer step"
    chosen = training["optimizers"][training["chosen"]]
    many = len(training["optimizers"])
    where = f"the optimizer ({chosen['class']}, {chosen['steps']} steps) that trained the model predict uses" if training["chosen_by"].startswith("its") else (
        f"the last optimizer that stepped ({chosen['class']}, {chosen['steps']} steps; predict ran no module it trained)"
    )
    return chosen, where + (f", of {many} in the notebook" if many > 1 else "")


def _predict_facts(facts: dict) -> tuple[dict | None, str]:
    facts = facts or {}
    predict = facts.get("predict")
    if predict is None:
        return None, facts.get("predict_missing") or "the replay did not get to ask the notebook's predict"
    if predict.get("problem"):
        return None, f"the notebook's predict failed on the candidate's own rows: {predict['problem']}"
    return predict, ""


def _noise(predict: dict) -> float:
    scale = predict.get("scale") or 0.0
    return max(1e-6, 1e-4 * scale, 10 * (predict.get("same_seed_difference") or 0.0))


def judge(check, facts: dict | None) -> Verdict:
    """The verdict of one behaviour check on the facts of one replay."""
    kind = check.check
    if facts is None:
        return None, "the replay gave no facts (it stopped before the grader could look)"
    if kind in ("predict_ignores_column", "predict_treats_value_as_missing"):
        predict, why = _predict_facts(facts)
        if predict is None:
            return None, why
        key = f"flip:{check.column}" if kind == "predict_ignores_column" else f"missing:{','.join(check.columns)}:{check.value:g}"
        entry = predict["perturbations"].get(key) or {"problem": "not measured"}
        if entry.get("problem"):
            return None, entry["problem"]
        if not math.isfinite(predict.get("same_seed_difference", 0.0)) or predict.get("same_seed_difference", 0.0) > 1e-3 * max(predict.get("scale") or 0.0, 1e-9) + 1e-9:
            return None, "the notebook's predict gives other answers for the same rows under the same seeds, so a change cannot be told apart"
        moved = entry["difference"] > _noise(predict)
        if not moved and not predict.get("control_difference", 0.0) > _noise(predict):
            return None, ("the notebook's predict gives the same answers whatever the rows hold (shuffling every column changes nothing): "
                          "it depends on no column, so it cannot tell whether it ignores this one")
        what = (f"changing {check.column} in {predict['rows']} of the candidate's rows" if kind == "predict_ignores_column"
                else f"writing {check.value:g} in {', '.join(entry['columns'])} as an empty cell, in {predict['rows']} of the candidate's rows")
        if moved:
            return NOT_FIXED, f"{what} changes the notebook's predictions (by up to {entry['difference']:.3g})"
        return FIXED, f"{what} leaves the notebook's predictions unchanged"
    if kind == "predict_deterministic":
        predict, why = _predict_facts(facts)
        if predict is None:
            return None, why
        modules = predict.get("train_mode_modules") or []
        if modules:
            return NOT_FIXED, f"the notebook's predict runs {', '.join(modules)} in training mode"
        varies = predict.get("other_seed_difference", 0.0) > _noise(predict)
        if varies:
            return NOT_FIXED, f"the notebook's predict gives other answers for the same rows on each call (up to {predict['other_seed_difference']:.3g} apart)"
        return FIXED, "the notebook's predict gives the same answers on every call, with no dropout or batch norm in training mode"
    if kind == "pipeline_runs":
        chosen, where = _chosen_training(facts)
        predict, why = _predict_facts(facts)
        if chosen is not None and predict is not None:
            return FIXED, f"the notebook trains ({where}) and its predict answers"
        return None, why or where
    chosen, where = _chosen_training(facts)
    if kind == "fresh_gradients":
        if chosen is None:
            return None, where
        checked = chosen["fresh"] + chosen["stale"]
        if checked == 0:
            return None, f"{where}: too few steps to compare gradients"
        if chosen["stale"] > max(1, 0.05 * checked):
            return NOT_FIXED, f"{where}: {chosen['stale']} of {checked} steps used gradients that still held earlier batches' gradients"
        return FIXED, f"{where}: {chosen['fresh']} of {checked} steps used fresh gradients"
    if kind == "batches_mixed_by_label":
        if chosen is None:
            return None, where
        return _judge_order(chosen.get("targets") or [], where)
    if kind == "logits_loss_gets_logits":
        if chosen is None:
            return None, where
        losses = chosen.get("losses") or {}
        if not losses:
            return None, f"{where}: no torch loss function was seen during its training (a hand-written loss)"
        for name in ("binary_cross_entropy_with_logits", "cross_entropy"):
            entry = losses.get(name)
            if not entry:
                continue
            if name == "cross_entropy" and entry["rows_sum_to_one"] == entry["calls"] and entry["min"] >= 0:
                return NOT_FIXED, f"{where}: cross_entropy received probabilities (every row sums to 1) in all {entry['calls']} calls: a softmax before the loss"
            if name == "binary_cross_entropy_with_logits" and entry["min"] >= 0 and entry["max"] <= 1:
                return NOT_FIXED, f"{where}: binary_cross_entropy_with_logits received values within [0, 1] in all {entry['calls']} calls: a sigmoid before the logits loss"
        names = ", ".join(sorted(losses))
        return FIXED, f"{where}: the loss ({names}) receives what it expects (logits for a logits loss, probabilities for binary_cross_entropy)"
    if kind == "learning_rate_not_collapsed":
        if chosen is None:
            return None, where
        collapsed, sentence = learning_rate_collapse(chosen.get("lr") or [])
        return (None if collapsed is None else NOT_FIXED if collapsed else FIXED), f"{where}: {sentence}"
    if kind in ("split_keeps_groups_apart", "split_validates_later"):
        pairs = (facts or {}).get("splits") or []
        if not pairs:
            return None, "no training and validation frames holding the label were found in the notebook (names with train / valid)"
        outcomes = []
        for pair in pairs:
            names = f"{pair['train']} / {pair['valid']}"
            if kind == "split_keeps_groups_apart":
                shared = (pair.get("shared") or {}).get(check.column)
                if shared is None:
                    continue
                outcomes.append((NOT_FIXED if shared else FIXED, f"{names}: {shared} {check.column} values on both sides" if shared else f"{names}: no {check.column} on both sides"))
            else:
                time = (pair.get("time") or {}).get(check.column) or {}
                if "valid_rows_not_later" not in time:
                    continue
                early = time["valid_rows_not_later"]
                outcomes.append((NOT_FIXED if early else FIXED, (
                    f"{names}: {early} of {pair['valid_rows']} validation rows are not later than the last training {check.column} ({time['train_max']})"
                    if early else f"{names}: every validation row is later than the training rows (from {time['valid_min']})")))
        if not outcomes:
            return None, f"the notebook's training and validation frames do not both hold {check.column}"
        statuses = {status for status, _ in outcomes}
        if len(statuses) > 1:
            return None, "the notebook's splits disagree: " + "; ".join(sentence for _, sentence in outcomes)
        return outcomes[0][0], "; ".join(sentence for _, sentence in outcomes)
    return None, f"unknown behaviour check '{kind}'"


def learning_rate_collapse(rates: list[float]) -> tuple[bool | None, str]:
    """Whether a learning-rate trajectory (one rate per optimizer step) collapses long before training
    ends: more than half the steps at under 1/300 of the peak rate (an epoch schedule stepped every
    batch). A step schedule stepped per epoch, a per-batch one-cycle or cosine schedule, or none,
    keep most steps near the peak. None when there are too few steps to tell."""
    rates = [rate for rate in rates if isinstance(rate, (int, float)) and math.isfinite(rate)]
    if len(rates) < 20:
        return None, f"{len(rates)} steps are too few to judge the learning-rate schedule"
    peak = max(rates)
    low = sum(rate < peak / 300 for rate in rates)
    if low > len(rates) / 2:
        first = next(i for i, rate in enumerate(rates) if rate < peak / 300)
        return True, (f"the learning rate fell below 1/300 of its peak ({peak:.3g}) after {first} of {len(rates)} steps; "
                      f"{low} steps trained at almost no learning rate")
    return False, f"the learning rate stays within 1/300 of its peak ({peak:.3g}) for {len(rates) - low} of {len(rates)} steps"


def _judge_order(targets: list[float], where: str) -> Verdict:
    """Whether the training targets reach the loss in an order mixed with respect to the label (runs test)."""
    values = [t for t in targets if isinstance(t, (int, float)) and math.isfinite(t)]
    if len(values) < 40:
        return None, f"{where}: too few training targets were seen to judge their order"
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    high = [v > median for v in values] if len(set(values)) > 2 else [v > ordered[0] for v in values]
    n1 = sum(high)
    n0 = len(high) - n1
    if n1 < 5 or n0 < 5:
        return None, f"{where}: the targets hardly vary ({n1} of {len(high)} high), their order cannot be judged"
    runs = 1 + sum(a != b for a, b in zip(high, high[1:]))
    expected = 1 + 2 * n1 * n0 / len(high)
    if runs < 0.2 * expected:
        return NOT_FIXED, f"{where}: the training batches come sorted by the label ({runs} runs of equal labels in {len(high)} targets, {expected:.0f} if mixed)"
    return FIXED, f"{where}: the training batches mix the labels ({runs} runs in {len(high)} targets, {expected:.0f} expected if mixed)"


# -- combining ----------------------------------------------------------------------------------


def combine(
    bug, behaviour: list[tuple[Any, Verdict]], notebook_probe: dict | None, scaffold_probe: dict | None,
    notebook_note: str | None, unused: str | None = None,
) -> dict:
    """The report's verdict of one bug from every source, and the evidence behind it.

    The notebook's own behaviour decides when it is decisive; then the probe run on the scaffold
    functions as the notebook left them (its changes in place); then the scaffold files. Where the
    decisive sources disagree, or only the files speak against a fix the notebook may hold, the
    verdict is ``undetermined``, with the reason.
    """
    evidence = []
    decisive = []
    for check, (status, sentence) in behaviour:
        evidence.append({"source": "notebook run", "check": check.check, "status": status or UNDETERMINED, "detail": sentence})
        if status in (FIXED, NOT_FIXED):
            decisive.append((status, sentence))
    if notebook_probe is not None:
        evidence.append({"source": "scaffold as the notebook left it", "check": bug.probe, "status": notebook_probe["status"], "detail": notebook_probe["detail"]})
    if scaffold_probe is not None:
        evidence.append({"source": "scaffold files", "check": bug.probe, "status": scaffold_probe["status"], "detail": scaffold_probe["detail"]})

    def verdict(status: str, detail: str, source: str) -> dict:
        return {"status": status, "fixed": status == FIXED, "message": detail, "decided_by": source, "evidence": evidence}

    if decisive:
        statuses = {status for status, _ in decisive}
        if len(statuses) > 1:
            return verdict(UNDETERMINED, "the notebook's run gives conflicting evidence: " + "; ".join(s for _, s in decisive), "conflict")
        status = decisive[0][0]
        detail = "; ".join(s for _, s in decisive)
        for other in (notebook_probe, scaffold_probe):
            if other is not None and other["status"] in (FIXED, NOT_FIXED) and other["status"] != status:
                where = "the fix is in the notebook" if status == FIXED else "the notebook does not use the fixed code"
                detail += f" (the scaffold's own probe says {other['status'].replace('_', ' ')}: {where})"
                break
        return verdict(status, detail, "notebook run")
    if notebook_probe is not None and notebook_probe["status"] in (FIXED, NOT_FIXED) and unused:
        evidence.append({"source": "notebook run", "check": "calls", "status": UNDETERMINED, "detail": unused})
        return verdict(UNDETERMINED, f"{unused} (the probe of the scaffold says {notebook_probe['status'].replace('_', ' ')}: {notebook_probe['detail']})", "missing evidence")
    if notebook_probe is not None and notebook_probe["status"] in (FIXED, NOT_FIXED):
        return verdict(notebook_probe["status"], notebook_probe["detail"], "scaffold as the notebook left it")
    if scaffold_probe is not None and scaffold_probe["status"] == FIXED:
        return verdict(FIXED, scaffold_probe["detail"] + " (scaffold files)", "scaffold files")
    reasons = [sentence for _, (status, sentence) in behaviour if status is None]
    if notebook_probe is not None and notebook_probe["status"] == ERROR:
        reasons.append(f"the probe failed on the notebook's code: {notebook_probe['detail']}")
    if notebook_note:
        reasons.append(notebook_note)
    if scaffold_probe is not None and scaffold_probe["status"] == NOT_FIXED:
        return verdict(UNDETERMINED, f"the scaffold files still have it ({scaffold_probe['detail']}), and the notebook's run gave no evidence of its own"
                       + (f": {'; '.join(reasons)}" if reasons else ""), "missing evidence")
    detail = "; ".join(reasons) or "no evidence"
    if scaffold_probe is not None and scaffold_probe["status"] == ERROR:
        detail = f"the probe failed on the scaffold files: {scaffold_probe['detail']}" + (f"; {detail}" if reasons else "")
    return verdict(UNDETERMINED, detail, "missing evidence")

"""What a candidate trains: every trainable tensor their models use, grouped per model, with where it lives.

One walk, shared by the live kernel (to name what the guard refused) and the grader's audit
(which runs this file's source in the replayed kernel, so it needs nothing of mlinterview there):

* **Roots**: the notebook's globals and the globals of every module loaded from the candidate's
  working copy (the scaffold package, any helper file they wrote).
* **Walked**: containers, object attributes (not the kernel's own machinery: IPython's shell, the guard) (a module's own ``__dict__`` included: a plain tensor
  kept as an attribute is not a parameter but is trained all the same), classes defined in the
  candidate's code, function closures and defaults, bound methods, partials; bounded in depth
  and in objects visited.
* **Trainable tensor**: a leaf tensor that requires grad or already carries a gradient (a tensor
  trained, then marked ``requires_grad=False`` to look frozen, still has its gradient), and every
  tensor an optimizer holds in its ``param_groups`` (an optimizer updates what it holds).
* **Per model**: tensors trained together are one model: a module's trainable parameters, the
  plain tensors found inside it, and everything held by an optimizer that holds any of them.
  Trainable leaf tensors outside any module and optimizer are reported on their own, as
  ``loose``: nothing says which model uses them, so the verdict adds them to the largest model.

Only the standard library and torch are used, at call time; ``inventory`` is the entry point.
"""

from __future__ import annotations

import collections
import functools
import sys
import types

MAX_OBJECTS = 200_000
MAX_DEPTH = 7
MAX_PLACES = 12  # places listed per model in the report
# the kernel's own machinery (the shell behind get_ipython, the guard): walked, it is most of the heap
MACHINERY = ("IPython.", "ipykernel.", "traitlets.", "zmq.", "jupyter_client.", "tornado.", "asyncio.", "mlinterview.")


def candidate_modules(folder):
    """Modules loaded from ``folder`` (the working copy): the scaffold and the candidate's own files."""
    import os

    folder = os.path.realpath(str(folder)) + os.sep
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.realpath(path).startswith(folder) and "site-packages" not in path:
            found.append((name, module))
    return sorted(found, key=lambda item: item[0])


def inventory(namespace, modules=(), *, max_objects=MAX_OBJECTS, max_depth=MAX_DEPTH):
    """The trainable tensors reachable from ``namespace`` (a dict of globals) and ``modules``
    ((name, module) pairs), as ``{"models": [...], "loose": {...} or None, "torch_loaded": bool}``."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {"torch_loaded": False, "models": [], "loose": None, "visited": 0}
    Module, Optimizer, Tensor = torch.nn.Module, torch.optim.Optimizer, torch.Tensor
    own_modules = {"__main__", *(name for name, _ in modules)}
    queue = collections.deque()
    for name, value in list(namespace.items()):
        if not name.startswith("__mlinterview") and not (name.startswith("_") and name.lstrip("_").isdigit()):
            queue.append((name, value, 0, None))
    for module_name, module in modules:
        for name, value in list(vars(module).items()):
            if not name.startswith("__"):
                queue.append((f"{module_name}.{name}", value, 0, None))
    seen = set()
    tensors = {}  # id -> (tensor, first path)
    owner_of = {}  # tensor id -> id of the top-level module it was found in (None: outside any module)
    models = {}  # module id -> (path, module)
    optimizers = []  # (path, optimizer)
    module_owner = {}  # module id -> top-level module id
    visited = 0
    while queue and visited < max_objects:
        path, obj, depth, owner = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        visited += 1
        if isinstance(obj, Tensor):
            if obj.is_leaf and (obj.requires_grad or obj.grad is not None):
                tensors.setdefault(id(obj), (obj, path))
                if owner is not None:
                    owner_of.setdefault(id(obj), owner)
            continue
        if isinstance(obj, (str, bytes, int, float, complex, bool, types.ModuleType)) or obj is None:
            continue
        if (getattr(type(obj), "__module__", None) or "").startswith(MACHINERY):
            continue
        if isinstance(obj, type):
            if getattr(obj, "__module__", None) not in own_modules or depth >= max_depth:
                continue
            children = [(f"{path}.{k}", v) for k, v in list(vars(obj).items()) if not k.startswith("__")]
            queue.extend((p, c, depth + 1, owner) for p, c in children)
            continue
        if isinstance(obj, Module):
            top = owner if owner is not None else id(obj)
            module_owner.setdefault(id(obj), top)
            if owner is None:
                models.setdefault(id(obj), (path, obj))
            for name, parameter in obj.named_parameters(recurse=False):
                queue.append((f"{path}.{name}", parameter, depth + 1, top))
            for name, sub in obj.named_children():
                queue.append((f"{path}.{name}", sub, depth + 1, top))
            if depth < max_depth:
                skip = ("_parameters", "_buffers", "_modules")
                attributes = {k: v for k, v in vars(obj).items() if k not in skip and not k.startswith("_forward") and not k.startswith("_backward")}
                queue.extend((f"{path}.{k}", v, depth + 1, top) for k, v in attributes.items())
            continue
        if isinstance(obj, Optimizer):
            optimizers.append((path, obj))
            for number, group in enumerate(obj.param_groups):
                for position, tensor in enumerate(group.get("params", ())):
                    if isinstance(tensor, Tensor):
                        tensors.setdefault(id(tensor), (tensor, f"{path}.param_groups[{number}][{position}]"))
            continue
        if depth >= max_depth:
            continue
        try:
            children = _children(obj, path)
        except Exception:  # an object that fails on inspection holds nothing we can count
            children = []
        queue.extend((p, c, depth + 1, owner) for p, c in children)
    # modules first reached inside another module's attributes belong to that model
    models = {key: value for key, value in models.items() if module_owner.get(key, key) == key}
    return _group(torch, tensors, owner_of, models, optimizers, visited)


def _children(obj, path):
    if isinstance(obj, dict):
        return [(f"{path}[{k!r}]", v) for k, v in list(obj.items())[:5000]]
    if isinstance(obj, (list, tuple, set, frozenset, collections.deque)):
        return [(f"{path}[{i}]", v) for i, v in enumerate(list(obj)[:5000])]
    if isinstance(obj, types.FunctionType):
        children = [(f"{path}.<closure {n}>", c.cell_contents) for n, c in zip(obj.__code__.co_freevars, obj.__closure__ or ())
                    if _filled(c)]
        children += [(f"{path}.<default>", d) for d in (obj.__defaults__ or ())]
        children += [(f"{path}.<default {k}>", v) for k, v in (obj.__kwdefaults__ or {}).items()]
        return children
    if isinstance(obj, types.MethodType):
        return [(f"{path}.__self__", obj.__self__), (f"{path}.__func__", obj.__func__)]
    if isinstance(obj, functools.partial):
        children = [(f"{path}.func", obj.func)] + [(f"{path}.args[{i}]", a) for i, a in enumerate(obj.args)]
        return children + [(f"{path}.{k}", v) for k, v in obj.keywords.items()]
    children = []
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):
        children += [(f"{path}.{k}", v) for k, v in list(attributes.items())[:5000]]
    for slot in getattr(type(obj), "__slots__", ()) or ():
        if isinstance(slot, str) and hasattr(obj, slot):
            children.append((f"{path}.{slot}", getattr(obj, slot)))
    return children


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _group(torch, tensors, owner_of, models, optimizers, visited):
    parent = {}

    def find(key):
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(a, b):
        parent[find(a)] = find(b)

    for tensor_id, owner in owner_of.items():
        if owner in models:
            union(("t", tensor_id), ("m", owner))
    for number, (_, optimizer) in enumerate(optimizers):
        for group in optimizer.param_groups:
            for tensor in group.get("params", ()):
                if isinstance(tensor, torch.Tensor):
                    union(("t", id(tensor)), ("o", number))
    components = collections.defaultdict(lambda: {"modules": [], "optimizers": [], "tensors": []})
    for key, (path, module) in models.items():
        components[find(("m", key))]["modules"].append((path, module))
    for number, (path, optimizer) in enumerate(optimizers):
        components[find(("o", number))]["optimizers"].append(path)
    loose = []
    for tensor_id, (tensor, path) in tensors.items():
        key = ("t", tensor_id)
        if find(key) == key:  # never joined to a module or an optimizer (a joined tensor is never a root)
            loose.append((tensor, path))
            continue
        components[find(key)]["tensors"].append((tensor, path, owner_of.get(tensor_id)))
    entries = []
    for component in components.values():
        if not component["modules"] and not component["tensors"]:
            continue
        entries.append(_entry(component))
    entries.sort(key=lambda entry: -entry["trainable"])
    loose_entry = None
    if loose:
        loose_entry = {
            "count": sum(int(t.numel()) for t, _ in loose),
            "tensors": len(loose),
            "places": _places([(path, int(t.numel()), _hidden(t)) for t, path in loose]),
        }
    return {"torch_loaded": True, "models": entries, "loose": loose_entry, "visited": visited}


def _hidden(tensor):
    """'gradient without requires_grad': trained, then marked frozen."""
    return not tensor.requires_grad and tensor.grad is not None


def _entry(component):
    modules = sorted(component["modules"], key=lambda item: -sum(p.numel() for p in item[1].parameters()))
    module_ids = {id(m) for _, m in modules}
    parameter_ids = {id(p) for _, module in modules for p in module.parameters()}
    counted, total, in_modules, elsewhere, hidden = {}, 0, 0, [], 0
    for tensor, path, owner in component["tensors"]:
        counted[id(tensor)] = tensor
        size = int(tensor.numel())
        total += size
        hidden += size if _hidden(tensor) else 0
        if id(tensor) in parameter_ids:
            in_modules += size
        else:
            kind = "plain tensor inside the model" if owner in module_ids else "held by an optimizer"
            elsewhere.append((path, size, kind))
    frozen = sum(int(p.numel()) for _, module in modules for p in module.parameters() if id(p) not in counted)
    path, module = modules[0] if modules else (component["optimizers"][0] if component["optimizers"] else "?", None)
    return {
        "path": path,
        "class": type(module).__name__ if module is not None else "tensors trained together",
        "trainable": total,
        "total": total + frozen,
        "module_parameters": in_modules,
        "other_tensors": total - in_modules,
        "hidden_from_requires_grad": hidden,
        "also": [p for p, _ in modules[1:6]],
        "optimizers": component["optimizers"][:5],
        "places": _places(elsewhere),
    }


def _places(items):
    """The largest few places trainable tensors live, by path: [{path, count, kind}]."""
    items = sorted(items, key=lambda item: -item[1])
    places = [{"path": path, "count": count, "kind": kind if isinstance(kind, str) else ("trained, then marked requires_grad=False" if kind else "")}
              for path, count, kind in items[:MAX_PLACES]]
    if len(items) > MAX_PLACES:
        places.append({"path": f"... {len(items) - MAX_PLACES} more", "count": sum(c for _, c, _ in items[MAX_PLACES:]), "kind": ""})
    return places


def largest_trained(result):
    """(count, sentence) of the largest set of tensors a model may train: the largest model plus loose tensors."""
    models = result.get("models") or []
    loose = result.get("loose") or {}
    largest = models[0] if models else None
    count = (largest["trainable"] if largest else 0) + int(loose.get("count") or 0)
    if largest is None and not loose:
        return 0, "no trainable tensor found in the notebook's namespace or the candidate's modules"
    parts = []
    if largest is not None:
        parts.append(f"{largest['path']} ({largest['class']}): {largest['trainable']:,} trainable "
                     f"({largest['module_parameters']:,} module parameters"
                     + (f", {largest['other_tensors']:,} in other tensors: {_where(largest['places'])}" if largest["other_tensors"] else "")
                     + ")")
    if loose:
        parts.append(f"{loose['count']:,} in trainable tensors outside any module ({_where(loose['places'])}), "
                     "counted with the largest model since nothing says which model uses them")
    return count, "; ".join(parts)


def _where(places):
    return ", ".join(f"{p['path']} {p['count']:,}" for p in places[:4])

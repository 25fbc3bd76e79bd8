"""Edits to the scaffold package take effect on the next cell, in a real candidate kernel: dataclass
defaults and module constants included, names the notebook imported rebound, objects made before
left as they were; a file that does not import is said once and the previous version kept; the
packs' first cells run again without a word from the kernel."""

from __future__ import annotations

import json

import pytest

from mlinterview.scenarios import load_pack, materialize

pytestmark = pytest.mark.slow

TRAIN = '''from dataclasses import dataclass

EPOCHS = 5


@dataclass
class TrainConfig:
    epochs: int = 12
    seed: int = 0


def train(config: TrainConfig = TrainConfig()):
    return config.epochs
'''

PIPELINE = '''from .train import EPOCHS, TrainConfig, train


def run():
    return train(TrainConfig()), EPOCHS
'''

RELOADED = "mlinterview: reloaded tinykit (tinykit/train.py changed)"


@pytest.fixture
def scaffold(workspace):
    (workspace / "tinykit" / "train.py").write_text(TRAIN)
    (workspace / "tinykit" / "pipeline.py").write_text(PIPELINE)
    return workspace / "tinykit"


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_changed_dataclass_default_takes_effect_on_the_next_run(scaffold, workspace, start_kernel):
    kernel = start_kernel("mlinterview-cpu", workspace)
    cell = "print('EPOCHS', TrainConfig(seed=1).epochs, train(), run()[0], fit())"
    reply, _ = kernel.run("from tinykit.train import TrainConfig, train, train as fit\nfrom tinykit.pipeline import run\n"
                          "before = TrainConfig()")
    assert reply["status"] == "ok"
    _, outputs = kernel.run(cell)
    assert "EPOCHS 12 12 12 12" in kernel.text(outputs)
    edit(scaffold / "train.py", "epochs: int = 12", "epochs: int = 30")  # the same size, at once: bytecode would pass for fresh
    _, outputs = kernel.run(cell)
    text = kernel.text(outputs)
    # the notebook's names (an alias too), the function's default and the other module's import all follow
    assert "EPOCHS 30 30 30 30" in text, text
    assert RELOADED in text and "Objects made before keep their old code and values" in text
    _, outputs = kernel.run("print('BEFORE', before.epochs, isinstance(before, TrainConfig))")
    # an object made before the edit keeps its class and values; said once, not at every cell
    assert kernel.text(outputs) == "BEFORE 12 False\n"


def test_a_changed_module_constant_takes_effect_on_the_next_run(scaffold, workspace, start_kernel):
    kernel = start_kernel("mlinterview-cpu", workspace)
    reply, _ = kernel.run("import tinykit.train as T\nfrom tinykit.train import EPOCHS\nfrom tinykit import pipeline\n"
                          "from tinykit import VALUE as before")
    assert reply["status"] == "ok"
    cell = "print('CONSTANT', EPOCHS, T.EPOCHS, pipeline.run()[1], before)"
    _, outputs = kernel.run(cell)
    assert "CONSTANT 5 5 5 42" in kernel.text(outputs)
    edit(scaffold / "train.py", "EPOCHS = 5", "EPOCHS = 8")
    edit(scaffold / "__init__.py", "VALUE = 42", "VALUE = 43")
    _, outputs = kernel.run(cell)
    text = kernel.text(outputs)
    # a name bound to the same value under another name is the notebook's own: it stays
    assert "CONSTANT 8 8 8 42" in text, text
    assert "mlinterview: reloaded tinykit (" in text
    _, outputs = kernel.run("import tinykit\nprint(tinykit.VALUE)")
    assert kernel.text(outputs) == "43\n"


def test_a_file_that_does_not_import_is_said_once_and_the_previous_version_kept(scaffold, workspace, start_kernel):
    kernel = start_kernel("mlinterview-cpu", workspace)
    kernel.run("from tinykit.pipeline import run")
    edit(scaffold / "train.py", "EPOCHS = 5", "EPOCHS = (5")
    reply, outputs = kernel.run("run()")
    text = kernel.text(outputs)
    assert reply["status"] == "ok" and "(12, 5)" in text, text
    assert ("mlinterview: tinykit was not reloaded after the change to tinykit/train.py: SyntaxError: "
            "'(' was never closed (tinykit/train.py, line 3)") in text
    assert "Cells use the version from before that change until the package imports again." in text
    _, outputs = kernel.run("run()")
    assert "was not reloaded" not in kernel.text(outputs)
    edit(scaffold / "train.py", "EPOCHS = (5", "EPOCHS = 6")
    _, outputs = kernel.run("run()")
    text = kernel.text(outputs)
    assert RELOADED in text and "(12, 6)" in text, text


def test_a_scaffold_fixed_after_a_failed_start_is_watched_once_it_imports(tmp_path, start_kernel):
    from workspace_factory import make_workspace

    workspace = make_workspace(tmp_path / "broken", scaffold_source="import not_a_module_anywhere\n")
    kernel = start_kernel("mlinterview-cpu", workspace)
    _, outputs = kernel.run("1 + 1")
    assert "does not import yet" in kernel.text(outputs)
    (workspace / "tinykit" / "__init__.py").write_text("VALUE = 1\n")
    kernel.run("from tinykit import VALUE")
    (workspace / "tinykit" / "__init__.py").write_text("VALUE = 2\n")
    _, outputs = kernel.run("VALUE")
    assert "mlinterview: reloaded tinykit" in kernel.text(outputs) and kernel.text(outputs).endswith("2")


def visible(outputs):
    """What the notebook shows of a cell's outputs: (kind, text or data), without execution counts
    and without the kernel's silent messages to the server (which it records and drops)."""
    return [(kind, content.get("text") or content.get("data") or content.get("evalue")) for kind, content in outputs
            if not (kind == "display_data" and all(mime.startswith("application/vnd.mlinterview.") for mime in content["data"]))]


FIRST_CELL_USES = {  # a cell after the first one that uses the train config, as the pack's notebook names it
    "churn": "TrainConfig(seed=SEED).epochs",
    "demand": "train.TrainConfig(seed=SEED).epochs",
    "digits": "train.TrainConfig(seed=SEED).epochs",
    "text": "train.TrainConfig(seed=SEED).epochs",
}


@pytest.mark.parametrize("scenario", sorted(FIRST_CELL_USES))
def test_the_first_cell_runs_again_quietly_and_scaffold_edits_reach_the_notebook(scenario, tmp_path, start_kernel):
    pack = load_pack(scenario)
    workspace = materialize(pack, tmp_path / "workspace")
    notebook = json.loads((workspace / "interview.ipynb").read_text())
    first = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    code = "".join(first["source"])
    assert "autoreload" not in code  # the kernel does it
    kernel = start_kernel("mlinterview-cpu", workspace)
    reply, once = kernel.run(code)
    assert reply["status"] == "ok", kernel.text(once)
    reply, again = kernel.run(code)
    assert reply["status"] == "ok"
    # the same outputs as the first time, less the panel: nothing from the kernel
    assert visible(again) == [output for output in visible(once) if "application/vnd.jupyter.widget-view+json" not in output[1]]
    assert "mlinterview" not in kernel.text(again) and "autoreload" not in kernel.text(again)
    train = workspace / pack.scaffold_name / "train.py"
    text = train.read_text()
    default = text.split("epochs: int = ", 1)[1].split("\n", 1)[0]
    train.write_text(text.replace(f"epochs: int = {default}", "epochs: int = 3", 1))
    reply, outputs = kernel.run(FIRST_CELL_USES[scenario])
    printed = kernel.text(outputs)
    assert reply["status"] == "ok" and printed.endswith("3"), printed
    assert f"mlinterview: reloaded {pack.scaffold_name} ({pack.scaffold_name}/train.py changed)" in printed


def test_torch_says_nothing_of_read_only_numpy_arrays(workspace, start_kernel):
    kernel = start_kernel("mlinterview-cpu", workspace)
    kernel.run("1")  # past the panel
    reply, outputs = kernel.run("import numpy as np, pandas as pd, torch\n"
                                "frame = pd.DataFrame({'a': [1.0, 2.0]})\n"
                                "assert not frame.to_numpy().flags.writeable  # pandas' copy-on-write\n"
                                "torch.as_tensor(frame.to_numpy(np.float32)).shape")
    assert reply["status"] == "ok"
    assert "not writable" not in kernel.text(outputs) and kernel.text(outputs) == "torch.Size([2, 1])", outputs

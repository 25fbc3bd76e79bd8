"""The mlinterview kernelspecs as Jupyter starts them: real kernels, real kernel extension."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mlinterview.kernels.signals import STATUS_MIME

MLINTERVIEW = str(Path(sys.executable).with_name("mlinterview"))


def test_kernels_install_into_a_prefix_and_list(tmp_path):
    done = subprocess.run([MLINTERVIEW, "kernels", "install", "--prefix", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for name, display in (("mlinterview-cpu", "mlinterview (CPU)"), ("mlinterview-gpu", "mlinterview (GPU)")):
        spec = json.loads((tmp_path / "share" / "jupyter" / "kernels" / name / "kernel.json").read_text())
        assert spec["display_name"] == display
        assert spec["argv"][0] == sys.executable
        assert "--ext=mlinterview.kernels.ipython_extension" in spec["argv"]
        assert spec["env"]["MLINTERVIEW_KERNEL_DEVICE"] == name.split("-")[1]
        assert spec["metadata"]["debugger"] is False  # debugger evaluations would bypass the cell history
    listing = subprocess.run([MLINTERVIEW, "kernels", "list"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stdout  # the venv's own copies (make setup / pip install)
    assert "mlinterview (CPU)" in listing.stdout and "mlinterview (GPU)" in listing.stdout


def test_kernels_install_with_the_server_extension_writes_the_shipped_jupyter_config(tmp_path):
    # what an editable install (make setup) needs, and pip does through data_files
    done = subprocess.run([MLINTERVIEW, "kernels", "install", "--prefix", str(tmp_path), "--with-server-extension"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    server = json.loads((tmp_path / "etc" / "jupyter" / "jupyter_server_config.d" / "mlinterview.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == {"mlinterview.extension": True}
    lab = json.loads((tmp_path / "etc" / "jupyter" / "labconfig" / "page_config.json").read_text())
    assert lab["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] is True


@pytest.mark.slow
def test_cpu_kernel_seeds_imports_the_scaffold_shows_the_panel_and_guards(workspace, start_kernel):
    kernel = start_kernel("mlinterview-cpu", workspace)
    reply, outputs = kernel.run("import random, tinykit\nprint(tinykit.VALUE, repr(random.random()), DEVICE)")
    assert reply["status"] == "ok"
    text = kernel.text(outputs)
    assert f"42 {random.Random(7).random()!r} cpu" in text  # seeded from workspace.json
    panel = [content for kind, content in outputs if kind == "display_data"]
    assert panel and "application/vnd.jupyter.widget-view+json" in panel[0]["data"]
    assert "Tiny test scenario" in panel[0]["data"]["text/plain"]
    assert "max 1,000 trainable parameters" in panel[0]["data"]["text/plain"]
    assert "min left of 60 min" in panel[0]["data"]["text/plain"]
    reply, outputs = kernel.run("import numpy, torch\n(int(numpy.random.get_state()[1][0]), torch.initial_seed())")
    assert "(7, 7)" in kernel.text(outputs)
    # the panel is shown once, then refreshed: later cells show no second panel, only the status
    # signal for the server (which it keeps for the status bar and does not forward)
    reply, outputs = kernel.run("model = torch.nn.Linear(20, 20)")
    displays = [content["data"] for kind, content in outputs if kind == "display_data"]
    assert reply["status"] == "ok" and displays == [{STATUS_MIME: {"models": [["model", 420]], "training_seconds": None}}]
    # a cell that changes nothing the status says sends no status either
    reply, outputs = kernel.run("x = 1")
    assert reply["status"] == "ok" and not [kind for kind, _ in outputs if kind == "display_data"]
    assert [name for name, _ in kernel_models(kernel)] == ["model"]
    reply, outputs = kernel.run("model = torch.nn.Linear(20, 100)\nmodel(torch.ones(1, 20)).shape")
    assert reply["status"] == "ok"  # running a model is not training it
    reply, outputs = kernel.run("optimizer = torch.optim.Adam(model.parameters())")
    assert reply["status"] == "error" and reply["ename"] == "ConstraintViolation"
    assert "optimizer Adam (model 'model' (Linear)) trains 2,100 weights, over this scenario's limit of 1,000" in reply["evalue"]
    reply, outputs = kernel.run("%mlinterview_status")
    assert "model: 2,100 / 1,000 (210%) OVER THE LIMIT" in kernel.text(outputs)


def kernel_models(kernel):
    _, outputs = kernel.run("get_ipython().mlinterview.models()")
    return eval(kernel.text(outputs))


@pytest.mark.slow
def test_capacity_kept_outside_the_model_and_guard_tampering_are_caught_live(tmp_path, start_kernel):
    from workspace_factory import make_workspace

    scaffold = "import torch\nEXTRA = {'w': torch.zeros(40, 40, requires_grad=True)}\n"  # 1,600 weights in a scaffold dict
    workspace = make_workspace(tmp_path / "ws", scaffold_source=scaffold)
    kernel = start_kernel("mlinterview-cpu", workspace)
    reply, _ = kernel.run(
        "import torch, torch.nn.functional as F, tinykit\nhead = torch.nn.Linear(40, 1)\n"
        "opt = torch.optim.SGD([*head.parameters(), tinykit.EXTRA['w']], lr=0.1)")
    assert reply["ename"] == "ConstraintViolation" and "1,641 weights" in reply["evalue"], reply
    assert "model 'head' (Linear), 1,600 weights outside any model of the notebook" in reply["evalue"]
    reply, _ = kernel.run("head(F.linear(torch.ones(2, 40), tinykit.EXTRA['w'])).sum().backward()")
    assert reply["ename"] == "ConstraintViolation" and "this backward pass" in reply["evalue"], reply

    def tamper_events(outputs):
        from mlinterview.kernels.signals import CONSTRAINT_MIME

        return [content["data"][CONSTRAINT_MIME]["message"] for kind, content in outputs
                if kind == "display_data" and CONSTRAINT_MIME in content["data"] and content["data"][CONSTRAINT_MIME]["event"] == "tamper"]

    reply, outputs = kernel.run("import sys\nsys.modules['torch.optim.optimizer']._global_optimizer_pre_hooks.clear()\n"
                                "get_ipython().mlinterview.guard._limit = 10**9")
    found = tamper_events(outputs)
    assert any("optimizer hooks were cleared" in text for text in found) and any("limits were changed" in text for text in found)
    reply, outputs = kernel.run("small = torch.nn.Linear(4, 1)\nopt = torch.optim.SGD(small.parameters(), lr=0.1)")
    assert reply["status"] == "ok" and not tamper_events(outputs)  # repaired: said once
    reply, outputs = kernel.run("%unload_ext mlinterview.kernels.ipython_extension")
    assert any("kernel extension was unloaded" in text for text in tamper_events(outputs)), outputs


@pytest.mark.slow
def test_scaffold_edits_take_effect_without_a_restart(workspace, start_kernel):
    kernel = start_kernel("mlinterview-cpu", workspace)
    kernel.run("from tinykit import VALUE as before")
    (workspace / "tinykit" / "__init__.py").write_text("VALUE = 43\n")
    reply, outputs = kernel.run("import tinykit\ntinykit.VALUE, before")
    assert "(43, 42)" in kernel.text(outputs)


@pytest.mark.slow
def test_a_broken_scaffold_is_reported_and_the_kernel_still_works(tmp_path, start_kernel):
    from workspace_factory import make_workspace

    workspace = make_workspace(tmp_path / "broken", scaffold_source="import not_a_module_anywhere\n")
    kernel = start_kernel("mlinterview-cpu", workspace)
    reply, outputs = kernel.run("1 + 1")
    assert reply["status"] == "ok"
    assert "The scaffold package 'tinykit' does not import yet: ModuleNotFoundError" in kernel.text(outputs)


@pytest.mark.slow
def test_gpu_kernel_without_a_gpu_says_so_and_runs_on_cpu(workspace, start_kernel):
    kernel = start_kernel("mlinterview-gpu", workspace, env={"CUDA_VISIBLE_DEVICES": ""})
    reply, outputs = kernel.run("print(DEVICE)\nimport torch\ntorch.nn.Linear(3, 3).to(DEVICE)(torch.ones(1, 3, device=DEVICE)).shape")
    assert reply["status"] == "ok"
    text = kernel.text(outputs)
    assert "No GPU is available to this kernel (CUDA_VISIBLE_DEVICES='';" in text
    assert "It runs on the CPU instead: DEVICE is 'cpu'" in text
    assert "cpu\n" in text and "torch.Size([1, 3])" in text
    panel = [content for kind, content in outputs if kind == "display_data"][0]
    assert "No GPU is available" in panel["data"]["text/plain"]


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not cuda_available(), reason="no CUDA device on this machine")
def test_gpu_kernel_uses_the_assigned_gpu(workspace, start_kernel):
    kernel = start_kernel("mlinterview-gpu", workspace)
    reply, outputs = kernel.run(
        "import torch, os\nmodel = torch.nn.Linear(10, 10).to(DEVICE)\n"
        "print(DEVICE, model(torch.ones(1, 10, device=DEVICE)).device.type, torch.cuda.device_count())")
    assert reply["status"] == "ok"
    text = kernel.text(outputs)
    assert "No GPU" not in text
    assert "cuda cuda" in text
    reply, outputs = kernel.run("big = torch.nn.Linear(100, 100).to(DEVICE)\nbig(torch.ones(1, 100, device=DEVICE)).sum().backward()")
    assert reply["ename"] == "ConstraintViolation"

"""Fixtures for the candidate-kernel tests.

Fixtures:

- ``workspace``: a tiny interview workspace (``tests/extension/workspace_factory.py``): limit 1,000
  parameters, 30 s per training run, seed 7, scaffold package ``tinykit``.
- ``start_kernel``: ``start_kernel(name, cwd, env=None) -> KernelRunner``, a real kernel of an
  installed kernelspec (jupyter_client), shut down at teardown; ``runner.run(code)`` returns
  ``(reply content, [(msg_type, content), ...])``.
- ``torch_one_thread``: in-process torch limited to one thread (2 shared CPU cores).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "extension"))

from workspace_factory import make_workspace  # noqa: E402


class KernelRunner:
    def __init__(self, manager, client):
        self.manager, self.client = manager, client

    def run(self, code: str, timeout: float = 60):
        outputs = []

        def keep(msg):
            if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                outputs.append((msg["msg_type"], msg["content"]))

        reply = self.client.execute_interactive(code, output_hook=keep, timeout=timeout)
        return reply["content"], outputs

    def text(self, outputs) -> str:
        parts = []
        for kind, content in outputs:
            if kind == "stream":
                parts.append(content["text"])
            elif kind == "error":
                parts.append(f"{content['ename']}: {content['evalue']}")
            else:
                parts.append(str(content.get("data", {}).get("text/plain", "")))
        return "".join(parts)


@pytest.fixture
def workspace(tmp_path) -> Path:
    return make_workspace(tmp_path / "workspace", train_time_budget_seconds=30)


@pytest.fixture
def start_kernel():
    from jupyter_client.manager import KernelManager

    started = []

    def start(name: str, cwd: Path, env: dict[str, str] | None = None) -> KernelRunner:
        manager = KernelManager(kernel_name=name)
        kernel_env = dict(os.environ, OMP_NUM_THREADS="1")
        kernel_env.update(env or {})
        manager.start_kernel(cwd=str(cwd), env=kernel_env)
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        runner = KernelRunner(manager, client)
        started.append(runner)
        return runner

    yield start
    for runner in started:
        runner.client.stop_channels()
        runner.manager.shutdown_kernel(now=True)


@pytest.fixture
def torch_one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)

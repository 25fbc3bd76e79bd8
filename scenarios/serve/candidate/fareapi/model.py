"""The fare network, its size, and saving and loading it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

HIDDEN = (64, 64)


def build_model(n_inputs: int, hidden: tuple[int, ...] = HIDDEN) -> nn.Module:
    """The model the pipeline trains: ``n_inputs`` standardized inputs to one standardized fare."""
    layers, width = [], n_inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (the scenario's limit applies to this number)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_model(model: nn.Module, path: Path | str, n_inputs: int, hidden: tuple[int, ...] = HIDDEN) -> None:
    torch.save({"n_inputs": n_inputs, "hidden": list(hidden), "state_dict": model.state_dict()}, path)


def load_model(path: Path | str) -> nn.Module:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(saved["n_inputs"], tuple(saved["hidden"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model

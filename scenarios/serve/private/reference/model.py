"""The fare network, its size, and saving and loading it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

HIDDEN = (6,)
METER_INPUTS = 3  # features.transform's first columns: surge, distance x surge, duration x surge


class FareNet(nn.Module):
    """A linear meter on the surge products, plus a small network that corrects it from all inputs."""

    def __init__(self, n_inputs: int, hidden: tuple[int, ...] = HIDDEN):
        super().__init__()
        self.meter = nn.Linear(min(METER_INPUTS, n_inputs), 1)
        layers, width = [], n_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1, bias=False))
        self.correction = nn.Sequential(*layers)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.meter(inputs[:, :METER_INPUTS]) + self.correction(inputs)


def build_model(n_inputs: int, hidden: tuple[int, ...] = HIDDEN) -> nn.Module:
    """The model the pipeline trains: ``n_inputs`` standardized inputs to one standardized fare (about 66 weights)."""
    return FareNet(n_inputs, hidden)


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

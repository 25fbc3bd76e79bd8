"""The demand network."""

from __future__ import annotations

from torch import nn


class DemandNet(nn.Module):
    """A small multi-layer perceptron that forecasts the units one store sells on one day."""

    def __init__(self, n_inputs: int, hidden: tuple[int, ...] = (32, 32)):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, inputs):
        return self.layers(inputs)


def build_model(n_inputs: int) -> nn.Module:
    """The model the pipeline trains, for ``n_inputs`` input features."""
    return DemandNet(n_inputs)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (the scenario's limit applies to this number)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""The churn network."""

from __future__ import annotations

from torch import nn


class ChurnNet(nn.Module):
    """A small multi-layer perceptron that scores the churn risk of one customer per row."""

    def __init__(self, n_inputs: int, hidden: tuple[int, ...] = (32, 16), dropout: float = 0.3):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers += [nn.Linear(width, 1), nn.Sigmoid()]
        self.layers = nn.Sequential(*layers)

    def forward(self, inputs):
        return self.layers(inputs).squeeze(-1)


def build_model(n_inputs: int) -> nn.Module:
    """The model the pipeline trains, for ``n_inputs`` input features."""
    return ChurnNet(n_inputs)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (the scenario's limit applies to this number)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""The digit network."""

from __future__ import annotations

from torch import nn

from .data import N_CLASSES, SIDE


class DigitNet(nn.Module):
    """A multi-layer perceptron over the flattened pixels, returning class probabilities."""

    def __init__(self, hidden: int = 12):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(SIDE * SIDE, hidden),
            nn.ReLU(),
            nn.Linear(hidden, N_CLASSES),
            nn.Softmax(dim=1),
        )

    def forward(self, images):
        return self.layers(images)


def build_model() -> nn.Module:
    """The model the pipeline trains, for images of shape (N, 1, SIDE, SIDE)."""
    return DigitNet()


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (the scenario's limit applies to this number)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

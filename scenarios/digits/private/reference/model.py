"""The digit network (reference solution): a small CNN that fits the 1,500-parameter budget."""

from __future__ import annotations

from torch import nn

from .data import N_CLASSES


class DigitNet(nn.Module):
    """Two 3x3 convolutions share their weights across positions; global max pooling keeps the head small.

    Parameters: 80 (conv 1->8) + 1,168 (conv 8->16) + 170 (linear 16->10) = 1,418.
    """

    def __init__(self, channels: tuple[int, int] = (8, 16)):
        super().__init__()
        first, second = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, first, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(first, second, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(second, N_CLASSES)

    def forward(self, images):
        return self.head(self.features(images).amax(dim=(2, 3)))


def build_model() -> nn.Module:
    """The model the pipeline trains, for images of shape (N, 1, SIDE, SIDE)."""
    return DigitNet()


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (the scenario's limit applies to this number)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""The lateness network."""

from __future__ import annotations

from torch import nn


class LatenessNet(nn.Module):
    """Logistic regression: the logit of the probability that a parcel is delivered late."""

    def __init__(self, n_inputs: int):
        super().__init__()
        self.linear = nn.Linear(n_inputs, 1)

    def forward(self, inputs):
        return self.linear(inputs).squeeze(-1)


def build_model(n_inputs: int) -> nn.Module:
    """The model the pipeline trains, for ``n_inputs`` input features."""
    return LatenessNet(n_inputs)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (the scenario's limit applies to this number)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

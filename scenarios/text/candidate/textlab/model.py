"""The ticket network."""

from __future__ import annotations

import torch
from torch import nn

from .data import N_CLASSES

EMBEDDING_DIM = 32


class TicketNet(nn.Module):
    """A bag of embeddings: the mean embedding of a ticket's tokens, then a linear layer to the classes."""

    def __init__(self, vocabulary_size: int, embedding_dim: int = EMBEDDING_DIM):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocabulary_size, embedding_dim, mode="mean")
        self.head = nn.Linear(embedding_dim, N_CLASSES)

    def forward(self, token_ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(token_ids, offsets))


def build_model(vocabulary_size: int) -> nn.Module:
    """The model the pipeline trains, for token ids below ``vocabulary_size``; it returns logits."""
    return TicketNet(vocabulary_size)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (the scenario's limit applies to this number)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

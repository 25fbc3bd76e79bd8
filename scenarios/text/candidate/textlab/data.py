"""Loading the tickets, splitting them, tokenizing, the vocabulary, and token ids into bags."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterable

import pandas as pd
import torch
from sklearn.model_selection import train_test_split

ID_COLUMN = "ticket_id"
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"
CLASSES = ("billing", "bug", "feature_request", "account")  # label 0, 1, 2, 3
N_CLASSES = len(CLASSES)
TOKEN = re.compile(r"[a-z0-9']+")


def load_tickets(workspace: Path | str = ".") -> pd.DataFrame:
    """The labelled tickets ``data/train.csv`` of a workspace: one row per ticket."""
    return pd.read_csv(Path(workspace) / "data" / "train.csv")


def split_train_valid(frame: pd.DataFrame, valid_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``valid_fraction`` of the tickets for validation, in the same class proportions."""
    return train_test_split(frame, test_size=valid_fraction, random_state=seed, stratify=frame[LABEL_COLUMN])


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers of a ticket, in order."""
    return TOKEN.findall(str(text).lower())


class Vocabulary:
    """Token ids: 0 for a token the vocabulary has not seen, then the tokens by frequency."""

    UNKNOWN = "<unk>"

    def __init__(self, max_size: int | None = None):
        self.max_size = max_size  # None: every token seen in fit

    def fit(self, texts: Iterable[str]) -> "Vocabulary":
        counts = Counter(token for text in texts for token in tokenize(text))
        kept = [token for token, _ in counts.most_common(self.max_size and self.max_size - 1)]
        self.tokens_ = [self.UNKNOWN, *kept]
        self.index_ = {token: index for index, token in enumerate(self.tokens_)}
        return self

    def __len__(self) -> int:
        return len(self.tokens_)

    def __contains__(self, token: str) -> bool:
        return token in self.index_

    def encode(self, text: str) -> list[int]:
        """The token ids of one text."""
        return [self.index_.get(token, 0) for token in tokenize(text)]

    def encode_all(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]


def to_bags(encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists as ``nn.EmbeddingBag`` wants them: all ids in one flat tensor, and where each text starts."""
    lengths = torch.tensor([len(ids) for ids in encoded], dtype=torch.long)
    flat = torch.tensor([token for ids in encoded for token in ids], dtype=torch.long)
    offsets = torch.cumsum(lengths, dim=0) - lengths
    return flat, offsets


def to_label_tensor(frame: pd.DataFrame) -> torch.Tensor:
    return torch.as_tensor(frame[LABEL_COLUMN].to_numpy(dtype="int64", copy=True))

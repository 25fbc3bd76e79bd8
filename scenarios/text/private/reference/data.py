"""Loading the tickets, splitting them, tokenizing, the vocabulary, and token ids into bags."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from pathlib import Path
from typing import Iterable

import pandas as pd
import torch
from sklearn.model_selection import GroupShuffleSplit

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
    """Hold out ``valid_fraction`` of the tickets for validation; the copies of one ticket stay on one side."""
    groups = frame[TEXT_COLUMN].map(duplicate_key)
    splitter = GroupShuffleSplit(n_splits=1, test_size=valid_fraction, random_state=seed)
    train_rows, valid_rows = next(splitter.split(frame, groups=groups))
    return frame.iloc[train_rows], frame.iloc[valid_rows]


def duplicate_key(text: str) -> str:
    """The same for a ticket and its resends: letters only, lower case, without reply prefixes."""
    words = re.findall(r"[a-z]+", str(text).lower())
    while words and words[0] in ("re", "fw", "fwd"):
        words = words[1:]
    return " ".join(words)


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers of a ticket, in order."""
    return TOKEN.findall(str(text).lower())


WORDS = 3400  # the most frequent words of the training tickets, one row each
CHAR_BUCKETS = 1400  # hashed character trigrams of every word: typos share most of them with the word


def char_trigrams(token: str) -> list[str]:
    padded = f"<{token}>"
    return [padded[i:i + 3] for i in range(len(padded) - 2)]


class Vocabulary:
    """Token ids: 0 for a word the vocabulary has not seen, then the words by frequency; then, after
    the words, one id per hashed character trigram (``CHAR_BUCKETS`` of them), so that a misspelt or
    unseen word still lands near the word it is a variant of. ``len`` is the number of ids."""

    UNKNOWN = "<unk>"

    def __init__(self, max_size: int | None = WORDS, char_buckets: int = CHAR_BUCKETS):
        self.max_size = max_size
        self.char_buckets = char_buckets

    def fit(self, texts: Iterable[str]) -> "Vocabulary":
        counts = Counter(token for text in texts for token in tokenize(text))
        kept = [token for token, _ in counts.most_common(self.max_size and self.max_size - 1)]
        self.tokens_ = [self.UNKNOWN, *kept]
        self.index_ = {token: index for index, token in enumerate(self.tokens_)}
        return self

    def __len__(self) -> int:
        return len(self.tokens_) + self.char_buckets

    def __contains__(self, token: str) -> bool:
        return token in self.index_

    def encode(self, text: str) -> list[int]:
        """The ids of one text: each word's id, then the ids of its character trigrams."""
        ids = []
        for token in tokenize(text):
            ids.append(self.index_.get(token, 0))
            if not token.isdigit():  # numbers are references and amounts: no signal in their pieces
                ids.extend(len(self.tokens_) + zlib.crc32(gram.encode()) % self.char_buckets for gram in char_trigrams(token))
        return ids

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

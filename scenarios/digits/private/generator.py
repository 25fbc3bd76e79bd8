"""Data of the digits scenario: scikit-learn's bundled 8x8 digits, placed on a 10x10 canvas, with quirks.

Nothing is downloaded: ``sklearn.datasets.load_digits`` ships its 1,797 images. They are split
once, by the fixed ``PARTITION_SEED`` and stratified by class, into a candidate pool (70 %) and a
holdout pool (30 %); no seed changes that partition, so no holdout image can ever reach a
workspace. Each image is drawn at a random offset (0-2 pixels down and right) on a 10x10 canvas,
so a digit is not always in the same pixels: a network that shares weights across positions
(a small CNN) needs far fewer parameters than a plain MLP.

- candidate data (``train.csv``, from the candidate pool and a public seed): classes 3 and 8 cut
  to a third and 5 to a half (imbalance); a quarter of the sevens labelled 1 (label noise on one
  class pair); 8 % of the images inverted (16 - value) and 8 % rotated by 90, 180 or 270 degrees;
- holdout (from the holdout pool and the installation's secret seed): balanced, true labels, with
  more inverted (12 %) and rotated (12 %) images than the candidate saw.

Pixel values are integers 0-16 in columns ``p00`` ... ``p99`` (``p<row><column>``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

PARTITION_SEED = 1797
HOLDOUT_FRACTION = 0.3
SIDE = 10
DIGIT_SIDE = 8
MAX_VALUE = 16
ID_COLUMN = "image_id"
LABEL_COLUMN = "label"
PIXEL_COLUMNS = tuple(f"p{row}{column}" for row in range(SIDE) for column in range(SIDE))
# Candidate data: the fraction of each listed class that is kept (class imbalance).
KEPT_FRACTION = {3: 0.33, 8: 0.33, 5: 0.5}
NOISY_PAIR = (7, 1)  # a quarter of the true 7s carry the label 1
NOISY_FRACTION = 0.25
CANDIDATE_INVERTED, CANDIDATE_ROTATED = 0.08, 0.08
HOLDOUT_INVERTED, HOLDOUT_ROTATED = 0.12, 0.12


def _digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = load_digits()
    return bunch.images.astype(np.int64), bunch.target.astype(np.int64)


def partition() -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``load_digits()`` of the candidate pool and the holdout pool (fixed, stratified)."""
    _, labels = _digits()
    rng = np.random.default_rng(PARTITION_SEED)
    candidate, holdout = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(round(len(members) * HOLDOUT_FRACTION))
        holdout.extend(members[:cut])
        candidate.extend(members[cut:])
    return np.sort(np.array(candidate)), np.sort(np.array(holdout))


def _render(images: np.ndarray, rng: np.random.Generator, inverted: float, rotated: float) -> np.ndarray:
    """Each 8x8 image at a random offset on the canvas, some inverted, some rotated."""
    canvas = np.zeros((len(images), SIDE, SIDE), dtype=np.int64)
    offsets = rng.integers(0, SIDE - DIGIT_SIDE + 1, size=(len(images), 2))
    for index, (row, column) in enumerate(offsets):
        canvas[index, row:row + DIGIT_SIDE, column:column + DIGIT_SIDE] = images[index]
    turns = np.where(rng.random(len(images)) < rotated, rng.integers(1, 4, len(images)), 0)
    for index in np.flatnonzero(turns):
        canvas[index] = np.rot90(canvas[index], turns[index])
    flip = rng.random(len(images)) < inverted
    canvas[flip] = MAX_VALUE - canvas[flip]
    return canvas


def _frame(canvas: np.ndarray, ids: list[str]) -> pd.DataFrame:
    pixels = pd.DataFrame(canvas.reshape(len(canvas), -1), columns=list(PIXEL_COLUMNS))
    pixels.insert(0, ID_COLUMN, ids)
    return pixels


def _ids(rng: np.random.Generator, count: int, prefix: str) -> list[str]:
    return [f"{prefix}{number:06d}" for number in rng.choice(10**6, size=count, replace=False)]


def make_candidate_data(seed: int) -> dict[str, pd.DataFrame]:
    """The candidate's labelled images, from the candidate pool only."""
    images, labels = _digits()
    pool, _ = partition()
    rng = np.random.default_rng([seed, 1])
    keep = np.ones(len(pool), dtype=bool)
    for digit, fraction in KEPT_FRACTION.items():
        members = np.flatnonzero(labels[pool] == digit)
        dropped = rng.choice(members, size=len(members) - int(round(len(members) * fraction)), replace=False)
        keep[dropped] = False
    chosen = rng.permutation(pool[keep])
    noisy = labels[chosen].copy()
    sevens = np.flatnonzero(noisy == NOISY_PAIR[0])
    noisy[rng.choice(sevens, size=int(round(len(sevens) * NOISY_FRACTION)), replace=False)] = NOISY_PAIR[1]
    frame = _frame(_render(images[chosen], rng, CANDIDATE_INVERTED, CANDIDATE_ROTATED), _ids(rng, len(chosen), "img"))
    frame[LABEL_COLUMN] = noisy
    return {"train.csv": frame}


def make_holdout(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Holdout features (id + pixels) and true labels, from the holdout pool and the secret seed."""
    images, labels = _digits()
    _, pool = partition()
    rng = np.random.default_rng([seed, 2])
    chosen = rng.permutation(pool)
    frame = _frame(_render(images[chosen], rng, HOLDOUT_INVERTED, HOLDOUT_ROTATED), _ids(rng, len(chosen), "h"))
    return frame, labels[chosen]


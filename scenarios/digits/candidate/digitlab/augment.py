"""Random rotations and inversions (the scans come in both), and mini-batches."""

from __future__ import annotations

import torch


def augment(images: torch.Tensor, generator: torch.Generator, rotate: float = 0.15, invert: float = 0.15) -> torch.Tensor:
    """A copy of standardised ``images`` with a fraction rotated by a multiple of 90 degrees and a fraction inverted."""
    images = images.clone()
    count = len(images)
    turns = torch.randint(1, 4, (count,), generator=generator)
    rotated = torch.rand(count, generator=generator) < rotate
    for quarter in (1, 2, 3):
        chosen = rotated & (turns == quarter)
        if chosen.any():
            images[chosen] = torch.rot90(images[chosen], quarter, dims=(2, 3))
    inverted = torch.rand(count, generator=generator) < invert
    images[inverted] = -images[inverted]
    return images


def batches(images: torch.Tensor, labels: torch.Tensor | None, batch_size: int, *, shuffle: bool,
            generator: torch.Generator | None = None, augmented: bool = True):
    """Yield ``(images, labels)`` mini-batches covering every image once (labels None when not given)."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    order = torch.randperm(len(images), generator=generator) if shuffle else torch.arange(len(images))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = images[rows]
        if augmented:
            batch = augment(batch, generator)
        yield batch, (labels[rows] if labels is not None else None)

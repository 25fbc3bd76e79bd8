"""The device, the loss, the optimiser, the learning-rate schedule and the training loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .augment import batches
from .data import N_CLASSES


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 1e-2
    lr_step_epochs: int = 15  # divide the learning rate by 10 every this many epochs
    seed: int = 0
    rotate: float = 0.3  # scans come rotated; inverted ones are turned back in data.upright_contrast


def pick_device() -> torch.device:
    """The GPU when this kernel has one, else the CPU: the same code runs on both."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_model(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, config: TrainConfig = TrainConfig()) -> list[float]:
    """Train ``model`` in place on standardised ``images`` (N, 1, H, W); return each epoch's mean loss."""
    device = pick_device()
    model.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_epochs, gamma=0.1)
    # The brief scores macro-F1 and 3s, 5s and 8s are rare: weight classes by inverse frequency.
    counts = torch.bincount(labels, minlength=N_CLASSES).clamp(min=1).float()
    loss_function = nn.CrossEntropyLoss(weight=(counts.sum() / (N_CLASSES * counts)).to(device))
    history = []
    for _ in range(config.epochs):
        model.train()
        losses = []
        for batch_images, batch_labels in batches(images, labels, config.batch_size, shuffle=True, generator=generator,
                                                  rotate=config.rotate):
            optimizer.zero_grad()
            loss = loss_function(model(batch_images.to(device)), batch_labels.to(device))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        history.append(float(np.mean(losses)))
    return history

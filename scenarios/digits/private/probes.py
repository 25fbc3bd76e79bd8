"""Probes of the digits scenario: one per planted bug, each deciding from behaviour, not text.

Each probe imports the candidate's scaffold package (its parent folder is on ``sys.path``), calls
the function the bug lives in on small synthetic images, and returns ``(fixed, what it saw)``.
Synthetic images have an ink-free border, so a candidate's un-inversion step leaves them alone.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

SIDE = 10


def _module(scaffold: Path, name: str):
    return importlib.import_module(f"{Path(scaffold).name}.{name}")


def synthetic_images(count: int, seed: int = 0) -> np.ndarray:
    """``count`` distinct 10x10 images, values 0-16, zero border (as upright scans have)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, SIDE, SIDE), dtype=np.int64)
    images[:, 1:-1, 1:-1] = rng.integers(0, 17, size=(count, SIDE - 2, SIDE - 2))
    return images


def synthetic_frame(count: int, seed: int = 0) -> pd.DataFrame:
    images = synthetic_images(count, seed)
    frame = pd.DataFrame(images.reshape(count, -1), columns=[f"p{r}{c}" for r in range(SIDE) for c in range(SIDE)])
    frame.insert(0, "image_id", [f"probe{i:04d}" for i in range(count)])
    frame["label"] = np.arange(count) % 10
    return frame


def probe_normalization_wrong_axis(scaffold: Path) -> tuple[bool, str]:
    """Statistics fitted on some images must apply to any other set, and not depend on the batch."""
    data = _module(scaffold, "data")
    fitted = torch.as_tensor(synthetic_images(24, 1), dtype=torch.float32).unsqueeze(1)
    other = torch.as_tensor(synthetic_images(7, 2), dtype=torch.float32).unsqueeze(1)
    normalizer = data.PixelNormalizer().fit(fitted)
    try:
        together = normalizer.transform(other)
        alone = normalizer.transform(other[:1])
    except Exception as error:  # noqa: BLE001 - any failure means the bug is still there
        return False, f"transforming 7 images with statistics fitted on 24 fails: {type(error).__name__}: {str(error)[:140]}"
    if tuple(together.shape) != (7, 1, SIDE, SIDE):
        return False, f"transform turns 7 images into shape {tuple(together.shape)}"
    if not torch.allclose(together[:1], alone, atol=1e-5):
        return False, "an image is normalised differently depending on the other images of its batch"
    return True, "statistics fitted on one set of images apply to any other set, image by image"


def probe_view_scrambles_pixels(scaffold: Path) -> tuple[bool, str]:
    """Image i of the tensor must be row i's pixels as a 10x10 grid."""
    frame = synthetic_frame(6, 3)
    tensor = _module(scaffold, "data").to_image_tensor(frame)
    expected = synthetic_images(6, 3).astype(np.float32)
    if tuple(tensor.shape) != (6, 1, SIDE, SIDE):
        return False, f"to_image_tensor gives shape {tuple(tensor.shape)} for 6 images; expected (6, 1, {SIDE}, {SIDE})"
    got = tensor[:, 0].detach().cpu().numpy().astype(np.float32)
    if np.allclose(got, expected):
        return True, "each image tensor holds its own row's pixels in place"
    if np.allclose(got, expected.transpose(0, 2, 1)):
        return False, "each image tensor is its row's image transposed"
    return False, "the image tensors mix pixels of different rows (view where permute was meant)"


def probe_softmax_before_cross_entropy(scaffold: Path) -> tuple[bool, str]:
    """The model must return logits (what CrossEntropyLoss expects), not probabilities."""
    torch.manual_seed(0)
    model = _module(scaffold, "model").build_model()
    model.eval()
    with torch.no_grad():
        outputs = model(torch.randn(8, 1, SIDE, SIDE)).float().cpu()
    sums_to_one = torch.allclose(outputs.sum(dim=1), torch.ones(len(outputs)), atol=1e-4)
    if sums_to_one and bool(((outputs >= 0) & (outputs <= 1)).all()):
        return False, "the model's outputs are probabilities (each row sums to 1): a softmax before CrossEntropyLoss"
    return True, "the model returns logits"


def probe_augmentation_on_eval(scaffold: Path) -> tuple[bool, str]:
    """predict_classes must classify the images as given: no random rotation or inversion."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 10))
    images = torch.randn(96, 1, SIDE, SIDE)
    with torch.no_grad():
        expected = model(images).argmax(dim=1).numpy()
    predicted = np.asarray(_module(scaffold, "evaluate").predict_classes(model, images)).reshape(-1)
    changed = int((predicted != expected).sum())
    if changed == 0:
        return True, "predict_classes classifies the images as given"
    return False, f"predict_classes changes {changed} of 96 answers against the model on the plain images: evaluation data is augmented"


def probe_scheduler_per_batch(scaffold: Path) -> tuple[bool, str]:
    """The learning rate must not collapse long before training ends.

    Judged on the trajectory of the learning rate over every optimizer step of a training run long
    enough for the shipped schedule to matter (32 epochs of 5 batches), not on how the schedule is
    written: a step schedule stepped per epoch, a per-batch OneCycleLR or cosine schedule, or no
    schedule all keep most steps near their peak rate; an epoch schedule stepped every batch leaves
    most steps at under 1/300 of the peak.
    """
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    train = _module(scaffold, "train")
    rates: list[float] = []
    handle = register_optimizer_step_pre_hook(lambda optimizer, args, kwargs: rates.append(float(optimizer.param_groups[0]["lr"])))
    epochs, batch_size = 32, 4  # 20 images: 5 batches per epoch, 160 steps
    try:
        torch.manual_seed(0)
        model = _module(scaffold, "model").build_model()
        images = torch.randn(20, 1, SIDE, SIDE)
        labels = torch.arange(20) % 10
        train.train_model(model, images, labels, train.TrainConfig(epochs=epochs, batch_size=batch_size))
    finally:
        handle.remove()
    from mlinterview.graders.behaviour import learning_rate_collapse

    collapsed, sentence = learning_rate_collapse(rates)
    if collapsed is None:
        raise RuntimeError(f"train_model made {len(rates)} optimizer steps in {epochs} epochs of 5 batches; cannot tell")
    if collapsed:
        return False, f"{sentence} ({epochs} epochs of 5 batches): an epoch schedule stepped every batch"
    return True, sentence

"""Probes of the text scenario: one per planted bug, each deciding from behaviour, not text.

Each probe imports the candidate's scaffold package (its parent folder is on ``sys.path``), calls
the function the bug lives in on small synthetic tickets, and returns ``(fixed, what it saw)``.
Synthetic words are random letters, so that no candidate's tokenizer or duplicate key confuses two
of them; the parameter probe uses the pack's own generator, loaded by path from beside this file.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

MAX_PARAMETERS = 20_000  # scenario.toml's constraints.max_parameters
GENERATOR_SEED = 11


def _module(scaffold: Path, name: str):
    return importlib.import_module(f"{Path(scaffold).name}.{name}")


def _generator():
    spec = importlib.util.spec_from_file_location("_text_generator", Path(__file__).with_name("generator.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_words(rng: np.random.Generator, count: int, length: int = 7) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=length)) for _ in range(count)]


def frame_of(texts: list[str], labels) -> pd.DataFrame:
    return pd.DataFrame({"ticket_id": [f"probe{i:05d}" for i in range(len(texts))], "text": texts,
                         "label": np.asarray(labels, dtype=np.int64)})


def probe_raw_text_into_model(scaffold: Path) -> tuple[bool, str]:
    """The datasets must hold what the model reads (token ids), and the model must read them."""
    pipeline, model_module, evaluate = (_module(scaffold, name) for name in ("pipeline", "model", "evaluate"))
    frame = _generator().make_candidate_data(GENERATOR_SEED)["train.csv"].iloc[:200].reset_index(drop=True)
    datasets = pipeline.prepare_datasets(frame, seed=0)
    if any(isinstance(item, str) for item in list(datasets.X_valid)[:5]):
        return False, "prepare_datasets hands the model the raw ticket strings, not token ids"
    torch.manual_seed(0)
    model = model_module.build_model(len(datasets.vocabulary))
    try:
        scores = np.asarray(evaluate.predict_logits(model, datasets.X_valid))
    except Exception as error:  # noqa: BLE001 - any failure means the inputs are not what the model reads
        return False, f"the model cannot read the validation inputs: {type(error).__name__}: {str(error)[:140]}"
    if scores.shape[0] != len(datasets.valid):
        return False, f"{scores.shape[0]} scores for {len(datasets.valid)} validation tickets"
    return True, "the datasets hold token ids, and the model scores every validation ticket from them"


def probe_embedding_over_budget(scaffold: Path) -> tuple[bool, str]:
    """The model the pipeline builds for the pack's own tickets must fit the parameter budget."""
    pipeline, model_module = _module(scaffold, "pipeline"), _module(scaffold, "model")
    frame = _generator().make_candidate_data(GENERATOR_SEED)["train.csv"]
    datasets = pipeline.prepare_datasets(frame, seed=GENERATOR_SEED)
    size = len(datasets.vocabulary)
    count = int(model_module.count_parameters(model_module.build_model(size)))
    if count > MAX_PARAMETERS:
        return False, f"a vocabulary of {size:,} ids gives a model of {count:,} parameters, over the {MAX_PARAMETERS:,} budget"
    return True, f"a vocabulary of {size:,} ids gives a model of {count:,} parameters, within the {MAX_PARAMETERS:,} budget"


def probe_vocabulary_fitted_on_all_rows(scaffold: Path) -> tuple[bool, str]:
    """No word that occurs only in validation tickets may be in the vocabulary."""
    pipeline = _module(scaffold, "pipeline")
    rng = np.random.default_rng(5)
    common = random_words(rng, 6)
    markers = random_words(rng, 100, length=9)  # one word per ticket, said five times: frequent enough for any cap
    texts = [" ".join([marker] * 5 + list(rng.choice(common, size=4))) for marker in markers]
    frame = frame_of(texts, np.arange(len(texts)) % 4)
    datasets = pipeline.prepare_datasets(frame, seed=0)
    vocabulary = datasets.vocabulary
    in_train = {marker for marker, text in zip(markers, texts) if text in set(datasets.train["text"])}
    in_valid = [marker for marker, text in zip(markers, texts) if text in set(datasets.valid["text"]) and marker not in in_train]
    if not in_valid:
        raise RuntimeError("the split left no ticket for validation; cannot tell")
    if not any(marker in vocabulary for marker in in_train):
        raise RuntimeError("the vocabulary holds none of the training tickets' words; cannot tell")
    leaked = [marker for marker in in_valid if marker in vocabulary]
    if leaked:
        return False, f"{len(leaked)} of {len(in_valid)} words seen only in validation tickets are in the vocabulary: it was fitted on every row"
    return True, f"none of the {len(in_valid)} words seen only in validation tickets is in the vocabulary"


def _key(text: str) -> str:
    words = re.findall(r"[a-z]+", text.lower())
    while words and words[0] in ("re", "fw", "fwd"):
        words = words[1:]
    return " ".join(words)


def probe_near_duplicates_across_split(scaffold: Path) -> tuple[bool, str]:
    """A ticket and its resends (reply prefix, other numbers, other case) must land on one side of the split."""
    data = _module(scaffold, "data")
    rng = np.random.default_rng(7)
    texts, labels = [], []
    for group in range(60):
        words = " ".join(random_words(rng, 8))
        label = group % 4
        texts.append(f"{words} order {rng.integers(10_000, 99_999)}")
        texts.append(f"re: {words} order {rng.integers(10_000, 99_999)}")
        texts.append(f"Fwd: {words.upper()} order {rng.integers(10_000, 99_999)}!!")
        labels += [label] * 3
    order = rng.permutation(len(texts))
    frame = frame_of([texts[i] for i in order], [labels[i] for i in order])
    train, valid = data.split_train_valid(frame, 0.2, 0)
    if len(valid) == 0 or len(train) == 0:
        raise RuntimeError(f"split_train_valid gave {len(train)} training and {len(valid)} validation tickets; cannot tell")
    shared = {_key(t) for t in train["text"]} & {_key(t) for t in valid["text"]}
    if shared:
        return False, f"{len(shared)} of 60 tickets have copies on both sides of the split (a random row split)"
    return True, "every ticket and its resends land on one side of the split"


def probe_texts_shuffled_apart_from_labels(scaffold: Path) -> tuple[bool, str]:
    """Shuffled mini-batches must keep each text with its own label, and cover every text once."""
    train = _module(scaffold, "train")
    encoded = [[label * 100 + index, label * 100 + index] for index, label in enumerate(np.arange(40) % 4)]
    original = [list(ids) for ids in encoded]
    labels = torch.arange(40) % 4
    seen, mismatched = [], 0
    for batch, batch_labels in train.batches(encoded, labels, 8, shuffle=True, seed=3):
        for ids, label in zip(batch, batch_labels.tolist()):
            seen.append(ids[0])
            mismatched += int(ids[0] // 100 != label)
    if mismatched:
        return False, f"{mismatched} of {len(seen)} shuffled texts come with another text's label"
    if sorted(seen) != sorted(ids[0] for ids in original):
        return False, "the shuffled batches do not cover every text exactly once"
    return True, "shuffled batches keep every text with its own label"


def probe_gradients_zeroed_before_step(scaffold: Path) -> tuple[bool, str]:
    """Training must move the weights: the optimizer's steps must see the batch's gradients."""
    train, model_module = _module(scaffold, "train"), _module(scaffold, "model")
    torch.manual_seed(0)
    model = model_module.build_model(40)
    before = [p.detach().clone() for p in model.parameters()]
    encoded = [[int(label) * 10 + k for k in range(3)] for label in np.arange(32) % 4]
    labels = torch.arange(32) % 4
    train.train_model(model, encoded, labels, train.TrainConfig(epochs=2, batch_size=8))
    moved = max(float((p.detach() - b).abs().max()) for p, b in zip(model.parameters(), before))
    if moved < 1e-7:
        return False, "two epochs of training leave every weight where it started: the gradients are zeroed before the step"
    return True, f"training moves the weights (by up to {moved:.3g})"

from pathlib import Path


def probe_wrong_label_name(scaffold: Path):
    fixed = '"labell"' not in (Path(scaffold) / "model.py").read_text()
    return fixed, "fit reads 'label'" if fixed else "fit still reads 'labell'"


def probe_drops_signal(scaffold: Path):
    import importlib

    features = importlib.import_module(f"{Path(scaffold).name}.features")
    fixed = "x2" in features.FEATURES
    return fixed, f"FEATURES is {features.FEATURES}"

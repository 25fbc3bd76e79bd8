FEATURES = ["x1"]


def matrix(frame):
    import numpy as np

    return np.column_stack([np.ones(len(frame))] + [frame[name].to_numpy(dtype=float) for name in FEATURES])

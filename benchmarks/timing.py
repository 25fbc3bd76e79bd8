"""Small helpers the benchmarks share: robust summaries of repeated, interleaved measurements."""

from __future__ import annotations

import statistics


def summary(label: str, seconds: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    return (f"{label:<34} median {statistics.median(seconds) * scale:8.3f} {unit}   "
            f"mean {statistics.fmean(seconds) * scale:8.3f} {unit}   n={len(seconds)}")


def ratio_line(label: str, measured: list[float], baseline: list[float], target: float) -> str:
    """Ratio of medians (robust to the noisy shared machines) and of means, against the target."""
    by_median = statistics.median(measured) / statistics.median(baseline)
    by_mean = statistics.fmean(measured) / statistics.fmean(baseline)
    verdict = "within" if by_median <= target else "OVER"
    return f"{label}: {by_median:.3f}x by median ({by_mean:.3f}x by mean), target <= {target:g}x: {verdict}"

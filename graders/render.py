"""Rendering a built report: ``report.json`` and the self-contained ``report.html``.

:mod:`mlinterview.graders.report` decides what a report says (its schema, verdicts, bands and
evidence); this module only writes it down: JSON with NaN turned into null, and HTML from the
Jinja template in ``templates/`` with inline SVG plots (matplotlib) and no network.
"""

from __future__ import annotations

import functools
import html
import io
import json
import math
from pathlib import Path
from typing import Any

TEMPLATE_DIR = Path(__file__).parent / "templates"


def write_report(report: dict[str, Any], out_dir: Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = _json_safe(report)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str, allow_nan=False) + "\n", encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(report), encoding="utf-8")


def _json_safe(value):
    """NaN and infinities (not JSON) become null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def timeline_svg(timeline: list[dict[str, Any]]) -> str | None:
    """The session as a picture: executions per role (green ok, red error), kernel events, notes."""
    points = [e for e in timeline if e.get("t") is not None]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = {"candidate": 2, "interviewer": 1, "system": 0}
    figure = Figure(figsize=(9, 2.6))
    axis = figure.add_subplot()
    colors = {"ok": "#2e7d32", "error": "#c62828", "aborted": "#9e9e9e", "no reply": "#6d4c41"}
    for entry in points:
        minutes = entry["t"] / 60
        if entry["kind"] == "execute_request":
            axis.scatter(minutes, rows.get(entry["role"], 0), color=colors.get(entry.get("status"), "#555"), s=22, zorder=3)
        elif entry["kind"] == "kernel_event":
            axis.axvline(minutes, color="#1565c0", linestyle="--", linewidth=0.8)
            axis.text(minutes, 2.45, entry["label"], fontsize=7, color="#1565c0", rotation=90, va="top")
        elif entry["kind"] == "constraint":
            axis.scatter(minutes, 0, marker="^", color="#ef6c00", s=40, zorder=3)
        elif entry["kind"] == "note":
            axis.scatter(minutes, 1, marker="s", color="#6a1b9a", s=30, zorder=3)
    axis.set_yticks([0, 1, 2], ["system / constraints", "interviewer", "candidate"])
    axis.set_ylim(-0.6, 2.6)
    axis.set_xlabel("minutes since the session started")
    axis.grid(axis="x", alpha=0.3)
    for spine in ("top", "right"):
        axis.spines[spine].set_visible(False)
    return _svg(figure)


def metric_svg(holdout: dict[str, Any], metric: str) -> str | None:
    bars = [(name, holdout.get(key)) for name, key in (("baseline", "baseline"), ("this submission", "value"), ("reference", "reference"))]
    bars = [(name, value) for name, value in bars if value is not None]
    if len(bars) < 1:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 1.8))
    axis = figure.add_subplot()
    names = [name for name, _ in bars]
    values = [value for _, value in bars]
    axis.barh(names, values, color=["#1565c0" if n == "this submission" else "#b0bec5" for n in names])
    for position, value in enumerate(values):
        axis.text(value, position, f" {value:.4f}", va="center", fontsize=8)
    axis.set_xlabel(f"holdout {metric}")
    axis.set_xlim(0, max(values) * 1.25 if max(values) > 0 else 1)
    for spine in ("top", "right"):
        axis.spines[spine].set_visible(False)
    return _svg(figure)


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        css = "add" if line.startswith("+") and not line.startswith("+++") else "del" if line.startswith("-") and not line.startswith("---") else ""
        lines.append(f'<span class="{css}">{html.escape(line)}</span>')
    return "\n".join(lines)


@functools.lru_cache(maxsize=1)
def _template():
    import jinja2
    from markupsafe import Markup

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.ChainableUndefined
    )
    environment.filters["band"] = lambda value: (value or "n/a").replace("_", " ")
    environment.filters["num"] = lambda value, digits=4: "n/a" if value is None else f"{value:.{digits}f}"
    environment.filters["diff"] = lambda text: Markup(_diff_html(text or ""))
    return environment.get_template("report.html.j2")


def warm_up() -> None:
    """Do the one-time work of rendering ahead (matplotlib and its fonts, the compiled template):
    a grader kept ready (``mlinterview grade-on-request``) then writes its report at once."""
    timeline_svg([{"t": 0.0, "role": "candidate", "kind": "execute_request", "status": "ok"},
                  {"t": 1.0, "kind": "kernel_event", "label": "started"}])
    metric_svg({"value": 0.5, "baseline": 0.25}, "metric")
    _template()


def render_html(report: dict[str, Any]) -> str:
    from markupsafe import Markup

    template = _template()
    return template.render(
        r=report,
        timeline_svg=Markup(timeline_svg(report.get("timeline") or []) or ""),
        metric_svg=Markup(metric_svg(report.get("holdout") or {}, (report.get("holdout") or {}).get("metric", "")) or ""),
        json_size=len(json.dumps(report, default=str)),
    )


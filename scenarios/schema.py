"""The schema of ``scenario.toml``, the manifest of a scenario pack.

Validated with pydantic: every model forbids unknown keys, so a typo is an error that names
the field instead of a setting silently ignored. ``ScenarioManifest.model_json_schema()`` is
the machine-readable form; ``scenarios/README.md`` documents each field for pack authors.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BAND_NAMES = ("very_weak", "weak", "strong", "very_strong")
RUBRIC_SIGNALS = ("data_handling", "model_selection", "optimization", "evaluation")
# The rubric's fifth signal: only a pack that puts a model into production rates it (one with [serving]).
PRODUCTION_SIGNAL = "production"
ALL_SIGNALS = (*RUBRIC_SIGNALS, PRODUCTION_SIGNAL)
SignalName = Literal[ALL_SIGNALS]  # one of these names
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
PACK_ID = re.compile(r"^[a-z][a-z0-9-]*$")


def snake_case_id(value: str) -> str:
    """An id of a bug, a probe or a question: lower_snake_case."""
    if not IDENTIFIER.match(value):
        raise ValueError("must be lower_snake_case (letters, digits, underscores, starting with a letter)")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Constraints(Strict):
    max_parameters: int = Field(gt=0, description="Largest trainable parameter count a model may have.")
    train_time_budget_seconds: float = Field(gt=0, description="CPU wall time allowed for one training run.")
    seed: int = Field(ge=0, description="Seed for Python, numpy and torch in the candidate kernel.")
    near_limit_fraction: float = Field(
        default=0.9, gt=0, le=1, description="Warn the candidate when a model reaches this fraction of the limit."
    )


class Metric(Strict):
    name: Literal[
        "average_precision", "roc_auc", "f1", "accuracy", "macro_f1", "log_loss", "mae", "rmse", "r2"
    ] = Field(description="Holdout metric, computed with scikit-learn in the grader process.")
    direction: Literal["higher", "lower"] = Field(description="Whether a higher or a lower value is better.")


class Contract(Strict):
    """How the grader and the calibration get predictions out of a candidate's work."""

    predict: str = Field(
        default="predict",
        description="Name of the callable in the notebook's global namespace: predict(features: DataFrame) -> 1-D scores.",
    )
    pipeline: str = Field(
        description="'module:function' in the scaffold: function(workspace: Path, seed: int) -> predict callable. "
        "Runs the scaffold end to end without the notebook (calibration, probes)."
    )
    id_column: str = Field(description="Column that identifies a row of the holdout features.")
    label_column: str = Field(description="Column of the candidate's data that holds the label; never in holdout features.")
    prediction_kind: Literal["probability", "value", "class"] = Field(
        description="What predict returns: probability of the positive class in [0, 1], a real value, or a class label."
    )

    @field_validator("pipeline")
    @classmethod
    def _module_and_function(cls, value: str) -> str:
        module, sep, function = value.partition(":")
        if not sep or not module or not function.isidentifier():
            raise ValueError("must look like 'package.module:function', e.g. 'churnlab.pipeline:fit_predictor'")
        return value


class BehaviourCheck(Strict):
    """One check of what the replayed notebook did (``graders/behaviour.py`` implements each kind)."""

    check: Literal[
        "predict_ignores_column",
        "predict_treats_value_as_missing",
        "predict_deterministic",
        "fresh_gradients",
        "batches_mixed_by_label",
        "logits_loss_gets_logits",
        "learning_rate_not_collapsed",
        "split_keeps_groups_apart",
        "split_validates_later",
        "pipeline_runs",
    ] = Field(description="What to check (see graders/behaviour.py).")
    column: str | None = Field(default=None, description="The column the check is about (a feature, a group id or a time column).")
    columns: list[str] = Field(default_factory=list, description="Several columns (e.g. those with a sentinel code).")
    value: float | None = Field(default=None, description="A sentinel value, for predict_treats_value_as_missing.")


class Bug(Strict):
    id: str = Field(description="Short identifier, lower_snake_case; names the probe and the fix.")
    title: str
    kind: Literal["breaking", "non-breaking"] = Field(
        description="breaking: the shipped notebook fails until it is fixed; non-breaking: runs, but silently wrong."
    )
    location: str = Field(description="Where the bug lives: 'path/in/scaffold.py:function' or a notebook cell.")
    signal: SignalName = Field(description="The rubric signal a fix of this bug is evidence for.")
    probe: str = Field(description="Function name in private/probes.py that decides whether this bug is fixed.")
    interviewer_notes: str = Field(description="What the interviewer should know, watch for and ask.")
    behaviour: list[BehaviourCheck] = Field(
        default_factory=list,
        description="Checks of the replayed notebook's own run (training, predict, its split) that decide the bug "
        "wherever the fix lives; the probe on the scaffold is the fallback when they find no evidence.",
    )
    probe_only: str | None = Field(
        default=None,
        description="Declares a habit bug whose fix does not move the holdout metric, with the reason; the "
        "calibration then asks only its probe to flip (non-breaking bugs only).",
    )

    _identifier = field_validator("id", "probe")(classmethod(lambda cls, value: snake_case_id(value)))

    @model_validator(mode="after")
    def _probe_only_is_non_breaking(self) -> "Bug":
        if self.probe_only is not None and self.kind == "breaking":
            raise ValueError(f"bug {self.id}: probe_only is for non-breaking bugs (a breaking bug shows by failing)")
        if self.probe_only is not None and not self.probe_only.strip():
            raise ValueError(f"bug {self.id}: probe_only needs the reason the fix does not show in the holdout")
        return self


class Quirk(Strict):
    id: str
    description: str


class MetricBands(Strict):
    """Lower bounds of the holdout metric for each band (upper bounds when direction is 'lower')."""

    weak: float
    strong: float
    very_strong: float


class Signal(Strict):
    description: str
    very_weak: str
    weak: str
    strong: str
    very_strong: str


class Rubric(Strict):
    metric_bands: MetricBands
    signals: dict[str, Signal]

    @field_validator("signals")
    @classmethod
    def _all_signals(cls, value: dict[str, Signal]) -> dict[str, Signal]:
        missing = [s for s in RUBRIC_SIGNALS if s not in value]
        unknown = [s for s in value if s not in ALL_SIGNALS]
        if missing or unknown:
            raise ValueError(
                f"needs the signals {', '.join(RUBRIC_SIGNALS)} (and {PRODUCTION_SIGNAL} in a pack with [serving])"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
            )
        return value


class Hint(Strict):
    after_minutes: int = Field(ge=0, description="Suggested earliest moment to give the hint.")
    text: str


class Candidate(Strict):
    brief: str = Field(default="BRIEF.md", description="Brief, relative to candidate/.")
    notebook: str = Field(default="interview.ipynb", description="Starter notebook, relative to candidate/.")
    scaffold: str = Field(description="Scaffold package folder, relative to candidate/.")
    data_dir: str = Field(default="data", description="Folder of the workspace the candidate data is written to.")


class GitScaffold(Strict):
    """The scaffold ships as a git repository with branches, built at materialize time (scenarios/git_scaffold.py)."""

    history: str = Field(
        description="TOML file of the repository's steps (commits of snapshot folders, merges), relative to the pack folder."
    )


class Serving(Strict):
    """The scaffold is a prediction service: the grader starts it in the replay's sandbox and sends it a hidden
    request suite (graders/serving.py); the production signal is rated from the answers."""

    command: list[str] = Field(
        min_length=1,
        description="How the app starts, run from the workspace after the notebook: '{python}' is the kernel's "
        "interpreter, '{port}' the loopback port it must listen on (127.0.0.1), e.g. "
        "['{python}', '-m', 'fareapi.serve', '--port', '{port}'].",
    )
    suite: str = Field(
        default="serving.py",
        description="Module in private/ whose request_suite(holdout_features, candidate_data) returns the requests "
        "(never in a workspace).",
    )
    path: str = Field(default="/predict", description="The prediction endpoint.")
    response_key: str = Field(default="predictions", description="Key of the list of predictions in a 200 answer.")
    error_key: str = Field(default="error", description="Key of the error's name in a 4xx answer.")
    round_digits: int | None = Field(default=None, ge=0, description="Decimals each prediction is rounded to.")
    latency_budget_ms: float = Field(gt=0, description="Largest p95 latency of one request, in milliseconds.")
    concurrency: int = Field(default=8, ge=2, le=64, description="Requests in flight at once in the suite's concurrent part.")
    startup_timeout_seconds: float = Field(default=60, gt=0, description="How long the app may take to listen.")

    @field_validator("command")
    @classmethod
    def _port_given(cls, value: list[str]) -> list[str]:
        if not any("{port}" in part for part in value):
            raise ValueError("must pass '{port}' to the app: the grader chooses the port")
        return value


class Kernel(Strict):
    default: Literal["cpu", "gpu"] = "cpu"
    gpu_capable: bool = Field(default=False, description="The scaffold runs unchanged on a GPU kernel.")


class Twist(Strict):
    title: str
    description: str
    kind: Literal["new_data", "tighter_budget"]
    max_parameters: int | None = Field(default=None, gt=0, description="New limit, for kind 'tighter_budget'.")


class Question(Strict):
    """An open question the candidate answers in writing; the interviewer rates the answer on its signal."""

    id: str = Field(description="lower_snake_case, unique in the pack; the answers are recorded under it.")
    prompt: str = Field(min_length=10, description="What the candidate reads.")
    signal: str = Field(description="The rubric signal an answer is evidence for (one of the pack's rubric signals).")
    shown: Literal["start", "after_minutes", "after_twist", "interviewer"] = Field(
        default="start",
        description="When the candidate sees it: from the start, once after_minutes have passed, once the twist is "
        "released, or when the interviewer pushes it (live interviews; a take-home shows it at the start).",
    )
    after_minutes: int | None = Field(default=None, gt=0, description="For shown = 'after_minutes'.")
    notes: str = Field(description="Interviewer-only: what a strong answer covers. Never shown to the candidate.")

    _identifier = field_validator("id")(classmethod(lambda cls, value: snake_case_id(value)))

    @model_validator(mode="after")
    def _when(self) -> "Question":
        if (self.shown == "after_minutes") != (self.after_minutes is not None):
            raise ValueError(f"question {self.id}: after_minutes goes with shown = 'after_minutes', and only with it")
        return self


class SuspiciousCode(Strict):
    text: str = Field(min_length=3, description="Text whose presence in the candidate's code the report flags.")
    meaning: str = Field(description="What it suggests, worded for the report: 'loads the public dataset the holdout comes from'.")


class ScenarioManifest(Strict):
    id: str = Field(description="Pack identifier, equal to the folder name: lowercase letters, digits, hyphens.")
    title: str
    summary: str
    version: int = Field(ge=1)
    time_budget_minutes: int = Field(gt=0)
    kernel: Kernel = Kernel()
    candidate: Candidate
    constraints: Constraints
    metric: Metric
    contract: Contract
    rubric: Rubric
    bugs: list[Bug] = Field(min_length=1)
    quirks: list[Quirk] = Field(default_factory=list)
    hints: list[Hint] = Field(default_factory=list)
    twist: Twist | None = None
    questions: list[Question] = Field(
        default_factory=list, description="Open questions answered in writing (the candidate's Questions panel)."
    )
    suspicious_code: list[SuspiciousCode] = Field(
        default_factory=list,
        description="Pack-specific integrity flags: code the grader's report points out wherever the candidate wrote it.",
    )
    git: GitScaffold | None = Field(
        default=None, description="The workspace is a git repository whose history the pack describes (scenarios/git_scaffold.py)."
    )
    serving: Serving | None = Field(
        default=None, description="The scaffold serves predictions over HTTP; the grader tests it (graders/serving.py)."
    )

    @field_validator("id")
    @classmethod
    def _pack_id(cls, value: str) -> str:
        if not PACK_ID.match(value):
            raise ValueError("must be lowercase letters, digits and hyphens, starting with a letter")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "ScenarioManifest":
        ids = [bug.id for bug in self.bugs]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"bugs: duplicated id(s) {', '.join(duplicated)}; give each bug its own id")
        question_ids = [q.id for q in self.questions]
        if len(set(question_ids)) != len(question_ids):
            raise ValueError("questions: each question needs its own id")
        for question in self.questions:
            if question.signal not in self.rubric.signals:
                raise ValueError(f"question {question.id}: signal {question.signal!r} is not one of the rubric's "
                                 f"({', '.join(self.rubric.signals)})")
        bands = self.rubric.metric_bands
        ordered = (bands.weak < bands.strong < bands.very_strong) if self.metric.direction == "higher" else (
            bands.weak > bands.strong > bands.very_strong
        )
        if not ordered:
            raise ValueError(
                f"rubric.metric_bands: weak, strong, very_strong must be in {'increasing' if self.metric.direction == 'higher' else 'decreasing'} "
                f"order for a metric where {self.metric.direction} is better"
            )
        if (PRODUCTION_SIGNAL in self.rubric.signals) != (self.serving is not None):
            raise ValueError(f"rubric.signals.{PRODUCTION_SIGNAL} goes with a [serving] table, and only with it: "
                             "the grader rates production from the app's answers")
        for bug in self.bugs:
            if bug.signal not in self.rubric.signals:
                raise ValueError(f"bug {bug.id}: signal {bug.signal!r} is not one of the rubric's ({', '.join(self.rubric.signals)})")
        if self.twist and self.twist.kind == "tighter_budget" and self.twist.max_parameters is None:
            raise ValueError("twist: kind 'tighter_budget' needs max_parameters")
        return self

    @property
    def breaking_bugs(self) -> list[Bug]:
        return [b for b in self.bugs if b.kind == "breaking"]

    @property
    def non_breaking_bugs(self) -> list[Bug]:
        return [b for b in self.bugs if b.kind == "non-breaking"]

    @property
    def signals(self) -> tuple[str, ...]:
        """The rubric signals this pack rates, in the rubric's order (production only with [serving])."""
        return tuple(signal for signal in ALL_SIGNALS if signal in self.rubric.signals)

    def band_for_metric(self, value: float) -> str:
        """Rubric band of a holdout metric value."""
        bands = self.rubric.metric_bands
        better = (lambda a, b: a >= b) if self.metric.direction == "higher" else (lambda a, b: a <= b)
        if better(value, bands.very_strong):
            return "very_strong"
        if better(value, bands.strong):
            return "strong"
        if better(value, bands.weak):
            return "weak"
        return "very_weak"

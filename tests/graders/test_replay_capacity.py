"""The constraint audit counts what the replayed notebook trained, wherever the weights live; the
replay's guard and the report apply the limit in force (a released twist's) and flag tampering.

Tiny pack: limit 100 trainable parameters. The notebooks train a torch logistic model on the pack's
two-column design matrix, with capacity kept where the audit used to look away.
"""

from __future__ import annotations

import shutil

import pytest

from mlinterview.graders.grade import Grader
from mlinterview.scenarios.pack import ScenarioPack
from conftest import TINY_OK_CELLS, TINY_PACK, history_lines

pytestmark = pytest.mark.slow

LOAD = (
    "import numpy as np, pandas as pd, torch\nimport torch.nn.functional as F\nfrom tinylab import features\n"
    "train = pd.read_csv('data/train.csv')\n"
    "x = torch.tensor(features.matrix(train), dtype=torch.float32)\n"
    "y = torch.tensor(train['label'].to_numpy(), dtype=torch.float32)"
)
# 2 module parameters in the notebook; 2 x 48 + 48 = 144 plain weights in a dict of a scaffold file
HIDDEN_WEIGHTS = (
    "import torch\n\n"
    "WEIGHTS = {}\n\n\n"
    "def hidden(x):\n"
    "    if not WEIGHTS:\n"
    "        torch.manual_seed(0)\n"
    "        WEIGHTS['w'] = (0.1 * torch.randn(48, x.shape[1])).requires_grad_()\n"
    "        WEIGHTS['v'] = (0.1 * torch.randn(1, 48)).requires_grad_()\n"
    "    return torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(x, WEIGHTS['w'])), WEIGHTS['v'])\n"
)
TRAIN_WITH_SCAFFOLD_WEIGHTS = (
    "from tinylab import extra\n"
    "head = torch.nn.Linear(1, 1)\n"
    "def net(inputs):\n"
    "    return head(extra.hidden(inputs)).squeeze(1)\n"
    "def train_model(steps=60):\n"
    "    extra.hidden(x)\n"
    "    optimizer = torch.optim.Adam([*head.parameters(), *extra.WEIGHTS.values()], lr=0.05)\n"
    "    for _ in range(steps):\n"
    "        optimizer.zero_grad()\n"
    "        F.binary_cross_entropy_with_logits(net(x), y).backward()\n"
    "        optimizer.step()\n"
    "train_model()"
)
PREDICT = (
    "def predict(frame):\n"
    "    with torch.no_grad():\n"
    "        return torch.sigmoid(net(torch.tensor(features.matrix(frame), dtype=torch.float32))).numpy()"
)


@pytest.fixture(autouse=True)
def torch_time(fast_grader):
    """Importing torch takes seconds on a busy machine: more time per cell than the bad-input tests get."""
    fast_grader.limits.cell_timeout = 60
    fast_grader.limits.total_timeout = 150


def with_scaffold_file(folder, name, source):
    (folder / "tinylab" / name).write_text(source)
    return folder


def test_weights_in_a_scaffold_dict_trained_by_a_local_optimizer_are_counted(make_submission, grade):
    folder = with_scaffold_file(make_submission([LOAD, TRAIN_WITH_SCAFFOLD_WEIGHTS, PREDICT]), "extra.py", HIDDEN_WEIGHTS)
    report, out = grade(folder)
    assert report["holdout"]["value"] is not None, report["verdict"]
    parameters = report["constraints"]["parameters"]
    assert parameters["verdict"] == "over", parameters
    assert parameters["largest"] == 146
    assert parameters["loose"]["count"] == 144
    places = {place["path"] for place in parameters["loose"]["places"]}
    assert places == {"tinylab.extra.WEIGHTS['w']", "tinylab.extra.WEIGHTS['v']"}
    assert "head" in parameters["sentence"] and "outside any module" in parameters["sentence"]
    assert "constraints BROKEN" in report["verdict"]["headline"]
    assert "tinylab.extra.WEIGHTS" in (out / "report.html").read_text()


def test_weights_held_by_an_optimizer_count_with_the_model(make_submission, grade):
    train = TRAIN_WITH_SCAFFOLD_WEIGHTS.replace("    optimizer = torch.optim", "    global optimizer\n    optimizer = torch.optim")
    folder = with_scaffold_file(make_submission([LOAD, train, PREDICT]), "extra.py", HIDDEN_WEIGHTS)
    report, _ = grade(folder)
    parameters = report["constraints"]["parameters"]
    model = parameters["models"][0]
    assert (model["path"], model["class"], model["trainable"], model["module_parameters"]) == ("head", "Linear", 146, 2)
    assert model["optimizers"] == ["optimizer"]
    assert parameters["loose"] is None and parameters["verdict"] == "over"


def test_a_small_model_with_frozen_layers_is_within_the_limit(make_submission, grade):
    # no false alarm on normal work: a frozen embedding is not trained, a second small model is its own model
    cells = [LOAD, (
        "frozen = torch.nn.Linear(2, 64)\nfrozen.requires_grad_(False)\n"  # 192 frozen weights
        "clf = torch.nn.Linear(2, 1)\nbaseline = torch.nn.Linear(2, 1)\n"
        "optimizer = torch.optim.SGD(clf.parameters(), lr=0.5)\n"
        "for _ in range(50):\n"
        "    optimizer.zero_grad()\n"
        "    F.binary_cross_entropy_with_logits(clf(x).squeeze(1), y).backward()\n"
        "    optimizer.step()\n"
        "def predict(frame):\n"
        "    with torch.no_grad():\n"
        "        return torch.sigmoid(clf(torch.tensor(features.matrix(frame), dtype=torch.float32))).squeeze(1).numpy()"
    )]
    report, _ = grade(make_submission(cells))
    parameters = report["constraints"]["parameters"]
    assert parameters["verdict"] == "ok", parameters
    assert parameters["largest"] == 3
    assert report["constraints"]["tampering"] == []


@pytest.fixture
def guarded_grader(fast_grader) -> Grader:
    """The fast grader with the mlinterview kernel: the replay runs with the constraint guard."""
    fast_grader.kernel_name = "mlinterview-cpu"
    return fast_grader


def test_guard_tampering_in_the_notebook_is_flagged(make_submission, grade, guarded_grader):
    tamper = (
        "import sys\nsys.modules['torch.optim.optimizer']._global_optimizer_pre_hooks.clear()\n"
        "get_ipython().mlinterview.guard._limit = 10**9"
    )
    small = "clf = torch.nn.Linear(2, 1)\noptimizer = torch.optim.SGD(clf.parameters(), lr=0.5)"
    report, out = grade(make_submission([LOAD, tamper, small, "from tinylab import model\npredict = model.fit(train)"]), grader=guarded_grader)
    tampering = report["constraints"]["tampering"]
    assert any("optimizer hooks were cleared" in what for what in tampering), tampering
    assert any("limits were changed" in what for what in tampering), tampering
    assert any("tampered with" in problem for problem in report["verdict"]["problems"])
    assert any("tampering" in flag for flag in report["integrity"]["flags"])
    assert report["verdict"]["status"] == "graded_with_problems"
    assert "guard tampering" in (out / "report.html").read_text()


def test_tampering_recorded_in_the_session_is_flagged(make_submission, grade):

    executions = [{"code": code} for code in TINY_OK_CELLS]
    history = history_lines(executions)
    import json

    from mlinterview.history import HistoryChain, dumps_line

    # the history as the server extension writes it: a tamper event attributed to the last cell
    events = [json.loads(line) for line in history.splitlines()]
    chain = HistoryChain()
    lines = [dumps_line(chain.append({k: v for k, v in event.items() if k not in ("seq", "prev", "hash")})) for event in events]
    lines.append(dumps_line(chain.append({
        "kind": "constraint", "role": "system", "session": "s1", "time": "2026-11-25T10:05:00+00:00",
        "detail": {"event": "tamper", "model": "constraint guard", "count": 1, "limit": 0,
                   "message": "tampering with the constraint guard: the mlinterview kernel extension was unloaded"}})))
    report, _ = grade(make_submission(history="".join(lines)))
    assert report["integrity"]["history"]["verified"] is True, report["integrity"]["history"]
    assert any("kernel extension was unloaded" in what for what in report["constraints"]["tampering"])


@pytest.fixture
def twist_pack(tmp_path_factory) -> ScenarioPack:
    """The tiny pack with a twist that lowers the limit from 100 to 50."""

    folder = tmp_path_factory.mktemp("twistpacks") / "tinypack"
    shutil.copytree(TINY_PACK, folder)
    with open(folder / "scenario.toml", "a") as manifest:
        manifest.write('\n[twist]\ntitle = "Smaller"\ndescription = "The budget drops to 50."\nkind = "tighter_budget"\nmax_parameters = 50\n')
    return ScenarioPack.from_folder(folder)


def test_a_released_twist_limit_is_the_one_the_replay_the_audit_and_the_report_use(make_submission, grade, guarded_grader, twist_pack):
    cells = [LOAD, "wide = torch.nn.Linear(2, 22)  # 66: within the pack's 100, over the twist's 50",
             "from tinylab import model\npredict = model.fit(train)"]
    released = {"twist": {"title": "Smaller", "kind": "tighter_budget", "max_parameters": 50, "released_at": "2026-11-25T10:40:00+00:00"}}
    report, out = grade(make_submission(cells, meta=released, pack=twist_pack), pack=twist_pack, grader=guarded_grader)
    parameters = report["constraints"]["parameters"]
    assert report["scenario"]["max_parameters"] == 50
    assert parameters["limit"] == 50 and parameters["verdict"] == "over", parameters
    assert parameters["guard"]["max_parameters"] == 50  # the replay's kernel enforced the twist's limit
    assert "limit 50" in parameters["sentence"] and "enforced" not in parameters["sentence"]
    page = (out / "report.html").read_text()
    assert "max 50 trainable parameters" in page and "max 100 trainable" not in page
    # without the release, the pack's limit everywhere
    report, _ = grade(make_submission(cells, pack=twist_pack), pack=twist_pack, grader=guarded_grader)
    parameters = report["constraints"]["parameters"]
    assert (parameters["limit"], parameters["guard"]["max_parameters"], parameters["verdict"]) == (100, 100, "ok")


def test_trained_weights_marked_frozen_at_the_end_still_count(make_submission, grade):
    cells = [LOAD, (
        "wide = torch.nn.Sequential(torch.nn.Linear(2, 40), torch.nn.ReLU(), torch.nn.Linear(40, 1))  # 161\n"
        "optimizer = torch.optim.SGD(wide.parameters(), lr=0.5)\n"
        "for _ in range(30):\n"
        "    optimizer.zero_grad()\n"
        "    F.binary_cross_entropy_with_logits(wide(x).squeeze(1), y).backward()\n"
        "    optimizer.step()\n"
        "del optimizer\n"
        "wide.requires_grad_(False)  # looks frozen to a count of requires_grad"
    ), "from tinylab import model\npredict = model.fit(train)"]
    report, _ = grade(make_submission(cells))
    parameters = report["constraints"]["parameters"]
    assert parameters["verdict"] == "over" and parameters["largest"] == 161, parameters
    assert any("161 trained weights are marked requires_grad=False" in what for what in report["constraints"]["tampering"])

"""A broken pack gives an error that names the file, the field and the fix."""

from __future__ import annotations

import re

import pytest

from mlinterview.scenarios import PackError, load_pack
from mlinterview.scenarios.fixes import load_fixes, scaffold_with_fixes


def _edit(path, old, new, count=1):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _error(folder) -> str:
    with pytest.raises(PackError) as caught:
        load_pack(folder.name, folder.parent)
    return str(caught.value)


def test_the_shipped_pack_is_valid(churn_pack):
    manifest = churn_pack.manifest
    assert manifest.id == "churn"
    assert len(manifest.breaking_bugs) >= 1 and len(manifest.non_breaking_bugs) >= 4
    assert {bug.signal for bug in manifest.bugs} == {"data_handling", "model_selection", "optimization", "evaluation"}
    assert manifest.metric.name == "average_precision" and manifest.metric.direction == "higher"
    assert set(load_fixes(churn_pack)) == {bug.id for bug in manifest.bugs}
    assert len(manifest.questions) >= 2 and {q.shown for q in manifest.questions} >= {"start", "interviewer"}


def test_missing_field(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", 'title = "Subscription churn', '# title = "Subscription churn')
    message = _error(folder)
    assert str(folder / "scenario.toml") in message
    assert "field 'title'" in message and "add this field" in message


def test_unknown_field(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", "[constraints]\n", "[constraints]\nmax_params = 10\n")
    message = _error(folder)
    assert str(folder / "scenario.toml") in message
    assert "field 'constraints.max_params'" in message and "remove this field or fix its spelling" in message


def test_bad_value(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", 'direction = "higher"', 'direction = "up"')
    message = _error(folder)
    assert str(folder / "scenario.toml") in message
    assert "field 'metric.direction'" in message and "correct the value" in message
    assert "'higher' or 'lower'" in message


def test_bad_kind_of_bug(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", 'kind = "breaking"', 'kind = "fatal"')
    message = _error(folder)
    assert re.search(r"field 'bugs\.0\.kind'", message) and "correct the value" in message


def test_bands_out_of_order(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", "very_strong = 0.355", "very_strong = 0.1")
    message = _error(folder)
    assert "rubric.metric_bands" in message and "increasing" in message


def test_bad_toml(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", "[metric]", "[metric")
    message = _error(folder)
    assert str(folder / "scenario.toml") in message and "not valid TOML" in message and "fix the syntax" in message


def test_missing_private_file(pack_copy):
    folder = pack_copy()
    (folder / "private" / "probes.py").unlink()
    message = _error(folder)
    assert str(folder / "private" / "probes.py") in message
    assert "missing" in message and "one probe function per planted bug" in message


def test_missing_candidate_file(pack_copy):
    folder = pack_copy()
    (folder / "candidate" / "BRIEF.md").unlink()
    message = _error(folder)
    assert "field 'candidate.brief'" in message and "does not exist" in message


def test_id_must_match_the_folder(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", 'id = "churn"', 'id = "churn-two"')
    assert "field 'id' is 'churn-two' but the folder is 'churn'" in _error(folder)


def test_fix_that_no_longer_matches_the_scaffold(pack_copy, tmp_path):
    folder = pack_copy()
    _edit(folder / "candidate" / "churnlab" / "train.py", "shuffle=False", "shuffle=bool(0)")
    pack = load_pack("churn", folder.parent)
    with pytest.raises(PackError) as caught:
        scaffold_with_fixes(pack, ["unshuffled_sorted_batches"], tmp_path / "out" / "churnlab")
    message = str(caught.value)
    assert "unshuffled_sorted_batches" in message and "occurs 0 times" in message and "fixes.toml" in message


def test_fix_for_an_unknown_bug(pack_copy):
    folder = pack_copy()
    with open(folder / "private" / "fixes.toml", "a", encoding="utf-8") as stream:
        stream.write('\n[[fix]]\nbug = "no_such_bug"\nfile = "train.py"\nold = "a"\nnew = "b"\n')
    pack = load_pack("churn", folder.parent)
    with pytest.raises(PackError) as caught:
        load_fixes(pack)
    assert "has no bug 'no_such_bug'" in str(caught.value)


def test_a_question_on_a_signal_the_rubric_lacks(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", 'signal = "evaluation"\nshown = "start"', 'signal = "deployment"\nshown = "start"')
    message = _error(folder)
    assert "why_the_metric" in message and "'deployment' is not one of the rubric's" in message


def test_a_question_shown_after_minutes_needs_them(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", 'shown = "after_minutes"\nafter_minutes = 30\n', 'shown = "after_minutes"\n')
    message = _error(folder)
    assert "what_if_the_offer_changes" in message and "after_minutes goes with shown = 'after_minutes'" in message


def test_two_questions_with_one_id(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", 'id = "why_will_it_help"', 'id = "why_the_metric"')
    assert "each question needs its own id" in _error(folder)


def test_production_signal_goes_with_serving(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", "[rubric.signals.evaluation]", '[rubric.signals.production]\ndescription = "d"\nvery_weak = "a"\n'
          'weak = "b"\nstrong = "c"\nvery_strong = "e"\n\n[rubric.signals.evaluation]')
    message = _error(folder)
    assert "rubric.signals.production goes with a [serving] table" in message
    _edit(folder / "scenario.toml", "[[bugs]]", '[serving]\ncommand = ["{python}", "-m", "churnlab.serve"]\nlatency_budget_ms = 20\n\n[[bugs]]')
    assert "must pass '{port}' to the app" in _error(folder)


def test_a_bug_of_a_signal_the_rubric_does_not_rate(pack_copy):
    folder = pack_copy()
    _edit(folder / "scenario.toml", 'signal = "evaluation"', 'signal = "production"')
    assert "signal 'production' is not one of the rubric's" in _error(folder)

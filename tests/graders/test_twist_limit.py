"""The constraint audit holds a candidate to the tighter budget once the hub recorded its release."""

from mlinterview.graders.constraint_audit import parameter_limit
from mlinterview.scenarios import load_pack


def test_limit_follows_a_released_tighter_budget():
    manifest = load_pack("churn").manifest
    assert manifest.twist.kind == "tighter_budget"
    assert parameter_limit(manifest, {}) == manifest.constraints.max_parameters
    assert parameter_limit(manifest, {"twist": None}) == manifest.constraints.max_parameters
    released = {"title": manifest.twist.title, "kind": "tighter_budget", "max_parameters": manifest.twist.max_parameters}
    assert parameter_limit(manifest, {"twist": released}) == manifest.twist.max_parameters


def test_a_twist_of_another_kind_or_title_keeps_the_pack_limit():
    demand = load_pack("demand").manifest
    assert demand.twist.kind == "new_data"
    assert parameter_limit(demand, {"twist": {"title": demand.twist.title}}) == demand.constraints.max_parameters
    churn = load_pack("churn").manifest
    assert parameter_limit(churn, {"twist": {"title": "something else"}}) == churn.constraints.max_parameters

"""The planner from Python: deterministic for a seed, a budget kept, bad budgets refused."""

from __future__ import annotations

import pytest
import vesalius
from conftest import SCENES


def planning_only():
    """phlebotomy_plan.toml on the planning model alone (no calibration or validation
    runs of the full model: seconds each)."""
    path = SCENES / "phlebotomy_plan.toml"
    text = path.read_text().replace("validate = 3", "validate = 0\ncalibrate = false")
    return vesalius.Scene.from_toml(text, path)


def test_a_seed_gives_the_same_plan():
    scene = planning_only()
    a = vesalius.plan(scene, seed=3, iterations=4, budget="2s")
    b = vesalius.plan(scene, seed=3, iterations=4, budget="2s")
    c = vesalius.plan(scene, seed=4, iterations=4, budget="2s")
    assert a.variables == b.variables and a.variables != c.variables
    assert a.iterations == 4 and a.passed is None and a.full_report is None
    assert set(a.variables) == set(vesalius.Scene.plan_variables())
    cands = a.candidates
    assert len(cands) >= 4 * 32 and {"variables", "cost", "passed"} <= set(cands[0])
    best = min(c["cost"]["total"] for c in cands if c["cost"]["total"] is not None)
    assert a.cost["total"] == pytest.approx(best)
    assert "not validated" in repr(a)


def test_the_plan_is_a_runnable_scene():
    result = vesalius.plan(planning_only(), seed=1, iterations=3)
    scene = result.scene()
    assert scene.kind == "cosim"
    assert [w["t"] for w in result.waypoints] == sorted(w["t"] for w in result.waypoints)
    # Its trajectory is the plan's.
    assert "[[trajectory]]" in scene.text


def test_a_budget_is_kept():
    result = vesalius.plan(planning_only(), budget=0.05)
    assert result.latency < 0.05 + 0.02
    assert result.iterations >= 1


@pytest.mark.parametrize("budget, message", [
    ("0ms", "budget"), ("3h", "budget"), ("200", "unit"), ([1], "budget"),
])
def test_bad_budgets_are_refused(budget, message):
    with pytest.raises((ValueError, vesalius.SceneError), match=message):
        vesalius.plan(planning_only(), budget=budget)


def test_a_scene_without_a_plan_is_refused():
    with pytest.raises(vesalius.SceneError, match="plan"):
        vesalius.plan(vesalius.Scene.load(SCENES / "phlebotomy.toml"))

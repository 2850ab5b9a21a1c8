"""Snapshots and batched rollouts from Python: the same bits as an uninterrupted run (CPU)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import vesalius
from conftest import INDENTER, SCENES


def test_a_restored_run_continues_with_the_same_bits(indenter):
    sim = vesalius.CoSim(indenter, backend="cpu")
    sim.step(5)
    snap = sim.snapshot()
    assert snap.frame == 5 and snap.time == pytest.approx(5 / 60)
    first = [sim.step()["forces"].copy() for _ in range(8)]
    x_first = sim.positions()
    # Go elsewhere, then back.
    sim.set_joint_targets([0.02])
    sim.step(3)
    sim.restore(snap)
    assert sim.time == pytest.approx(5 / 60)
    again = [sim.step()["forces"].copy() for _ in range(8)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert np.array_equal(sim.positions(), x_first)


def test_batched_rollouts_give_each_candidate_its_own_run(indenter):
    deeper = [{"t": 0.0, "joints": {"plunge": 0.0}}, {"t": 0.4, "joints": {"plunge": 0.012}}]
    sim = vesalius.CoSim(indenter, backend="cpu")
    sim.step(4)
    snap = sim.snapshot()
    reports = sim.rollout_batch(snap, [INDENTER["trajectory"], deeper, INDENTER["trajectory"]],
                                horizon=11)
    assert len(reports) == 3 and all(r.frames == 15 for r in reports)
    # The scene's own stroke: the uninterrupted run's report.
    whole = vesalius.predict(indenter, backend="cpu")
    np.testing.assert_array_equal(reports[0].series()["forces"], whole.series()["forces"])
    np.testing.assert_array_equal(reports[2].series()["forces"], whole.series()["forces"])
    # The deeper stroke run alone from the snapshot gives its rollout's report.
    sim.restore(snap)
    sim.set_trajectory(deeper)
    sim.step(11)
    alone = sim.report()
    np.testing.assert_array_equal(reports[1].series()["forces"], alone.series()["forces"])
    sim.restore(snap)
    assert reports[1].peak_force[0] > 2 * reports[0].peak_force[0]
    # The run's own world is where it was.
    assert sim.time == pytest.approx(4 / 60)


def test_another_scenes_snapshot_is_refused(indenter):
    other = vesalius.CoSim(indenter)
    sim = vesalius.CoSim(vesalius.Scene.load(SCENES / "phlebotomy.toml"), backend="cpu")
    with pytest.raises(vesalius.SimulationError, match="not of this model"):
        sim.restore(other.snapshot())


def test_a_bad_candidate_names_its_waypoint(indenter):
    sim = vesalius.CoSim(indenter)
    snap = sim.snapshot()
    with pytest.raises(vesalius.RobotError, match="nosuch"):
        sim.rollout_batch(snap, [[{"t": 0.0, "joints": {"nosuch": 0.0}}]], horizon=2)
    with pytest.raises(vesalius.RobotError, match="finite"):
        sim.set_trajectory([{"t": 0.0, "joints": {"plunge": float("nan")}}])
    with pytest.raises(vesalius.RobotError, match="limit"):
        sim.set_trajectory([{"t": 0.0, "joints": {"plunge": 0.0}},
                            {"t": 0.01, "joints": {"plunge": 0.04}}])


def test_stepping_releases_the_gil():
    """Python code runs while another thread steps: a thread that held the GIL during the
    step would still be stepping only if the sum below could not run meanwhile."""
    t = vesalius.Tissue(vesalius.Scene.load(SCENES / "block_sag.toml"), backend="cpu",
                        threads=1)
    worker = threading.Thread(target=t.step, args=(40,))
    worker.start()
    sum(range(200_000))
    overlapped = worker.is_alive()
    worker.join()
    assert overlapped

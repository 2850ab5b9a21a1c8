"""Closed-loop control from Python: joint targets set every frame."""

from __future__ import annotations

import numpy as np
import pytest
import vesalius


def test_a_force_threshold_controller_stops_the_probe(indenter):
    """Lower the probe 0.2 mm a frame until the tissue pushes back with 0.3 N, then hold:
    the force settles near the threshold and the joint stops where it was commanded."""
    sim = vesalius.CoSim(indenter, backend="cpu", duration=2.0)
    target = 0.0
    held_at = None
    forces = []
    for _ in range(90):
        frame = sim.step()
        fz = frame["forces"][0, 2]
        forces.append(fz)
        if held_at is None and fz >= 0.3:
            held_at = target
        if held_at is None:
            target += 0.0002
            sim.set_joint_targets([target])
    assert held_at is not None, f"never reached 0.3 N (peak {max(forces):.3f} N)"
    assert sim.joint_targets()[0] == pytest.approx(held_at)
    # Holding: the force stays within a band around where it stopped.
    tail = np.array(forces[-20:])
    assert tail.min() > 0.25 and tail.max() < 0.6
    assert abs(sim.joint_positions()[0] - held_at) < 5e-4


def test_joint_targets_are_checked(indenter):
    sim = vesalius.CoSim(indenter)
    with pytest.raises(vesalius.RobotError, match="1 joints"):
        sim.set_joint_targets([0.0, 0.0])
    with pytest.raises(vesalius.RobotError, match="limits"):
        sim.set_joint_targets([0.2])
    with pytest.raises(vesalius.RobotError, match="finite"):
        sim.set_joint_targets([float("nan")])
    assert sim.joint_targets()[0] == 0.0  # nothing changed


def test_a_guard_is_raised_and_recorded(indenter_dict):
    """A stroke far too fast for 1 substep: the solver's guard stops the frame and Python
    gets a GuardError; the report has the breach."""
    indenter_dict["simulation"]["substeps"] = 1
    indenter_dict["simulation"]["allow_unstable"] = True
    indenter_dict["materials"]["default"]["youngs_modulus"] = 1.0e6
    indenter_dict["trajectory"] = [{"t": 0.0, "joints": {"plunge": 0.0}},
                                   {"t": 0.25, "joints": {"plunge": 0.015}}]
    scene = vesalius.Scene.from_dict(indenter_dict)
    sim = vesalius.CoSim(scene, backend="cpu")
    with pytest.raises(vesalius.GuardError, match="guard"):
        sim.step(15)
    assert sim.report().guard_breach is not None

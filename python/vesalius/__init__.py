"""Vesalius from Python: soft tissue and a URDF robot in one simulation.

Load a scene, step it (closed-loop control from Python), read its state as numpy arrays,
take snapshots, roll candidate trajectories out in batches, predict a trajectory's outcome
and plan one under a latency budget::

    import vesalius

    scene = vesalius.Scene.load("scenes/phlebotomy_plan.toml")
    result = vesalius.plan(scene, budget="200ms")
    print(result, result.variables)

    with vesalius.CoSim(scene, backend="cpu") as sim:
        frame = sim.step(10)                     # a dict: forces, joints, needle, ...
        x = sim.positions()                      # (N, 3) float32
        snap = sim.snapshot()
        reports = sim.rollout_batch(snap, [result.waypoints], horizon=30)

Every call that steps or plans releases the GIL. Errors are raised as the exceptions
below (all subclasses of ``VesaliusError``), carrying the engine's message: file and key
or line where it has them.
"""

from __future__ import annotations

import os
from typing import Any

from . import _vesalius
from ._vesalius import (
    CoSim,
    GuardError,
    OutputError,
    PlanResult,
    Report,
    RobotError,
    Scene,
    SceneError,
    SimulationError,
    Snapshot,
    Tissue,
    Trial,
    TrialError,
    VesaliusError,
    plan,
    predict,
)

__version__: str = _vesalius.__version__

__all__ = [
    "CoSim",
    "GuardError",
    "OutputError",
    "PlanResult",
    "Report",
    "RobotError",
    "Scene",
    "SceneError",
    "SimulationError",
    "Snapshot",
    "Tissue",
    "Trial",
    "TrialError",
    "VesaliusError",
    "open",
    "plan",
    "predict",
]


def open(scene: Scene | str | os.PathLike[str], **options: Any) -> CoSim | Tissue:
    """A run of ``scene`` (a ``Scene`` or a path to a scene file): a ``CoSim`` for a scene
    with a robot, else a ``Tissue``. Options: ``backend`` ("cpu", "gpu", "auto"),
    ``threads`` ("auto" or a count), ``duration`` (s)."""
    if not isinstance(scene, Scene):
        scene = Scene.load(os.fspath(scene))
    return CoSim(scene, **options) if scene.kind == "cosim" else Tissue(scene, **options)

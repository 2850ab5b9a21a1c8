"""Shared scenes and paths of the Python tests."""

from __future__ import annotations

import copy
import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENES = ROOT / "scenes"

# The indenter's probe (20 mm sphere) 1 mm above a 10 kPa block (0.1 x 0.1 x 0.05 m, bottom
# pinned, no gravity), driven 6 mm down in 0.4 s: the co-simulation tests' small scene
# (cosim/tests/common), as a dict.
INDENTER = {
    "mesh": {
        "generator": {
            "kind": "box",
            "cells": [8, 8, 4],
            "size": [0.1, 0.1, 0.05],
            "origin": [-0.05, -0.05, 0.0],
        }
    },
    "materials": {
        "default": {"youngs_modulus": 1.0e4, "poisson_ratio": 0.45, "density": 1000.0}
    },
    "pin": [{"kind": "plane", "normal": [0.0, 0.0, 1.0], "offset": 0.0}],
    "simulation": {
        "duration": 0.25,
        "gravity": [0.0, 0.0, 0.0],
        "velocity_damping": 20.0,
        "backend": "cpu",
    },
    "robot": {
        "urdf": str(ROOT / "robots/indenter/indenter.urdf"),
        "base": {"xyz": [0.0, 0.0, 0.091]},
        "stiffness": 5000.0,
        "damping": 200.0,
    },
    "tool": [{"link": "probe", "static_friction": 0.0, "kinetic_friction": 0.0}],
    "trajectory": [
        {"t": 0.0, "joints": {"plunge": 0.0}},
        {"t": 0.4, "joints": {"plunge": 0.006}},
    ],
    "criteria": {"max_tool_force": 5.0},
}


@pytest.fixture
def indenter_dict():
    """A fresh copy of the indenter scene's dict (tests may change it)."""
    return copy.deepcopy(INDENTER)


@pytest.fixture
def indenter(indenter_dict):
    import vesalius

    return vesalius.Scene.from_dict(indenter_dict, base_dir=ROOT, name="indenter.toml")


def vesalius_cli() -> str:
    """The `vesalius` binary built by `cargo test` / `cargo build` (VESALIUS_BIN if set)."""
    env = os.environ.get("VESALIUS_BIN")
    if env:
        return env
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("debug", "release"):
        p = target / profile / "vesalius"
        if p.exists():
            return str(p)
    found = shutil.which("vesalius")
    if found:
        return found
    raise RuntimeError(
        "no vesalius binary: run `cargo build` first or set VESALIUS_BIN (the tests compare "
        "against it, they do not skip)"
    )

"""Scenes: loading, building from a dict, and the errors for bad input."""

from __future__ import annotations

import math

import pytest
import vesalius
from conftest import ROOT, SCENES


def test_shipped_scenes_load_with_their_kind():
    assert vesalius.Scene.load(SCENES / "block_sag.toml").kind == "tissue"
    s = vesalius.Scene.load(SCENES / "phlebotomy_plan.toml")
    assert s.kind == "cosim" and s.has_plan
    assert "phlebotomy_plan.toml" in repr(s)
    assert vesalius.Scene.plan_variables()[:2] == ["pitch_deg", "yaw_deg"]


def test_a_dict_is_checked_as_a_file(indenter, indenter_dict):
    assert indenter.kind == "cosim"
    # The same text parses the same way from TOML.
    again = vesalius.Scene.from_toml(indenter.text, ROOT / "indenter.toml")
    assert again.text == indenter.text


def test_a_missing_file_names_the_file():
    with pytest.raises(vesalius.SceneError, match="no_such_scene.toml: cannot read"):
        vesalius.Scene.load("no_such_scene.toml")


def test_an_unknown_key_names_the_line():
    with pytest.raises(vesalius.SceneError) as e:
        vesalius.Scene.from_toml("[mesh]\nfoo = 1\n", "bad.toml")
    msg = str(e.value)
    assert "bad.toml" in msg and "line 2" in msg and "foo" in msg


def test_impossible_material_is_refused(indenter_dict):
    indenter_dict["materials"]["default"]["poisson_ratio"] = 0.5
    with pytest.raises(vesalius.SceneError, match="poisson"):
        vesalius.CoSim(vesalius.Scene.from_dict(indenter_dict, base_dir=ROOT))


def test_none_and_nan_in_a_dict_are_refused(indenter_dict):
    indenter_dict["simulation"]["duration"] = None
    with pytest.raises(vesalius.SceneError, match="None"):
        vesalius.Scene.from_dict(indenter_dict, base_dir=ROOT)
    indenter_dict["simulation"]["duration"] = math.nan
    with pytest.raises(vesalius.SceneError, match="finite"):
        vesalius.Scene.from_dict(indenter_dict, base_dir=ROOT)


def test_a_missing_urdf_names_it(indenter_dict):
    indenter_dict["robot"]["urdf"] = "robots/none/none.urdf"
    scene = vesalius.Scene.from_dict(indenter_dict, base_dir=ROOT, name="m.toml")
    with pytest.raises(vesalius.RobotError, match="none.urdf"):
        vesalius.CoSim(scene)


def test_a_tissue_scene_is_not_a_cosim():
    s = vesalius.Scene.load(SCENES / "block_sag.toml")
    with pytest.raises(vesalius.SceneError, match="Tissue|robot"):
        vesalius.CoSim(s)
    with pytest.raises(vesalius.SceneError, match="co-simulation"):
        vesalius.predict(s)
    with pytest.raises(vesalius.SceneError, match="CoSim"):
        vesalius.Tissue(vesalius.Scene.load(SCENES / "phlebotomy.toml"))


def test_bad_options_are_value_errors(indenter):
    with pytest.raises(ValueError, match="backend"):
        vesalius.CoSim(indenter, backend="tpu")
    with pytest.raises(ValueError, match="threads"):
        vesalius.CoSim(indenter, threads=0)
    with pytest.raises(ValueError, match="duration"):
        vesalius.CoSim(indenter, duration=-1.0)


def test_the_errors_are_one_family():
    for e in (vesalius.SceneError, vesalius.SimulationError, vesalius.RobotError,
              vesalius.OutputError):
        assert issubclass(e, vesalius.VesaliusError)
    assert issubclass(vesalius.GuardError, vesalius.SimulationError)

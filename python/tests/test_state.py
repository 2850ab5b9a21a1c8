"""Stepping from Python: numpy shapes and dtypes, and the same results as the Rust CLI."""

from __future__ import annotations

import csv
import json
import subprocess

import numpy as np
import pytest
import vesalius
from conftest import ROOT, SCENES, vesalius_cli


def test_tissue_arrays_have_their_shapes_and_dtypes():
    t = vesalius.Tissue(vesalius.Scene.load(SCENES / "block_sag.toml"), backend="cpu",
                        duration=0.05)
    assert "block_sag.toml" in repr(t) and t.frames == 3
    x0 = t.positions()
    n = x0.shape[0]
    tets = t.tets()
    assert x0.dtype == np.float32 and x0.shape == (n, 3)
    assert tets.dtype == np.uint32 and tets.shape[1] == 4 and tets.max() < n
    assert t.surface_triangles().shape[1] == 3
    assert t.tet_regions().shape == (tets.shape[0],)
    time = t.run()
    assert time == pytest.approx(0.05)
    x = t.positions()
    u = t.displacements()
    np.testing.assert_allclose(x, t.rest_positions() + u, atol=1e-7)
    # Under gravity (-z) the block sags: every free vertex moved down or stayed.
    assert u[:, 2].min() < -1e-5
    strain = t.tet_strain()
    assert set(strain) == {"green_strain", "max_stretch", "volume_ratio"}
    assert strain["volume_ratio"].dtype == np.float32
    assert np.all(strain["volume_ratio"] > 0.9)
    d = t.diagnostics()
    assert d["inverted_tets"] == 0


def test_bad_step_counts_are_refused(indenter):
    sim = vesalius.CoSim(indenter)
    with pytest.raises(ValueError):
        sim.step(0)
    with pytest.raises(OverflowError):
        sim.step(-1)


def test_cosim_stepping_matches_the_cli(indenter, tmp_path):
    """The indenter stepped frame by frame from Python writes the same forces.csv and
    link_poses.csv as `vesalius run` on the same scene (CPU backend: the same bits)."""
    scene_file = tmp_path / "indenter.toml"
    scene_file.write_text(indenter.text)
    cli_out = tmp_path / "cli"
    subprocess.run(
        [vesalius_cli(), "run", str(scene_file), "--out", str(cli_out), "--backend", "cpu",
         "--quiet"],
        check=True, capture_output=True, text=True,
    )
    py_out = tmp_path / "py"
    with vesalius.CoSim(vesalius.Scene.load(scene_file), backend="cpu") as sim:
        sim.record(py_out)
        forces = []
        for _ in range(sim.frames):
            frame = sim.step()
            forces.append(frame["forces"])
            assert frame["forces"].shape == (1, 3) and frame["forces"].dtype == np.float64
            assert frame["joint_positions"].shape == (1,)
            assert frame["needle"] is None and frame["guard"] is None
    for name in ("forces.csv", "link_poses.csv"):
        assert (py_out / name).read_text() == (cli_out / name).read_text(), name
    # The frames' forces are the file's (to its printed digits).
    rows = list(csv.DictReader((cli_out / "forces.csv").open()))
    fz = np.array([float(r["probe.fz"]) for r in rows])
    np.testing.assert_allclose(np.array(forces)[:, 0, 2], fz, rtol=1e-6, atol=1e-12)
    assert fz[-1] > 0.1  # the tissue pushes the probe up
    summary = json.loads((py_out / "summary.json").read_text())
    cli_summary = json.loads((cli_out / "summary.json").read_text())
    assert summary["report"]["peak_force"] == cli_summary["report"]["peak_force"]
    assert summary["frames_written"] == cli_summary["frames_written"]
    assert (py_out / "tissue.pvd").exists()


def test_an_output_folder_is_not_overwritten(indenter, tmp_path):
    (tmp_path / "summary.json").write_text("mine")
    sim = vesalius.CoSim(indenter)
    with pytest.raises(vesalius.OutputError, match="summary.json"):
        sim.record(tmp_path)
    assert (tmp_path / "summary.json").read_text() == "mine"
    sim.record(tmp_path, force=True)
    sim.step(2)
    sim.close()
    assert "report" in (tmp_path / "summary.json").read_text()


def test_wrenches_joints_and_names(indenter):
    sim = vesalius.CoSim(indenter)
    assert sim.joint_names == ["plunge"] and sim.body_names == ["probe"]
    assert sim.tool_wrenches().shape == (1, 6)
    sim.step(15)
    w = sim.tool_wrenches()
    assert w[0, 2] > 0.1
    q = sim.joint_positions()
    assert q.shape == (1,) and 0.004 < q[0] < 0.0065
    assert sim.joint_velocities().shape == (1,)
    assert sim.needle() is None and sim.events() == []

"""Closed-loop venipuncture from Python: a force-threshold controller drives the needle.

The robot takes the scene's approach pose (its first waypoints), then this script moves the
insertion joint itself, one target per frame (``CoSim.set_joint_targets``), reading the
needle's axial force back every frame:

* advance at ``--speed`` while the force stays below ``--spike`` N;
* a force spike (above ``--spike``) or a loss of resistance (the force falling below
  ``--drop`` of its recent peak: a membrane gave) pauses: hold still for ``--pause`` s, then go on;
* stop once the tip has been in the vein's lumen for ``--settle`` s, or after ``--stroke`` m.

    python examples/python/closed_loop.py                     # the whole insertion
    python examples/python/closed_loop.py --max-time 0.6      # short (CI)

Writes the run (ParaView frames, forces.csv, link_poses.csv, events.json, summary.json) to
``--out`` and prints the controller's decisions and the scene's verdict.
"""

from __future__ import annotations

import argparse
import pathlib

import vesalius

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", default=str(ROOT / "scenes/phlebotomy.toml"))
    ap.add_argument("--out", default=str(ROOT / "out/closed_loop"))
    ap.add_argument("--speed", type=float, default=0.0075, help="insertion speed (m/s)")
    ap.add_argument("--spike", type=float, default=1.5, help="force spike threshold (N)")
    ap.add_argument("--drop", type=float, default=0.5,
                    help="loss of resistance: force below this share of its recent peak")
    ap.add_argument("--pause", type=float, default=0.15, help="hold after a trigger (s)")
    ap.add_argument("--settle", type=float, default=0.2, help="time in the lumen to stop (s)")
    ap.add_argument("--stroke", type=float, default=0.0215, help="longest stroke (m)")
    ap.add_argument("--max-time", type=float, default=4.0, help="simulated time limit (s)")
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--force", action="store_true", help="overwrite --out")
    args = ap.parse_args()

    scene = vesalius.Scene.load(args.scene)
    sim = vesalius.CoSim(scene, backend=args.backend, duration=args.max_time)
    joint = sim.joint_names.index("insertion")
    frame_dt = 1.0 / 60.0
    # The approach: the scene's waypoints up to the hold before the stroke.
    approach_end = 0.3
    with sim:
        sim.record(args.out, every=6, force=args.force)
        while sim.time < approach_end - 1e-9:
            sim.step()
        q = sim.joint_positions().copy()
        start = q[joint]
        peak = 0.0
        paused_until = -1.0
        in_lumen_since = None
        while sim.time < args.max_time - 1e-9:
            t = sim.time
            if t >= paused_until and q[joint] - start < args.stroke:
                q[joint] = min(q[joint] + args.speed * frame_dt, start + args.stroke)
                sim.set_joint_targets(q)
            frame = sim.step()
            needle = frame["needle"]
            force = needle["axial_force"] if needle else 0.0
            for e in needle["events"] if needle else []:
                print(f"{e['time']:7.3f} s  {e['description']:<28} {e['force']:.3f} N")
            peak = max(peak * 0.98, force)  # a recent peak, forgetting over ~1 s
            if t >= paused_until:
                if force > args.spike:
                    paused_until = t + args.pause
                    print(f"{t:7.3f} s  pause: force spike {force:.3f} N")
                elif peak > 0.1 and force < args.drop * peak:
                    paused_until = t + args.pause
                    print(f"{t:7.3f} s  pause: loss of resistance ({force:.3f} N after "
                          f"{peak:.3f} N)")
                    peak = force
            region = needle["tip_region"] if needle else None
            if region == "vein_lumen":
                in_lumen_since = in_lumen_since if in_lumen_since is not None else t
                if t - in_lumen_since >= args.settle:
                    print(f"{t:7.3f} s  stop: tip in the lumen for {args.settle} s")
                    break
            else:
                in_lumen_since = None
        report = sim.report()
    print(f"stroke {1e3 * (q[joint] - start):.2f} mm, tip in {report.final_tip_region}, "
          f"peak force {max(report.peak_force):.3f} N")
    for c in report.checks:
        print(f"[{'pass' if c['passed'] else 'FAIL'}] {c['name']} ({c['detail']})")
    print(f"verdict: {'success' if report.passed else 'failure'}; results in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What Python adds to a run: the cost of stepping frame by frame from Python (a dict of
numpy arrays per frame, the GIL released and taken back) against the same frames in one
Rust loop (``predict``), and of reading the state as numpy arrays.

    python python/benches/overhead.py [--repeats 7]

Runs alternate (this machine is shared); the figures are medians.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

import vesalius  # noqa: E402
from conftest import INDENTER, ROOT, SCENES  # noqa: E402


def per_frame(label: str, frames: int, rust, python, repeats: int) -> None:
    """Times `rust()` (the frames in one Rust call) and `python()` (one Python call a frame),
    alternating, and prints the medians per frame and the difference."""
    r_times, p_times = [], []
    for _ in range(repeats):
        r_times.append(rust())
        p_times.append(python())
    r, p = statistics.median(r_times), statistics.median(p_times)
    lo, hi = min(r_times), max(r_times)
    print(f"{label} ({frames} frames): one Rust call {1e3 * r / frames:.3f} ms/frame "
          f"({1e3 * lo / frames:.3f}-{1e3 * hi / frames:.3f}), stepped from Python "
          f"{1e3 * p / frames:.3f} ms/frame ({1e3 * min(p_times) / frames:.3f}-"
          f"{1e3 * max(p_times) / frames:.3f}): {1e6 * (p - r) / frames:+.0f} us a frame, "
          f"{100 * (p / r - 1):+.2f} %")


def timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def clinical(repeats: int) -> None:
    """The README's scenes: the reference block (Tissue) and phlebotomy (CoSim)."""
    block = vesalius.Scene.load(SCENES / "block_sag.toml")
    frames = 30

    def block_rust() -> float:
        sim = vesalius.Tissue(block, backend="cpu")
        return timed(lambda: sim.step(frames))

    def block_python() -> float:
        sim = vesalius.Tissue(block, backend="cpu")
        return timed(lambda: [sim.step() for _ in range(frames)])

    per_frame("reference block (block_sag, 41,472 tets), Tissue", frames, block_rust,
              block_python, repeats)
    phlebotomy = vesalius.Scene.load(SCENES / "phlebotomy.toml")
    duration = 0.25  # the approach and the skin contact, 15 frames

    def phleb_rust() -> float:
        sim = vesalius.CoSim(phlebotomy, backend="cpu", duration=duration)
        return timed(sim.run)

    def phleb_python() -> float:
        sim = vesalius.CoSim(phlebotomy, backend="cpu", duration=duration)
        n = sim.frames
        return timed(lambda: [sim.step() for _ in range(n)])

    n = vesalius.CoSim(phlebotomy, backend="cpu", duration=duration).frames
    per_frame("phlebotomy, CoSim", n, phleb_rust, phleb_python, repeats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--clinical", action="store_true",
                    help="also the reference block and phlebotomy (a few minutes)")
    args = ap.parse_args()
    if args.clinical:
        clinical(max(3, args.repeats // 2))
    scene = vesalius.Scene.from_dict(INDENTER, base_dir=ROOT)
    frames = vesalius.CoSim(scene, backend="cpu").frames
    rust, python = [], []
    for _ in range(args.repeats):
        sim = vesalius.CoSim(scene, backend="cpu")
        t = time.perf_counter()
        sim.run()  # the frames in one Rust loop
        rust.append(time.perf_counter() - t)
        sim = vesalius.CoSim(scene, backend="cpu")
        t = time.perf_counter()
        for _ in range(frames):
            sim.step()
        python.append(time.perf_counter() - t)
    r, p = statistics.median(rust), statistics.median(python)
    print(f"indenter ({frames} frames, 1536 tets): one Rust loop {1e3 * r / frames:.3f} ms/frame, "
          f"stepped from Python {1e3 * p / frames:.3f} ms/frame, "
          f"{1e6 * (p - r) / frames:.0f} us a frame more")
    sim = vesalius.CoSim(scene, backend="cpu")
    sim.step()
    n = 2000
    for name, f in [("tool_wrenches()", sim.tool_wrenches),
                    ("joint_positions()", sim.joint_positions),
                    ("set_joint_targets()", lambda: sim.set_joint_targets([0.001])),
                    ("positions() 405 x 3", sim.positions)]:
        t = time.perf_counter()
        for _ in range(n):
            f()
        print(f"{name}: {1e6 * (time.perf_counter() - t) / n:.1f} us")
    big = vesalius.Tissue(vesalius.Scene.load(SCENES / "block_sag.toml"), backend="cpu")
    x = big.positions()
    t = time.perf_counter()
    for _ in range(200):
        big.positions()
    print(f"positions() {x.shape[0]} x 3 (block_sag): {1e6 * (time.perf_counter() - t) / 200:.1f} us")


if __name__ == "__main__":
    main()

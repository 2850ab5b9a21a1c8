"""Optimize the venipuncture two ways and plot both.

1. **The engine's planner** (``vesalius.plan``) on ``scenes/phlebotomy_plan.toml``: anytime
   CEM on the needle-path planning model within a latency budget, then the best plans
   checked on the full co-simulation until one passes.
2. **A plain optimization loop over the full model**: a small CMA-ES (written out below, in
   numpy) over the insertion angle and the stroke of ``scenes/phlebotomy.toml``; each
   generation's candidates are full co-simulations rolled out together from the initial
   world (``CoSim.rollout_batch``, one world per CPU thread).

    python examples/python/optimize_insertion.py                       # about 5 minutes
    python examples/python/optimize_insertion.py --generations 1 --popsize 2 --validate 1

Writes ``optimize_insertion.png`` (best cost against wall time for both, and the candidates
of the CMA-ES) and ``optimize_insertion.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time

import numpy as np
import vesalius

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The shipped scene's geometry: the vein's axis point the needle aims at, and the height of
# the needle tip at the approach pose (2 mm over the skin's tent line).
AIM = np.array([0.025, 0.0, -0.0055])
APPROACH_Z = 0.00078
HOLD = 0.3  # s at the approach pose before the stroke
SPEED = 0.0075  # m/s


def trajectory(pitch_deg: float, extra: float) -> list[dict]:
    """Approach pose on the line through AIM at ``pitch_deg`` below the skin, then a stroke
    ``extra`` m past the aim point (the tissue is carried ahead of the needle)."""
    p = math.radians(pitch_deg)
    run = (APPROACH_Z - AIM[2]) / math.sin(p)
    tip = AIM - run * np.array([math.cos(p), 0.0, -math.sin(p)])
    stroke = run + extra
    pose = {"link": "needle_tip", "xyz": [float(v) for v in tip], "rpy": [0.0, p, 0.0]}
    return [
        {"t": 0.0, **pose},
        {"t": HOLD, **pose},
        {"t": HOLD + stroke / SPEED, "joints_delta": {"insertion": stroke}},
    ]


def cost(report: vesalius.Report) -> float:
    """Failed checks dominate; then the tip's distance to the vein's axis at the end."""
    d = report.to_dict()
    failed = sum(not c["passed"] for c in d["verdict"]["checks"])
    final = d["margins"]["targets"][0]["final_distance"]
    return 10.0 * failed + 1000.0 * (final if final is not None else 0.05)


class CMAES:
    """Textbook CMA-ES (Hansen, "The CMA Evolution Strategy: A Tutorial", 2016), minimizing
    over a box by sampling in [0, 1]^n and clipping."""

    def __init__(self, x0, sigma, popsize, seed):
        self.n = n = len(x0)
        self.mean = np.array(x0, float)
        self.sigma = sigma
        self.lam = popsize
        self.mu = max(1, popsize // 2)
        w = np.log(self.mu + 0.5) - np.log(np.arange(1, self.mu + 1))
        self.w = w / w.sum()
        self.mueff = 1.0 / np.sum(self.w**2)
        self.cc = (4 + self.mueff / n) / (n + 4 + 2 * self.mueff / n)
        self.cs = (self.mueff + 2) / (n + self.mueff + 5)
        self.c1 = 2 / ((n + 1.3) ** 2 + self.mueff)
        self.cmu = min(1 - self.c1, 2 * (self.mueff - 2 + 1 / self.mueff) /
                       ((n + 2) ** 2 + self.mueff))
        self.damps = 1 + 2 * max(0, math.sqrt((self.mueff - 1) / (n + 1)) - 1) + self.cs
        self.chin = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        self.pc = np.zeros(n)
        self.ps = np.zeros(n)
        self.C = np.eye(n)
        self.rng = np.random.default_rng(seed)

    def ask(self):
        vals, vecs = np.linalg.eigh(self.C)
        self.B, self.D = vecs, np.sqrt(np.maximum(vals, 1e-20))
        z = self.rng.standard_normal((self.lam, self.n))
        y = z @ np.diag(self.D) @ self.B.T
        return np.clip(self.mean + self.sigma * y, 0.0, 1.0)

    def tell(self, xs, fs):
        order = np.argsort(fs)
        old = self.mean.copy()
        sel = xs[order[: self.mu]]
        self.mean = self.w @ sel
        y = (self.mean - old) / self.sigma
        inv_sqrt = self.B @ np.diag(1 / self.D) @ self.B.T
        self.ps = (1 - self.cs) * self.ps + math.sqrt(self.cs * (2 - self.cs) * self.mueff) * (
            inv_sqrt @ y)
        hsig = np.linalg.norm(self.ps) / self.chin < 1.4 + 2 / (self.n + 1)
        self.pc = (1 - self.cc) * self.pc + hsig * math.sqrt(
            self.cc * (2 - self.cc) * self.mueff) * y
        ys = (sel - old) / self.sigma
        self.C = ((1 - self.c1 - self.cmu) * self.C + self.c1 * np.outer(self.pc, self.pc)
                  + self.cmu * (ys.T @ np.diag(self.w) @ ys))
        self.sigma *= math.exp((self.cs / self.damps) * (np.linalg.norm(self.ps) / self.chin - 1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "out/optimize_insertion"))
    ap.add_argument("--budget", default="200ms", help="the planner's latency budget")
    ap.add_argument("--validate", type=int, default=3, help="plans checked on the full model")
    ap.add_argument("--generations", type=int, default=4, help="CMA-ES generations")
    ap.add_argument("--popsize", type=int, default=6, help="CMA-ES candidates per generation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. The engine's planner.
    t0 = time.perf_counter()
    planned = vesalius.plan(vesalius.Scene.load(ROOT / "scenes/phlebotomy_plan.toml"),
                            budget=args.budget, seed=args.seed, validate=args.validate,
                            backend=args.backend)
    plan_wall = time.perf_counter() - t0
    print(planned)
    curve = sorted((c["wall_s"], c["cost"]["total"]) for c in planned.candidates
                   if c["model"] == "needle_path" and c["cost"]["total"] is not None)
    best_planner = np.minimum.accumulate([c for _, c in curve]) if curve else []

    # 2. A plain CMA-ES over the full model, a generation per batch of rollouts.
    lo = np.array([15.0, 0.0])  # pitch (deg), stroke past the aim (m)
    hi = np.array([35.0, 0.006])
    scene = vesalius.Scene.load(ROOT / "scenes/phlebotomy.toml")
    sim = vesalius.CoSim(scene, backend=args.backend)
    start = sim.snapshot()
    horizon = sim.frames
    es = CMAES(x0=(np.array([23.0, 0.0033]) - lo) / (hi - lo), sigma=0.25,
               popsize=args.popsize, seed=args.seed)
    evaluated = []  # (wall s, pitch, extra, cost, passed)
    t0 = time.perf_counter()
    for g in range(args.generations):
        xs = es.ask()
        vs = lo + xs * (hi - lo)
        # Long enough for the slowest stroke of the generation, then 0.25 s to settle.
        end = max(HOLD + (r + e) / SPEED for r, e in
                  (((APPROACH_Z - AIM[2]) / math.sin(math.radians(p)), e) for p, e in vs))
        frames = max(horizon, int(math.ceil((end + 0.25) * 60)))
        reports = sim.rollout_batch(start, [trajectory(*v) for v in vs], horizon=frames)
        fs = np.array([cost(r) for r in reports])
        es.tell(xs, fs)
        wall = time.perf_counter() - t0
        for v, f, r in zip(vs, fs, reports):
            evaluated.append((wall, float(v[0]), float(v[1]), float(f), r.passed))
        i = int(np.argmin(fs))
        print(f"generation {g}: best cost {fs[i]:.3f} at pitch {vs[i][0]:.1f} deg, "
              f"{1e3 * vs[i][1]:.2f} mm past the aim ({'passes' if reports[i].passed else 'fails'})"
              f"; {wall:.0f} s")
    best = min(evaluated, key=lambda e: e[3])

    result = {
        "planner": {"variables": planned.variables, "passed_full_model": planned.passed,
                    "cost": planned.cost["total"], "wall_s": plan_wall,
                    "latency_s": planned.latency, "candidates": len(planned.candidates)},
        "cmaes": {"pitch_deg": best[1], "past_aim_m": best[2], "cost": best[3],
                  "passed": best[4], "evaluations": len(evaluated),
                  "wall_s": evaluated[-1][0] if evaluated else 0.0},
    }
    (out / "optimize_insertion.json").write_text(json.dumps(result, indent=2) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    if curve:
        a.step([w for w, _ in curve], best_planner, where="post",
               label=f"planner (planning model, {len(curve)} candidates)")
    ev = np.array([(w, c) for w, _, _, c, _ in evaluated])
    a.step(ev[:, 0], np.minimum.accumulate(ev[:, 1]), where="post", marker="o",
           label=f"CMA-ES (full model, {len(ev)} rollouts)")
    a.set_xscale("log")
    a.set_xlabel("wall time (s)")
    a.set_ylabel("best cost")
    a.set_title("convergence (each on its own cost)")
    a.legend()
    pts = np.array([(p, 1e3 * e, c) for _, p, e, c, _ in evaluated])
    sc = b.scatter(pts[:, 0], pts[:, 1], c=pts[:, 2], cmap="viridis_r")
    fig.colorbar(sc, ax=b, label="cost")
    b.scatter([best[1]], [1e3 * best[2]], marker="*", s=200, c="red", label="CMA-ES best")
    b.set_xlabel("pitch (deg)")
    b.set_ylabel("stroke past the aim (mm)")
    b.set_title("CMA-ES candidates (full model)")
    b.legend()
    fig.tight_layout()
    fig.savefig(out / "optimize_insertion.png", dpi=110)
    print(f"planner: {planned.variables} ({'passes' if planned.passed else 'fails'} on the full "
          f"model, {plan_wall:.0f} s); CMA-ES: pitch {best[1]:.1f} deg, {1e3 * best[2]:.2f} mm "
          f"past the aim, cost {best[3]:.3f} ({'passes' if best[4] else 'fails'}); "
          f"results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

//! # vesalius-cosim
//!
//! A URDF robot (`vesalius-robot`, rapier3d) moving tools through XPBD tissue
//! (`vesalius-engine`), with two-way forces, needle insertion and a prediction report.
//!
//! * [`scene`]: co-simulation scene files (tissue scene + robot, tools, needle,
//!   trajectory, attachments, targets, criteria).
//! * [`coupling`]: [`CoSim`], the coupled frame (its order is documented there).
//! * [`report`]: per-frame records, the summary with its verdict, and the output files.
//!
//! A complete small program: a one-axis indenter (our URDF in `robots/indenter`) pressing
//! its 20 mm spherical probe 6 mm into a soft block, stepped frame by frame with the force
//! read back, a snapshot rolled out with a deeper stroke, and the scene's verdict:
//!
//! ```
//! use std::ops::ControlFlow;
//! use vesalius_cosim::prelude::*;
//!
//! let urdf = concat!(env!("CARGO_MANIFEST_DIR"), "/../robots/indenter/indenter.urdf");
//! let text = format!(r#"
//! [mesh]
//! generator = {{ kind = "box", cells = [8, 8, 4], size = [0.1, 0.1, 0.05], origin = [-0.05, -0.05, 0.0] }}
//! [materials]
//! default = {{ youngs_modulus = 1.0e4, poisson_ratio = 0.45, density = 1000.0 }}
//! [[pin]]
//! kind = "plane"
//! normal = [0.0, 0.0, 1.0]
//! offset = 0.0
//! [simulation]
//! duration = 0.25
//! gravity = [0.0, 0.0, 0.0]
//! velocity_damping = 20.0
//! backend = "cpu"
//! [robot]
//! urdf = "{urdf}"
//! base = {{ xyz = [0.0, 0.0, 0.091] }}   # the probe's lowest point 1 mm above the block
//! [[tool]]
//! link = "probe"
//! [[trajectory]]
//! t = 0.0
//! joints = {{ plunge = 0.0 }}
//! [[trajectory]]
//! t = 0.4
//! joints = {{ plunge = 0.006 }}
//! [criteria]
//! max_tool_force = 5.0
//! "#);
//! let scene = CoSimScene::parse(&text, "indenter.toml".as_ref())?;
//! let mut sim = CoSim::new(&scene, &PredictOptions::default())?;
//! for _ in 0..5 {
//!     let frame = sim.step_frame()?;
//!     println!("t = {:.3} s: {:.4} N on the probe", frame.time, frame.forces[0][2]);
//! }
//! // Branch: a deeper stroke from here, rolled out on a fork; this run stays where it is.
//! let snapshot = sim.snapshot()?;
//! let robot = SceneRobot::load(&scene)?;
//! let plunge = robot.joint("plunge")?;
//! let deeper = robot.trajectory().joints(0.0, &[(plunge, 0.0)]).joints(0.4, &[(plunge, 0.012)]).build()?;
//! let reports = sim.rollout_batch(&snapshot, &[deeper], 10)?;
//! // The scene's own stroke to the end.
//! sim.run_frames(10, |_| ControlFlow::Continue(()))?;
//! let report = sim.finish();
//! assert!(report.verdict.passed, "{:?}", report.verdict);
//! assert!(reports[0].peak_force[0] > 2.0 * report.peak_force[0]);
//! println!("peak {:.3} N; deeper {:.3} N", report.peak_force[0], reports[0].peak_force[0]);
//! # Ok::<(), vesalius_cosim::CoSimError>(())
//! ```
//!
//! A shipped clinical scene runs the same way (`predict` builds the run and steps it to the
//! end; tens of seconds for the venipuncture):
//!
//! ```no_run
//! use vesalius_cosim::{predict, CoSimScene, PredictOptions};
//! let scene = CoSimScene::load("scenes/phlebotomy.toml".as_ref())?;
//! let report = predict(&scene, None, &PredictOptions::default())?;
//! println!("verdict: {}", report.verdict.passed);
//! # Ok::<(), vesalius_cosim::CoSimError>(())
//! ```
#![warn(missing_docs)]

pub mod coupling;
pub mod margins;
pub mod plan;
pub mod report;
pub mod scene;
pub mod trajectory;

pub use coupling::{CoSim, PredictOptions, WorldSnapshot};
pub use margins::FrameMargins;
pub use report::{
    Check, Criterion, FrameRecord, MarginUnit, Measured, Report, RunMargins, TargetMargin, Verdict,
};
pub use scene::{CoSimError, CoSimScene, Coupling, CriteriaSpec, WaypointSpec};
pub use trajectory::{
    JointHandle, LinkHandle, SceneRobot, Trajectory, TrajectoryBuilder, TrajectoryError,
};
pub use vesalius_engine::scene::overrides::Override;
/// The types most co-simulation programs need, in one `use vesalius_cosim::prelude::*;`.
pub mod prelude {
    pub use crate::coupling::{CoSim, PredictOptions, WorldSnapshot};
    pub use crate::plan::{plan, PlanOptions, PlanResult, Planner};
    pub use crate::report::{Check, FrameRecord, MarginUnit, Report, Verdict};
    pub use crate::scene::{CoSimError, CoSimScene, Coupling, WaypointSpec};
    pub use crate::trajectory::{JointHandle, LinkHandle, SceneRobot, Trajectory, TrajectoryError};
    pub use crate::{predict, predict_observed};
    pub use vesalius_engine::contact::{NeedleEvent, NeedleEventKind, NeedleReport};
    pub use vesalius_engine::sim::BackendKind;
}

/// The engine and robot crates, for the types a script needs beside these.
pub use vesalius_engine as engine;
pub use vesalius_engine::contact::{NeedleEvent, NeedleEventKind, NeedleReport};
pub use vesalius_engine::sim::BackendKind;
pub use vesalius_robot as robot;

use std::ops::ControlFlow;

/// Runs `scene` (with `trajectory` instead of the scene's waypoints when given) and returns
/// what it predicts: tool wrenches, joint torques, needle tip region and events, strain and
/// damage per region, target displacements, the tip's margins, and the verdict of the
/// scene's criteria with a signed margin per check.
pub fn predict(
    scene: &CoSimScene,
    trajectory: Option<&Trajectory>,
    options: &PredictOptions,
) -> Result<Report, CoSimError> {
    predict_observed(scene, trajectory, options, |_| ControlFlow::Continue(()))
}

/// [`predict`] with an observer that sees each frame's record as it is made and can stop
/// the run (`ControlFlow::Break`), e.g. as soon as a candidate has failed; the report then
/// covers the frames run so far and says so ([`Report::stopped_early`]).
pub fn predict_observed(
    scene: &CoSimScene,
    trajectory: Option<&Trajectory>,
    options: &PredictOptions,
    observe: impl FnMut(&FrameRecord) -> ControlFlow<()>,
) -> Result<Report, CoSimError> {
    let sim = match trajectory {
        Some(t) => CoSim::with_trajectory(scene, t, options)?,
        None => CoSim::new(scene, options)?,
    };
    sim.run_observed(observe)
}

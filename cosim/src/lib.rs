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

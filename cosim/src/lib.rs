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
pub mod report;
pub mod scene;

pub use coupling::{CoSim, PredictOptions};
pub use report::{FrameRecord, Report, Verdict};
pub use scene::{CoSimError, CoSimScene, Coupling, WaypointSpec};

/// Runs `scene` (with `trajectory` instead of the scene's waypoints when given) and returns
/// what it predicts: tool wrenches, joint torques, needle tip region and events, strain and
/// damage per region, target displacements, and the verdict of the scene's criteria.
pub fn predict(
    scene: &CoSimScene,
    trajectory: Option<&[WaypointSpec]>,
    options: &PredictOptions,
) -> Result<Report, CoSimError> {
    let mut scene = scene.clone();
    if let Some(t) = trajectory {
        scene.file.trajectory = t.to_vec();
    }
    CoSim::new(&scene, options)?.run(&scene)
}

//! What a run checks about its surroundings: the disk space its frames will take (before
//! the first frame) and Ctrl-C (between frames, so that a run stopped by hand still writes
//! its `summary.json`).

use anyhow::{bail, Result};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use vesalius_engine::model::{Model, State};
use vesalius_engine::output::FrameWriter;

/// Before a run's first frame: refuses it if its `frames` frames would fill the disk
/// ([`check_disk_space`], a frame of `state` encoded to size it), then catches Ctrl-C.
pub fn before_first_frame(
    writer: &mut FrameWriter,
    model: &Model,
    state: &State,
    frames: u64,
    force: bool,
) -> Result<()> {
    let frame_bytes = writer.frame_bytes(model, state)?;
    check_disk_space(writer.dir(), frame_bytes, frames, force)?;
    catch_interrupt();
    Ok(())
}

/// The failure to end a run with, at simulated time `time`, if Ctrl-C asked it to stop.
pub fn interruption(time: f64) -> Option<anyhow::Error> {
    interrupted().then(|| anyhow::anyhow!("interrupted (Ctrl-C) at t = {time:.4} s"))
}

/// Share of the free space a run may fill without `--force`.
const MAX_DISK_SHARE: f64 = 0.9;

/// Refuses a run whose `frames` frames of `frame_bytes` each would take more than 90 % of
/// the free space where `dir` is, unless `force`; the message gives the sizes and what to
/// change. Where the free space cannot be read, nothing is refused.
fn check_disk_space(dir: &Path, frame_bytes: u64, frames: u64, force: bool) -> Result<()> {
    let total = frame_bytes.saturating_mul(frames);
    let Some(free) = free_bytes(dir) else {
        return Ok(());
    };
    if total as f64 > MAX_DISK_SHARE * free as f64 && !force {
        bail!(
            "the run would write about {} ({frames} frames of {}) into {}, which has {} free: \
             raise output.every, shorten --duration, choose another --out, or pass --force to run anyway",
            human(total),
            human(frame_bytes),
            dir.display(),
            human(free)
        );
    }
    Ok(())
}

/// Bytes free for an unprivileged user on the file system that holds `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `st` a valid statvfs to fill.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match b {
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        _ => format!("{bytes} B"),
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// From now on the first Ctrl-C (SIGINT) asks the run to stop after the frame it is on
/// ([`interrupted`]); a second one ends the process at once.
fn catch_interrupt() {
    #[cfg(unix)]
    {
        extern "C" fn on_sigint(_: libc::c_int) {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                // SAFETY: _exit is async-signal-safe.
                unsafe { libc::_exit(130) };
            }
        }
        // SAFETY: the handler only touches an atomic and calls _exit, both
        // async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
        }
    }
}

/// Whether Ctrl-C asked the run to stop.
fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

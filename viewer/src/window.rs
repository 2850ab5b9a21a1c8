//! The live window of `vesalius view` (feature `window`): a winit window whose surface the
//! [`Renderer`] draws the tissue into, with an egui side panel drawn over it by egui-wgpu on
//! the same device, in the same frame. Nothing of the drawn image comes back to the host
//! except for a screenshot.
//!
//! The window knows nothing of scenes: it draws what a [`Source`] gives it (a running
//! simulation, a finished run's frames) and shows its [`Readings`]; the CLI provides the
//! sources.
//!
//! Controls: left drag orbits, right or middle drag pans, the wheel zooms; Space plays and
//! pauses, `.` or Right steps one frame, `+` and `-` change the speed, R resets the view,
//! X, Y, Z look along the axes (Shift: from the other side), W toggles the wireframe, C the
//! cut, Escape or Q quits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vesalius_engine::gpu::GpuContext;
use winit::application::ApplicationHandler;
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::window::{Window, WindowId};

use crate::camera::bounding_radius;
use crate::colour::sample;
use crate::render::{Drawing, Style, Target};
use crate::{Camera, Field, Look, Renderer, Solid, Surface, ViewerError};

/// An error a [`Source`] reports (the CLI's are `anyhow` errors).
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// What the window shows at one moment: the tissue's surface and the rigid bodies.
pub struct Picture {
    /// The tissue, coloured and cut as the [`Look`] asked.
    pub surface: Surface,
    /// The robot's links, tools, force arrows, markers.
    pub solids: Vec<Solid>,
}

/// The tissue's force on one tool body.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolForce {
    /// The body (a robot link, or "world").
    pub body: String,
    /// The force (N, world).
    pub force: [f64; 3],
}

/// The needle at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct NeedleReading {
    /// Tip depth along the axis from where it first touched (m).
    pub depth: f64,
    /// The region the tip is in (`None`: outside the tissue).
    pub region: Option<String>,
    /// Axial force resisting insertion (N).
    pub axial_force: f64,
}

/// One event of the run (a puncture, a region entered, a re-plan).
#[derive(Clone, Debug, PartialEq)]
pub struct EventLine {
    /// When (s).
    pub time: f64,
    /// What.
    pub text: String,
}

/// One check of the verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckLine {
    /// Whether it held.
    pub passed: bool,
    /// What was asked and what the run showed.
    pub text: String,
}

/// The scene's verdict (so far, for a run still going).
#[derive(Clone, Debug, PartialEq)]
pub struct VerdictReading {
    /// Every check passed.
    pub passed: bool,
    /// The checks.
    pub checks: Vec<CheckLine>,
    /// The frames it covers end here (s).
    pub time: f64,
}

/// One line of the panel's force strip: a force over time.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesLine {
    /// What it is (a tool body's |F|, the needle's axial force).
    pub name: String,
    /// `[time (s), force (N)]`, in time order.
    pub points: Vec<[f64; 2]>,
}

/// What the panel shows beside the picture.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Readings {
    /// The tissue's force on each tool body.
    pub forces: Vec<ToolForce>,
    /// The needle, when there is one.
    pub needle: Option<NeedleReading>,
    /// Events up to now.
    pub events: Vec<EventLine>,
    /// The force strip's lines: a running simulation's frames so far, a finished run's
    /// every frame (the strip marks the time shown).
    pub series: Vec<SeriesLine>,
    /// The verdict, when the source has one.
    pub verdict: Option<VerdictReading>,
    /// Anything else worth telling (warnings).
    pub notes: Vec<String>,
}

/// What the window draws: a simulation it runs forward, or a finished run it moves through.
pub trait Source {
    /// A name for the title bar (the scene's or the run's path).
    fn title(&self) -> String;
    /// The time of what [`Source::picture`] shows (s).
    fn time(&self) -> f64;
    /// The time between frames (s).
    fn frame_dt(&self) -> f64;
    /// The time of the last frame (s): the scene's duration, the run's last frame.
    fn end_time(&self) -> f64;
    /// Whether [`Source::seek`] can go anywhere (a finished run) or the source only goes
    /// forward (a simulation).
    fn seekable(&self) -> bool;
    /// One frame forward; `Ok(false)` at the end.
    fn advance(&mut self) -> Result<bool, SourceError>;
    /// To the frame nearest `time` (only where [`Source::seekable`]); `Ok(true)` if that
    /// is another frame than the one shown.
    fn seek(&mut self, time: f64) -> Result<bool, SourceError>;
    /// The picture of the current frame.
    fn picture(&mut self, look: &Look) -> Result<Picture, SourceError>;
    /// The panel's readings at the current frame.
    fn readings(&mut self) -> Readings;
}

/// How the window starts and when it stops.
#[derive(Clone, Debug)]
pub struct WindowOptions {
    /// Inner size (logical pixels).
    pub size: [u32; 2],
    /// The adapter filter (as `--adapter`); it must also be able to present to the window.
    pub adapter: Option<String>,
    /// What the picture shows at first.
    pub look: Look,
    /// The camera's azimuth and elevation at first (degrees).
    pub view: [f32; 2],
    /// Orthographic at first.
    pub ortho: bool,
    /// Start playing (else paused).
    pub play: bool,
    /// Simulated seconds per second of wall time.
    pub speed: f64,
    /// After this many drawn frames, write the window's image here ([`WindowOptions::exit_after`]).
    pub screenshot: Option<PathBuf>,
    /// Close after this many drawn frames (the screenshot, if any, is of the last).
    pub exit_after: Option<u64>,
}

impl Default for WindowOptions {
    fn default() -> Self {
        Self {
            size: [1280, 800],
            adapter: None,
            look: Look::default(),
            view: [30.0, 25.0],
            ortho: false,
            play: true,
            speed: 1.0,
            screenshot: None,
            exit_after: None,
        }
    }
}

/// Why the window could not run.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// There is no display server to open a window on.
    #[error("no display: {0}")]
    NoDisplay(String),
    /// The window or its surface could not be made.
    #[error("could not open a window: {0}")]
    Window(String),
    /// No adapter can draw into the window.
    #[error("no GPU adapter can draw into the window: {0}")]
    Gpu(#[from] vesalius_engine::gpu::GpuError),
    /// Drawing failed.
    #[error(transparent)]
    Viewer(#[from] ViewerError),
    /// The source failed (the simulation, reading a frame).
    #[error("{0}")]
    Source(SourceError),
}

/// Why no window can be opened here, when that is plain without trying: on Linux and the
/// BSDs, neither `DISPLAY` nor `WAYLAND_DISPLAY` is set.
pub fn missing_display() -> Option<String> {
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    let free_desktop = cfg!(all(
        unix,
        not(target_os = "macos"),
        not(target_os = "android")
    ));
    (free_desktop && !set("DISPLAY") && !set("WAYLAND_DISPLAY"))
        .then(|| "neither DISPLAY nor WAYLAND_DISPLAY is set".to_string())
}

/// Opens the window on `source` and runs until it is closed (or `exit_after` frames).
pub fn run(source: Box<dyn Source>, options: WindowOptions) -> Result<(), WindowError> {
    if let Some(reason) = missing_display() {
        return Err(WindowError::NoDisplay(reason));
    }
    let event_loop = EventLoop::new().map_err(|e| WindowError::NoDisplay(e.to_string()))?;
    let mut app = App::new(source, options)?;
    event_loop
        .run_app(&mut app)
        .map_err(|e| WindowError::Window(e.to_string()))?;
    match app.error.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The longest the window spends stepping a simulation between two drawn frames.
const STEP_BUDGET: Duration = Duration::from_millis(40);
/// The panel's width (logical pixels) at first.
const PANEL_WIDTH: f32 = 300.0;
/// Speeds the slider offers (simulated seconds per wall second).
const SPEEDS: std::ops::RangeInclusive<f64> = 0.01..=10.0;
/// Orbit degrees per pixel dragged.
const ORBIT_DEG_PER_PIXEL: f32 = 0.4;

/// Everything the panel and the mouse change, and what is being shown.
struct Controls {
    look: Look,
    style: Style,
    camera: Camera,
    /// The camera fitted to the tissue at first ([`Controls::reset_view`] goes back to it).
    home: Option<Camera>,
    ortho: bool,
    playing: bool,
    speed: f64,
    /// Where playback has got to (s): the simulation is stepped until it catches up.
    clock: f64,
    step: bool,
    seek: Option<f64>,
    /// Cut: on, along which axis (0, 1, 2), at which offset from the centre (m).
    cut_on: bool,
    cut_axis: usize,
    cut_offset: f32,
    /// The range of the field's values in the picture.
    range: Option<(f32, f32)>,
    /// The tissue's bounding radius (m): the scale of pans, zooms and the cut's slider.
    radius: f32,
    /// Width over height of the view beside the panel.
    aspect: f32,
    readings: Readings,
    message: Option<String>,
    /// The picture must be built again (time or look changed).
    dirty: bool,
    quit: bool,
}

impl Controls {
    fn look(&self) -> Look {
        let mut look = self.look;
        look.cut = self.cut_on.then(|| {
            let mut n = [0.0; 4];
            n[self.cut_axis] = 1.0;
            n[3] = self.cut_offset;
            n
        });
        look
    }

    /// Back to the camera fitted to the tissue (farther in a view narrower than tall, whose
    /// sides would cut it off).
    fn reset_view(&mut self) {
        if let Some(home) = self.home {
            self.camera = home;
            self.camera.distance /= self.aspect.clamp(0.2, 1.0);
            self.apply_projection();
        }
    }

    /// Looks along an axis at the tissue: `axis` 0, 1, 2 from +x, +y, +z (`flip`: from -).
    fn look_along(&mut self, axis: usize, flip: bool) {
        let s = if flip { -1.0 } else { 1.0 };
        let (az, el) = match axis {
            0 => (if flip { 180.0 } else { 0.0 }, 0.0),
            1 => (90.0 * s, 0.0),
            _ => (-90.0, 90.0 * s),
        };
        self.camera.azimuth_deg = az;
        self.camera.elevation_deg = el;
    }

    fn apply_projection(&mut self) {
        self.camera.projection = if self.ortho {
            crate::camera::Projection::Orthographic {
                half_height: self.camera.distance * (17.5f32).to_radians().tan(),
            }
        } else {
            crate::camera::Projection::Perspective { fov_deg: 35.0 }
        };
    }

    fn orbit(&mut self, dx: f32, dy: f32) {
        self.camera.azimuth_deg -= dx * ORBIT_DEG_PER_PIXEL;
        self.camera.elevation_deg =
            (self.camera.elevation_deg + dy * ORBIT_DEG_PER_PIXEL).clamp(-89.9, 89.9);
    }

    /// Moves the target in the view's plane by a drag of `dx`, `dy` pixels in a view
    /// `height` pixels tall.
    fn pan(&mut self, dx: f32, dy: f32, height: f32) {
        let f = self.camera.forward();
        let right = f.cross(glam::Vec3::Z).normalize_or(glam::Vec3::X);
        let up = right.cross(f);
        let metres_per_pixel =
            2.0 * self.camera.distance * (17.5f32).to_radians().tan() / height.max(1.0);
        let t = glam::Vec3::from(self.camera.target) + metres_per_pixel * (-dx * right + dy * up);
        self.camera.target = t.to_array();
    }

    fn zoom(&mut self, steps: f32) {
        let d = self.camera.distance * 0.9f32.powf(steps);
        self.camera.distance = d.clamp(1e-3 * self.radius, 100.0 * self.radius);
        self.apply_projection();
    }

    fn faster(&mut self, factor: f64) {
        self.speed = (self.speed * factor).clamp(*SPEEDS.start(), *SPEEDS.end());
    }
}

/// The window and what draws into it (made once the event loop runs).
struct Gfx {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    renderer: Renderer,
    depth: wgpu::TextureView,
    egui_ctx: egui::Context,
    egui_state: egui_winit::State,
    egui_renderer: egui_wgpu::Renderer,
    /// The surface's textures can be copied from (else a screenshot draws the frame again
    /// into a texture that can).
    copyable: bool,
    drawing: Option<Drawing>,
}

struct App {
    source: Box<dyn Source>,
    options: WindowOptions,
    c: Controls,
    gfx: Option<Gfx>,
    error: Option<WindowError>,
    drawn: u64,
    last_tick: Instant,
    /// The mouse button held over the view, and where the cursor was.
    drag: Option<MouseButton>,
    cursor: Option<[f64; 2]>,
    /// The panel's width (physical pixels), as the last frame laid it out.
    panel_px: u32,
    shift: bool,
}

impl App {
    fn new(mut source: Box<dyn Source>, options: WindowOptions) -> Result<Self, WindowError> {
        let readings = source.readings();
        let c = Controls {
            look: options.look,
            style: Style::default(),
            camera: Camera::fit(([0.0; 3], [1.0; 3]), options.view[0], options.view[1]),
            home: None,
            ortho: options.ortho,
            playing: options.play,
            speed: options.speed.clamp(*SPEEDS.start(), *SPEEDS.end()),
            clock: source.time(),
            step: false,
            seek: None,
            cut_on: options.look.cut.is_some(),
            cut_axis: options
                .look
                .cut
                .and_then(|c| (0..3).max_by(|&a, &b| c[a].abs().total_cmp(&c[b].abs())))
                .unwrap_or(0),
            cut_offset: options.look.cut.map_or(0.0, |c| c[3]),
            range: None,
            radius: 1.0,
            aspect: 1.0,
            readings,
            message: None,
            dirty: true,
            quit: false,
        };
        Ok(Self {
            source,
            options,
            c,
            gfx: None,
            error: None,
            drawn: 0,
            last_tick: Instant::now(),
            drag: None,
            cursor: None,
            panel_px: 0,
            shift: false,
        })
    }

    fn fail(&mut self, event_loop: &ActiveEventLoop, e: WindowError) {
        self.error.get_or_insert(e);
        event_loop.exit();
    }

    /// Opens the window, its surface and the device that draws into it.
    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<Gfx, WindowError> {
        let [w, h] = self.options.size;
        let attributes = Window::default_attributes()
            .with_title(format!("vesalius view: {}", self.source.title()))
            .with_inner_size(winit::dpi::LogicalSize::new(w, h));
        let window = Arc::new(
            event_loop
                .create_window(attributes)
                .map_err(|e| WindowError::Window(e.to_string()))?,
        );
        let instance = vesalius_engine::gpu::new_instance();
        let surface = instance
            .create_surface(window.clone())
            .map_err(|e| WindowError::Window(format!("its GPU surface: {e}")))?;
        let ctx = GpuContext::for_surface(&instance, self.options.adapter.as_deref(), &surface)?;
        let caps = surface.get_capabilities(&ctx.wgpu_adapter);
        // Plain 8-bit channels as the offscreen images have them (the shader and egui
        // both write display values); else whatever the surface offers first.
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| {
                matches!(
                    f,
                    wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Rgba8Unorm
                )
            })
            .or_else(|| caps.formats.first().copied())
            .ok_or_else(|| WindowError::Window("the surface offers no format".into()))?;
        let copyable = caps.usages.contains(wgpu::TextureUsages::COPY_SRC);
        let size = window.inner_size();
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                | if copyable {
                    wgpu::TextureUsages::COPY_SRC
                } else {
                    wgpu::TextureUsages::empty()
                },
            format,
            color_space: wgpu::SurfaceColorSpace::Auto,
            width: size.width.max(1),
            height: size.height.max(1),
            present_mode: wgpu::PresentMode::AutoVsync,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps
                .alpha_modes
                .first()
                .copied()
                .unwrap_or(wgpu::CompositeAlphaMode::Auto),
            view_formats: vec![],
        };
        surface.configure(&ctx.device, &config);
        let egui_renderer =
            egui_wgpu::Renderer::new(&ctx.device, format, egui_wgpu::RendererOptions::default());
        let max_texture = ctx.device.limits().max_texture_dimension_2d as usize;
        let renderer = Renderer::with_format(ctx, format)?;
        let depth = renderer
            .depth_texture([config.width, config.height])
            .create_view(&Default::default());
        let egui_ctx = egui::Context::default();
        egui_ctx.set_visuals(egui::Visuals::light());
        let egui_state = egui_winit::State::new(
            egui_ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            window.theme(),
            Some(max_texture),
        );
        eprintln!(
            "window {}x{} on {} ({format:?})",
            config.width,
            config.height,
            renderer.context().adapter
        );
        Ok(Gfx {
            window,
            surface,
            config,
            renderer,
            depth,
            egui_ctx,
            egui_state,
            egui_renderer,
            copyable,
            drawing: None,
        })
    }

    /// Moves playback on: seeks, single steps, and as much simulation as the wall clock
    /// and the speed ask for (at most [`STEP_BUDGET`] of stepping per drawn frame).
    fn tick(&mut self) -> Result<(), SourceError> {
        let now = Instant::now();
        let wall = now.duration_since(self.last_tick).as_secs_f64().min(0.25);
        self.last_tick = now;
        let src = &mut self.source;
        let c = &mut self.c;
        let mut changed = false;
        if let Some(t) = c.seek.take() {
            changed |= src.seek(t)?;
            c.clock = src.time();
        }
        if std::mem::take(&mut c.step) {
            changed |= src.advance()?;
            c.clock = src.time();
        }
        if c.playing {
            let dt = src.frame_dt();
            c.clock += wall * c.speed;
            if src.seekable() {
                if c.clock >= src.end_time() {
                    c.clock = src.end_time();
                    c.playing = false;
                }
                changed |= src.seek(c.clock)?;
            } else {
                let started = Instant::now();
                while src.time() + 0.5 * dt < c.clock && started.elapsed() < STEP_BUDGET {
                    if !src.advance()? {
                        c.playing = false;
                        break;
                    }
                    changed = true;
                }
                // A simulation slower than asked does not pile up time to catch up on.
                c.clock = c.clock.min(src.time() + dt);
            }
        }
        if changed {
            c.readings = src.readings();
            c.dirty = true;
        }
        Ok(())
    }

    /// Builds the picture again and uploads it.
    fn rebuild(&mut self) {
        let Some(gfx) = &mut self.gfx else { return };
        self.c.dirty = false;
        let look = self.c.look();
        let picture = match self.source.picture(&look) {
            Ok(p) => p,
            Err(e) => {
                self.c.message = Some(format!("{e}"));
                return;
            }
        };
        match gfx.renderer.upload(&picture.surface, &picture.solids) {
            Ok(d) => {
                gfx.drawing = Some(d);
                self.c.message = None;
            }
            Err(e) => {
                self.c.message = Some(format!("{e}"));
                return;
            }
        }
        self.c.range = picture.surface.range();
        if self.c.home.is_none() {
            let bounds = picture.surface.bounds();
            self.c.radius = bounding_radius(bounds);
            let home = Camera::fit(bounds, self.options.view[0], self.options.view[1]);
            self.c.home = Some(home);
            self.c.reset_view();
        }
    }

    /// Draws one frame: the picture into the view left of the panel, the panel over it.
    fn redraw(&mut self) -> Result<(), WindowError> {
        self.tick().map_err(WindowError::Source)?;
        if let Some(gfx) = &self.gfx {
            let (w, h) = (gfx.config.width, gfx.config.height);
            self.c.aspect = w.saturating_sub(self.panel_px).max(1) as f32 / h.max(1) as f32;
        }
        if self.c.dirty {
            self.rebuild();
        }
        let Some(gfx) = &mut self.gfx else {
            return Ok(());
        };
        let raw = gfx.egui_state.take_egui_input(&gfx.window);
        let info = PanelInfo {
            title: self.source.title(),
            time: self.source.time(),
            end: self.source.end_time(),
            seekable: self.source.seekable(),
        };
        let c = &mut self.c;
        let mut panel_width = 0.0;
        let mut out = gfx.egui_ctx.run_ui(raw, |ui| {
            panel_width = panel(ui, c, &info);
        });
        gfx.egui_state
            .handle_platform_output(&gfx.window, out.platform_output);
        let ppp = out.pixels_per_point;
        self.panel_px = (panel_width * ppp).round() as u32;
        let jobs = gfx.egui_ctx.tessellate(out.shapes, ppp);
        let (device, queue) = (
            gfx.renderer.context().device.clone(),
            gfx.renderer.context().queue.clone(),
        );
        // egui's texture changes: new ones before drawing, freed ones after (or now, when
        // this frame is not drawn); egui asserts that none is left unapplied.
        for (id, deltas) in out.textures_delta.set.drain() {
            for delta in &deltas {
                gfx.egui_renderer.update_texture(&device, &queue, id, delta);
            }
        }
        let freed: Vec<egui::TextureId> = out.textures_delta.free.drain().collect();
        let frame = match gfx.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                gfx.free_textures(&freed);
                return Ok(());
            }
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                gfx.surface.configure(&device, &gfx.config);
                gfx.free_textures(&freed);
                return Ok(());
            }
            wgpu::CurrentSurfaceTexture::Validation => {
                gfx.free_textures(&freed);
                return Err(WindowError::Window(
                    "acquiring the surface's texture failed validation".into(),
                ));
            }
        };
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [gfx.config.width, gfx.config.height],
            pixels_per_point: ppp,
        };
        let view = frame.texture.create_view(&Default::default());
        gfx.draw_frame(&view, &jobs, &screen, &self.c, self.panel_px)?;
        self.drawn += 1;
        let last = self.options.exit_after.is_some_and(|n| self.drawn >= n);
        if last {
            if let Some(path) = &self.options.screenshot {
                let image = if gfx.copyable {
                    gfx.renderer.read_texture(&frame.texture)?
                } else {
                    // The surface cannot be read: the same frame into a texture that can.
                    let texture = device.create_texture(&wgpu::TextureDescriptor {
                        label: Some("screenshot"),
                        size: frame.texture.size(),
                        mip_level_count: 1,
                        sample_count: 1,
                        dimension: wgpu::TextureDimension::D2,
                        format: gfx.config.format,
                        usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                            | wgpu::TextureUsages::COPY_SRC,
                        view_formats: &[],
                    });
                    let v = texture.create_view(&Default::default());
                    gfx.draw_frame(&v, &jobs, &screen, &self.c, self.panel_px)?;
                    gfx.renderer.read_texture(&texture)?
                };
                image.write_png(path)?;
                eprintln!(
                    "{}: {}x{} after {} frames at t = {:.4} s",
                    path.display(),
                    image.width,
                    image.height,
                    self.drawn,
                    self.source.time()
                );
            }
            self.c.quit = true;
        }
        gfx.window.pre_present_notify();
        queue.present(frame);
        gfx.free_textures(&freed);
        Ok(())
    }

    fn key(&mut self, key: &Key) {
        let c = &mut self.c;
        match key {
            Key::Named(NamedKey::Space) => c.playing = !c.playing,
            Key::Named(NamedKey::ArrowRight) => {
                c.playing = false;
                c.step = true;
            }
            Key::Named(NamedKey::Escape) => c.quit = true,
            Key::Character(s) => match s.to_lowercase().as_str() {
                "." => {
                    c.playing = false;
                    c.step = true;
                }
                "+" | "=" => c.faster(2.0),
                "-" => c.faster(0.5),
                "r" => c.reset_view(),
                "x" => c.look_along(0, self.shift),
                "y" => c.look_along(1, self.shift),
                "z" => c.look_along(2, self.shift),
                "w" => c.style.wireframe = !c.style.wireframe,
                "c" => {
                    c.cut_on = !c.cut_on;
                    c.dirty = true;
                }
                "q" => c.quit = true,
                _ => {}
            },
            _ => {}
        }
    }
}

impl Gfx {
    /// The picture (left of the panel) and the panel, into `view`.
    fn draw_frame(
        &mut self,
        view: &wgpu::TextureView,
        jobs: &[egui::ClippedPrimitive],
        screen: &egui_wgpu::ScreenDescriptor,
        c: &Controls,
        panel_px: u32,
    ) -> Result<(), WindowError> {
        let ctx = self.renderer.context();
        let (device, queue) = (ctx.device.clone(), ctx.queue.clone());
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("window frame"),
        });
        let (w, h) = (self.config.width, self.config.height);
        let target = Target {
            colour: view,
            depth: &self.depth,
            size: [w, h],
            viewport: Some([0, 0, w.saturating_sub(panel_px).max(1), h]),
        };
        match &self.drawing {
            Some(d) => self
                .renderer
                .draw(&mut enc, &target, d, &c.camera, c.style)?,
            None => clear(&mut enc, view),
        }
        let extra = self
            .egui_renderer
            .update_buffers(&device, &queue, &mut enc, jobs, screen);
        {
            let pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("egui"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Load,
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            self.egui_renderer
                .render(&mut pass.forget_lifetime(), jobs, screen);
        }
        queue.submit(extra.into_iter().chain([enc.finish()]));
        Ok(())
    }

    fn free_textures(&mut self, ids: &[egui::TextureId]) {
        for id in ids {
            self.egui_renderer.free_texture(id);
        }
    }

    fn resize(&mut self, width: u32, height: u32) {
        if width == 0 || height == 0 {
            return;
        }
        self.config.width = width;
        self.config.height = height;
        self.surface
            .configure(&self.renderer.context().device, &self.config);
        self.depth = self
            .renderer
            .depth_texture([width, height])
            .create_view(&Default::default());
    }
}

/// Clears `view` to the background (before there is a picture).
fn clear(enc: &mut wgpu::CommandEncoder, view: &wgpu::TextureView) {
    let [r, g, b] = crate::render::BACKGROUND.map(f64::from);
    enc.begin_render_pass(&wgpu::RenderPassDescriptor {
        label: Some("clear"),
        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
            view,
            depth_slice: None,
            resolve_target: None,
            ops: wgpu::Operations {
                load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a: 1.0 }),
                store: wgpu::StoreOp::Store,
            },
        })],
        depth_stencil_attachment: None,
        timestamp_writes: None,
        occlusion_query_set: None,
        multiview_mask: None,
    });
}

impl ApplicationHandler for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.gfx.is_some() {
            return;
        }
        match self.open(event_loop) {
            Ok(gfx) => {
                // The panel's width before egui has laid it out (the first view is fitted
                // to what is left of the window).
                self.panel_px = (PANEL_WIDTH as f64 * gfx.window.scale_factor()).round() as u32;
                gfx.window.request_redraw();
                self.gfx = Some(gfx);
                self.last_tick = Instant::now();
            }
            Err(e) => self.fail(event_loop, e),
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        let Some(gfx) = &mut self.gfx else { return };
        let response = gfx.egui_state.on_window_event(&gfx.window, &event);
        if response.repaint {
            gfx.window.request_redraw();
        }
        let over_panel = gfx.egui_ctx.is_pointer_over_egui();
        let wants_keys = gfx.egui_ctx.egui_wants_keyboard_input();
        let height = gfx.config.height as f32;
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => gfx.resize(size.width, size.height),
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw() {
                    self.fail(event_loop, e);
                    return;
                }
            }
            WindowEvent::ModifiersChanged(m) => self.shift = m.state().shift_key(),
            WindowEvent::MouseInput { state, button, .. } => match state {
                ElementState::Pressed if !over_panel && !response.consumed => {
                    self.drag = Some(button);
                }
                ElementState::Released => self.drag = None,
                _ => {}
            },
            WindowEvent::CursorMoved { position, .. } => {
                let p = [position.x, position.y];
                if let (Some(button), Some(q)) = (self.drag, self.cursor) {
                    let (dx, dy) = ((p[0] - q[0]) as f32, (p[1] - q[1]) as f32);
                    match button {
                        MouseButton::Left => self.c.orbit(dx, dy),
                        MouseButton::Right | MouseButton::Middle => self.c.pan(dx, dy, height),
                        _ => {}
                    }
                    gfx.window.request_redraw();
                }
                self.cursor = Some(p);
            }
            WindowEvent::MouseWheel { delta, .. } if !over_panel => {
                let steps = match delta {
                    MouseScrollDelta::LineDelta(_, y) => y,
                    MouseScrollDelta::PixelDelta(p) => p.y as f32 / 40.0,
                };
                self.c.zoom(steps);
                gfx.window.request_redraw();
            }
            WindowEvent::KeyboardInput { event, .. }
                if event.state == ElementState::Pressed && !wants_keys =>
            {
                gfx.window.request_redraw();
                self.key(&event.logical_key);
            }
            _ => {}
        }
        if self.c.quit {
            event_loop.exit();
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        let Some(gfx) = &self.gfx else { return };
        // Playing (or counting frames to a screenshot) draws continuously; otherwise the
        // window waits for input.
        let busy = self.c.playing
            || self.c.step
            || self.c.seek.is_some()
            || self.c.dirty
            || self.options.exit_after.is_some();
        if busy {
            gfx.window.request_redraw();
            event_loop.set_control_flow(ControlFlow::Poll);
        } else {
            event_loop.set_control_flow(ControlFlow::Wait);
        }
    }
}

/// What the panel shows of the source.
struct PanelInfo {
    title: String,
    time: f64,
    end: f64,
    seekable: bool,
}

const PASS: egui::Color32 = egui::Color32::from_rgb(20, 120, 40);
const FAIL: egui::Color32 = egui::Color32::from_rgb(180, 30, 30);

/// The side panel; returns its width (logical pixels).
fn panel(ui: &mut egui::Ui, c: &mut Controls, info: &PanelInfo) -> f32 {
    let response = egui::Panel::right("vesalius")
        .resizable(true)
        .default_size(PANEL_WIDTH)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| panel_contents(ui, c, info));
        });
    response.response.rect.width()
}

fn panel_contents(ui: &mut egui::Ui, c: &mut Controls, info: &PanelInfo) {
    ui.heading("Vesalius");
    ui.small(&info.title);
    ui.monospace(format!("t = {:.4} s of {:.4} s", info.time, info.end));
    ui.horizontal(|ui| {
        if ui
            .button(if c.playing { "Pause" } else { "Play" })
            .on_hover_text("Space")
            .clicked()
        {
            c.playing = !c.playing;
        }
        if ui.button("Step").on_hover_text(". or Right").clicked() {
            c.playing = false;
            c.step = true;
        }
    });
    ui.add(
        egui::Slider::new(&mut c.speed, SPEEDS)
            .logarithmic(true)
            .text("speed (sim s / s)"),
    );
    if info.seekable {
        let mut t = info.time;
        let r = ui.add(egui::Slider::new(&mut t, 0.0..=info.end.max(1e-9)).text("time (s)"));
        if r.changed() {
            c.seek = Some(t);
            c.clock = t;
        }
    }
    ui.separator();

    ui.label(egui::RichText::new("View").strong());
    let before = c.look;
    egui::ComboBox::from_label("field")
        .selected_text(c.look.field.name())
        .show_ui(ui, |ui| {
            for f in Field::ALL {
                ui.selectable_value(&mut c.look.field, f, f.name());
            }
        });
    if let Some((lo, hi)) = c.range {
        colour_bar(ui, c.look.field.title(), lo, hi);
    }
    ui.checkbox(&mut c.style.wireframe, "wireframe (W)");
    let cut_before = (c.cut_on, c.cut_axis, c.cut_offset);
    ui.horizontal(|ui| {
        ui.checkbox(&mut c.cut_on, "cut (C)");
        for (k, name) in ["x", "y", "z"].iter().enumerate() {
            ui.selectable_value(&mut c.cut_axis, k, *name);
        }
    });
    if c.cut_on {
        let r = c.radius;
        ui.add(egui::Slider::new(&mut c.cut_offset, -r..=r).text("cut offset (m)"));
    }
    ui.checkbox(&mut c.look.pins, "pinned, attached vertices");
    ui.add(egui::Slider::new(&mut c.look.force_scale, 0.0..=0.2).text("force arrows (m/N)"));
    if c.look != before || (c.cut_on, c.cut_axis, c.cut_offset) != cut_before {
        c.dirty = true;
    }
    ui.horizontal(|ui| {
        if ui.button("Reset view").on_hover_text("R").clicked() {
            c.reset_view();
        }
        if ui.checkbox(&mut c.ortho, "ortho").changed() {
            c.apply_projection();
        }
    });
    ui.horizontal(|ui| {
        for (k, name) in ["X", "Y", "Z"].iter().enumerate() {
            if ui.button(format!("+{name}")).clicked() {
                c.look_along(k, false);
            }
            if ui.button(format!("-{name}")).clicked() {
                c.look_along(k, true);
            }
        }
    });
    ui.separator();

    let readings = &c.readings;
    if !readings.forces.is_empty() {
        ui.label(egui::RichText::new("Forces on the tools").strong());
        for f in &readings.forces {
            let [x, y, z] = f.force;
            let m = (x * x + y * y + z * z).sqrt();
            ui.monospace(format!("{}: {m:.4} N", f.body));
            ui.monospace(format!("  ({x:+.3}, {y:+.3}, {z:+.3})"));
        }
    }
    if let Some(n) = &readings.needle {
        ui.label(egui::RichText::new("Needle").strong());
        ui.monospace(format!("depth {:.2} mm", n.depth * 1e3));
        ui.monospace(format!(
            "tip in {}",
            n.region.as_deref().unwrap_or("(outside)")
        ));
        ui.monospace(format!("axial force {:.4} N", n.axial_force));
    }
    if readings.series.iter().any(|l| !l.points.is_empty()) {
        ui.label(egui::RichText::new("Force (N) against time (s)").strong());
        force_strip(ui, &readings.series, &readings.events, info.end, info.time);
    }
    if !readings.events.is_empty() {
        ui.label(egui::RichText::new("Events").strong());
        egui::ScrollArea::vertical()
            .id_salt("events")
            .max_height(160.0)
            .show(ui, |ui| {
                for e in &readings.events {
                    ui.monospace(format!("{:8.4} s  {}", e.time, e.text));
                }
            });
    }
    if let Some(v) = &readings.verdict {
        let (text, colour) = if v.passed {
            ("success", PASS)
        } else {
            ("failure", FAIL)
        };
        // A run still going has a verdict on its frames so far only.
        let so_far = v.time < info.end - 1e-9;
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new("Verdict").strong());
            ui.colored_label(colour, text);
            if so_far {
                ui.small(format!("(so far: to {:.3} s)", v.time));
            }
        });
        for check in &v.checks {
            let colour = if check.passed { PASS } else { FAIL };
            ui.colored_label(
                colour,
                format!(
                    "[{}] {}",
                    if check.passed { "pass" } else { "FAIL" },
                    check.text
                ),
            );
        }
    }
    for n in &readings.notes {
        ui.small(n);
    }
    if let Some(m) = &c.message {
        ui.colored_label(FAIL, m);
    }
    ui.separator();
    ui.collapsing("Mouse and keys", |ui| {
        ui.small("left drag: orbit; right or middle drag: pan; wheel: zoom");
        ui.small("Space play/pause, . or Right one frame, + - speed");
        ui.small("R reset view, X Y Z along the axes (Shift: from the other side)");
        ui.small("W wireframe, C cut, Esc or Q quit");
    });
}

/// The colour map's ramp with the field's name and units and the range's ends.
fn colour_bar(ui: &mut egui::Ui, title: &str, lo: f32, hi: f32) {
    ui.small(title);
    let width = ui.available_width().min(260.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 14.0), egui::Sense::hover());
    let mut mesh = egui::Mesh::default();
    const STEPS: usize = 32;
    for i in 0..=STEPS {
        let s = i as f32 / STEPS as f32;
        let [r, g, b] = sample(s).map(|v| (v * 255.0).round() as u8);
        let colour = egui::Color32::from_rgb(r, g, b);
        let x = rect.left() + s * rect.width();
        mesh.colored_vertex(egui::pos2(x, rect.top()), colour);
        mesh.colored_vertex(egui::pos2(x, rect.bottom()), colour);
        if i > 0 {
            let k = 2 * i as u32;
            mesh.add_triangle(k - 2, k - 1, k);
            mesh.add_triangle(k - 1, k + 1, k);
        }
    }
    ui.painter().add(egui::Shape::mesh(mesh));
    ui.horizontal(|ui| {
        ui.monospace(crate::colour_bar::label(lo));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.monospace(crate::colour_bar::label(hi));
        });
    });
}

/// Colours of the force strip's lines, in turn.
const SERIES_COLOURS: [egui::Color32; 4] = [
    egui::Color32::from_rgb(31, 119, 180),
    egui::Color32::from_rgb(214, 39, 40),
    egui::Color32::from_rgb(44, 160, 44),
    egui::Color32::from_rgb(148, 103, 189),
];
const EVENT_COLOUR: egui::Color32 = egui::Color32::from_rgb(230, 130, 20);
const STRIP_HEIGHT: f32 = 110.0;

/// Where the force strip puts a `[time, force]`: time over `[0, end]` left to right, force
/// over `[min(0, least), greatest]` (a tenth more above) bottom to top.
#[derive(Clone, Copy, Debug, PartialEq)]
struct StripScale {
    end: f64,
    low: f64,
    high: f64,
}

impl StripScale {
    fn of(lines: &[SeriesLine], end: f64) -> Self {
        let values = lines.iter().flat_map(|l| l.points.iter().map(|p| p[1]));
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let span = (hi - lo).max(1e-6);
        let last = lines
            .iter()
            .filter_map(|l| l.points.last().map(|p| p[0]))
            .fold(0.0, f64::max);
        Self {
            end: end.max(last).max(1e-9),
            low: lo - if lo < 0.0 { 0.1 * span } else { 0.0 },
            high: hi + 0.1 * span,
        }
    }

    fn at(&self, rect: egui::Rect, [t, f]: [f64; 2]) -> egui::Pos2 {
        let x = rect.left() + rect.width() * (t / self.end).clamp(0.0, 1.0) as f32;
        let s = ((f - self.low) / (self.high - self.low)).clamp(0.0, 1.0);
        egui::pos2(x, rect.bottom() - rect.height() * s as f32)
    }
}

/// The force strip: each line, the events as vertical marks (their text on hover), the time
/// shown as a vertical line, the force range at the left.
fn force_strip(ui: &mut egui::Ui, lines: &[SeriesLine], events: &[EventLine], end: f64, now: f64) {
    let width = ui.available_width().min(300.0);
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(width, STRIP_HEIGHT), egui::Sense::hover());
    let scale = StripScale::of(lines, end);
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(250));
    let grey = egui::Stroke::new(1.0, egui::Color32::from_gray(170));
    let zero = scale.at(rect, [0.0, 0.0]).y;
    painter.hline(rect.x_range(), zero, grey);
    let mut hovered = None;
    for e in events {
        let x = scale.at(rect, [e.time, 0.0]).x;
        painter.vline(x, rect.y_range(), egui::Stroke::new(1.0, EVENT_COLOUR));
        if let Some(p) = response.hover_pos() {
            if (p.x - x).abs() < 3.0 {
                hovered = Some(e);
            }
        }
    }
    for (k, line) in lines.iter().enumerate() {
        let points: Vec<egui::Pos2> = line
            .points
            .iter()
            .filter(|p| p[1].is_finite())
            .map(|&p| scale.at(rect, p))
            .collect();
        let colour = SERIES_COLOURS[k % SERIES_COLOURS.len()];
        painter.add(egui::Shape::line(points, egui::Stroke::new(1.5, colour)));
    }
    let x = scale.at(rect, [now, 0.0]).x;
    painter.vline(
        x,
        rect.y_range(),
        egui::Stroke::new(1.0, egui::Color32::DARK_GRAY),
    );
    let font = egui::FontId::monospace(10.0);
    let ink = egui::Color32::from_gray(60);
    painter.text(
        rect.left_top() + egui::vec2(2.0, 1.0),
        egui::Align2::LEFT_TOP,
        format!("{:.3}", scale.high),
        font.clone(),
        ink,
    );
    painter.text(
        rect.left_bottom() + egui::vec2(2.0, -1.0),
        egui::Align2::LEFT_BOTTOM,
        format!("{:.3}", scale.low),
        font.clone(),
        ink,
    );
    painter.text(
        rect.right_bottom() + egui::vec2(-2.0, -1.0),
        egui::Align2::RIGHT_BOTTOM,
        format!("{:.2} s", scale.end),
        font,
        ink,
    );
    if let Some(e) = hovered {
        response.on_hover_text(format!("{:.4} s  {}", e.time, e.text));
    }
    ui.horizontal_wrapped(|ui| {
        for (k, line) in lines.iter().enumerate() {
            ui.colored_label(SERIES_COLOURS[k % SERIES_COLOURS.len()], &line.name);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: &[[f64; 2]]) -> SeriesLine {
        SeriesLine {
            name: "f".into(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn the_strip_spans_the_run_and_the_force_range_with_zero_in_view() {
        let rect = egui::Rect::from_min_size(egui::pos2(10.0, 20.0), egui::vec2(200.0, 100.0));
        // A press to 0.5 N and a pull to -0.1 N over a 2 s run shown to 1.5 s.
        let lines = [line(&[[0.0, 0.0], [0.5, 0.5], [1.0, -0.1], [1.5, 0.2]])];
        let s = StripScale::of(&lines, 2.0);
        assert_eq!(s.end, 2.0);
        assert!(
            (s.high - 0.56).abs() < 1e-12 && (s.low + 0.16).abs() < 1e-12,
            "{s:?}"
        );
        let peak = s.at(rect, [0.5, 0.5]);
        let pull = s.at(rect, [1.0, -0.1]);
        let zero = s.at(rect, [0.0, 0.0]);
        assert_eq!(zero.x, 10.0);
        assert_eq!(s.at(rect, [2.0, 0.0]).x, 210.0);
        assert!(rect.contains(peak) && rect.contains(pull));
        assert!(
            peak.y < zero.y && zero.y < pull.y,
            "{peak:?} {zero:?} {pull:?}"
        );
        // The peak sits a tenth of the span below the top; all-positive forces keep zero at
        // the bottom edge.
        assert!(
            (peak.y - (20.0 + 100.0 * 0.06 / 0.72)).abs() < 1e-3,
            "{peak:?}"
        );
        let s = StripScale::of(&[line(&[[0.0, 0.0], [3.0, 2.0]])], 2.0);
        assert_eq!(
            s.end, 3.0,
            "a run longer than the scene asked for stays in view"
        );
        assert_eq!(s.at(rect, [1.0, 0.0]).y, rect.bottom());
        // No points, or a NaN, still give a finite scale.
        let s = StripScale::of(&[line(&[[0.1, f64::NAN]])], 0.0);
        assert!(s.high > s.low && s.end > 0.0, "{s:?}");
    }
}

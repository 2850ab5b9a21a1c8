//! The renderer against what a picture of a known shape must show: a block seen from above
//! in an orthographic view covers its projected area, its top face has its region's colour,
//! and a field that is linear across it is drawn as the colour map's own ramp.

use vesalius_engine::gpu::GpuContext;
use vesalius_engine::mesh::generate::box_grid;
use vesalius_engine::mesh::RegionId;
use vesalius_engine::model::{Material, Model, ModelBuilder};
use vesalius_viewer::render::BACKGROUND;
use vesalius_viewer::{
    colour, Camera, CutPlane, Field, Image, Renderer, Style, Surface, Target, ViewerError,
};

/// The device, or `None` (test skipped) when there is none and `VESALIUS_REQUIRE_GPU` is
/// unset; with it set, no adapter fails the test.
fn renderer() -> Option<Renderer> {
    match GpuContext::new(None) {
        Ok(ctx) => Some(Renderer::new(ctx).expect("pipeline")),
        Err(e) => {
            if std::env::var("VESALIUS_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("VESALIUS_REQUIRE_GPU=1 but no GPU adapter: {e}");
            }
            eprintln!("skipping: no GPU adapter ({e})");
            None
        }
    }
}

/// The mesh of a 40 x 40 x 20 mm block of 8 x 8 x 4 cubes (5 mm), centred on the z axis,
/// top at z = 0.02.
fn block_mesh() -> vesalius_engine::mesh::TetMesh {
    box_grid([8, 8, 4], [0.04, 0.04, 0.02], [-0.02, -0.02, 0.0])
}

/// A model of `mesh` in soft tissue, with `pins`.
fn soft(mesh: vesalius_engine::mesh::TetMesh, pins: &[vesalius_engine::model::PinSet]) -> Model {
    let mut b = ModelBuilder::new(mesh).default_material(Material {
        youngs_modulus: 1.0e4,
        poisson_ratio: 0.45,
        density: 1000.0,
        damping: 0.0,
    });
    for p in pins {
        b = b.pin(p.clone());
    }
    b.build().unwrap()
}

/// The block, unpinned.
fn block() -> Model {
    soft(block_mesh(), &[])
}

const SIZE: u32 = 200;
const HALF: f32 = 0.03; // the view spans 60 mm

/// Straight down, orthographic, image x along world x and image up along world y.
fn top_view() -> Camera {
    Camera {
        target: [0.0, 0.0, 0.01],
        distance: 0.1,
        azimuth_deg: -90.0,
        elevation_deg: 90.0,
        projection: vesalius_viewer::camera::Projection::Perspective { fov_deg: 35.0 },
    }
    .orthographic(HALF)
}

fn to_u8(c: [f32; 3]) -> [u8; 3] {
    c.map(|x| (x * 255.0).round() as u8)
}

fn is_background(img: &Image, x: u32, y: u32) -> bool {
    let p = img.pixel(x, y);
    let b = to_u8(BACKGROUND);
    (0..3).all(|k| p[k].abs_diff(b[k]) <= 1)
}

fn close(a: [u8; 4], b: [u8; 3], tol: u8) -> bool {
    (0..3).all(|k| a[k].abs_diff(b[k]) <= tol)
}

#[test]
fn top_view_covers_the_projected_area_in_the_region_colour() {
    let Some(r) = renderer() else { return };
    let model = block();
    let surface = Surface::new(&model, &model.state(), Field::Region).unwrap();
    let img = r.render(&surface, &top_view(), [SIZE, SIZE]).unwrap();
    let covered = (0..SIZE)
        .flat_map(|y| (0..SIZE).map(move |x| (x, y)))
        .filter(|&(x, y)| !is_background(&img, x, y))
        .count();
    // 40 mm of 60 mm on each side: the pixels whose centres fall inside a square of
    // 133.3 pixels, 134 a side (centres 33.5 ..= 166.5); a pixel row of slack for the
    // rasterizer's rounding on the edges.
    let half_px = SIZE as f64 * 0.02 / (2.0 * HALF as f64);
    let side = (0..SIZE)
        .filter(|&c| (c as f64 + 0.5 - SIZE as f64 / 2.0).abs() <= half_px)
        .count();
    let expected = side * side;
    eprintln!("covered {covered} pixels, expected {expected} ({side} a side)");
    assert!(
        covered.abs_diff(expected) <= side,
        "covered {covered} pixels against {expected}"
    );
    // The top face looks straight at the camera: the region's colour, unshaded.
    let centre = img.pixel(SIZE / 2, SIZE / 2);
    let want = to_u8(colour::region_colour(
        &[model.tet_region[0]],
        model.tet_region[0],
    ));
    assert!(
        close(centre, want, 1),
        "centre {centre:?}, region colour {want:?}"
    );
    // Nothing outside the block's square: the corners are background.
    for (x, y) in [(0, 0), (SIZE - 1, 0), (0, SIZE - 1), (SIZE - 1, SIZE - 1)] {
        assert!(
            is_background(&img, x, y),
            "corner ({x}, {y}) is {:?}",
            img.pixel(x, y)
        );
    }
}

#[test]
fn a_linear_field_is_drawn_as_the_colour_ramp() {
    let Some(r) = renderer() else { return };
    let model = block();
    // |u| = 1e-6 (x + 20 mm): from 0 on the left face to 4e-8 m on the right, small enough
    // that the top stays flat. The vertices sit at the map's knots (x every 5 mm, 1/8 of
    // the range), so the interpolated colours are the piecewise-linear map itself.
    let mut state = model.state();
    for (u, p) in state.displacements.iter_mut().zip(&model.rest_positions) {
        *u = [0.0, 0.0, 1e-6 * (p[0] + 0.02)];
    }
    let surface = Surface::new(&model, &state, Field::Displacement).unwrap();
    let (lo, hi) = surface.range().unwrap();
    assert!(
        lo.abs() < 1e-12 && (hi - 4e-8).abs() < 1e-12,
        "range {lo} .. {hi}"
    );
    let img = r.render(&surface, &top_view(), [SIZE, SIZE]).unwrap();
    let row = SIZE / 2 + 7; // off the centre line, inside a cell
    let mut checked = 0;
    for c in 70..130 {
        let x = -HALF + (c as f32 + 0.5) * (2.0 * HALF / SIZE as f32);
        if x.abs() > 0.0195 {
            continue;
        }
        let want = to_u8(colour::sample((x + 0.02) / 0.04));
        let got = img.pixel(c, row);
        assert!(
            close(got, want, 2),
            "column {c} (x = {x}): {got:?}, map {want:?}"
        );
        checked += 1;
    }
    assert!(checked > 50);
}

#[test]
fn renders_are_deterministic_and_a_perspective_view_sees_the_block() {
    let Some(r) = renderer() else { return };
    let model = block();
    let surface = Surface::new(&model, &model.state(), Field::GreenStrain).unwrap();
    let camera = Camera::fit(surface.bounds(), 30.0, 25.0);
    let a = r.render(&surface, &camera, [160, 120]).unwrap();
    let b = r.render(&surface, &camera, [160, 120]).unwrap();
    assert_eq!(a, b);
    assert!(!is_background(&a, 80, 60));
    assert!(is_background(&a, 0, 0));
    let path = std::env::temp_dir().join(format!("vesalius-viewer-{}.png", std::process::id()));
    a.write_png(&path).unwrap();
    let decoded = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut reader = decoded.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (160, 120));
    assert_eq!(&buf[..info.buffer_size()], &a.rgba[..]);
    std::fs::remove_file(&path).ok();
}

#[test]
fn bad_input_is_refused() {
    let model = block();
    let mut state = model.state();
    state.displacements.pop();
    assert!(matches!(
        Surface::new(&model, &state, Field::Region),
        Err(ViewerError::StateMismatch { .. })
    ));
    let mut state = model.state();
    state.displacements[3][1] = f32::NAN;
    assert!(matches!(
        Surface::new(&model, &state, Field::Displacement),
        Err(ViewerError::NonFinite { vertex: 3, .. })
    ));
    let Some(r) = renderer() else { return };
    let surface = Surface::new(&model, &model.state(), Field::Region).unwrap();
    assert!(matches!(
        r.render(&surface, &top_view(), [0, 10]),
        Err(ViewerError::Size { .. })
    ));
    let mut cam = top_view();
    cam.distance = 0.0;
    assert!(matches!(
        r.render(&surface, &cam, [10, 10]),
        Err(ViewerError::Camera(_))
    ));
}

/// The section's area: the sum of its triangles' areas.
fn section_area(s: &Surface) -> f64 {
    s.section
        .iter()
        .map(|t| {
            let [a, b, c] = t.corners.map(|p| glam::DVec3::from(p.map(f64::from)));
            0.5 * (b - a).cross(c - a).length()
        })
        .sum()
}

#[test]
fn a_cut_shows_the_inside() {
    // A region inside the block, away from its surface: tets within 8 mm of its centre.
    let mut mesh = block_mesh();
    for t in 0..mesh.tets.len() {
        let c = mesh.tet_centroid(t).unwrap();
        let r = (c[0].powi(2) + c[1].powi(2) + (c[2] - 0.01).powi(2)).sqrt();
        mesh.regions[t] = RegionId(if r < 0.008 { 2 } else { 1 });
    }
    let model = soft(mesh, &[]);
    let state = model.state();
    // The sections of a box are its exact cross-sections: 40 x 20 mm across x, and
    // 40 sqrt(2) x 20 mm on the diagonal.
    let across = CutPlane::new([1.0, 0.0, 0.0], [0.0, 0.0, 0.0]).unwrap();
    let s = Surface::cut(&model, &state, Field::Region, across).unwrap();
    assert!(
        (section_area(&s) / 8.0e-4 - 1.0).abs() < 1e-5,
        "{}",
        section_area(&s)
    );
    let diagonal = CutPlane::new([1.0, 1.0, 0.0], [0.001, 0.0, 0.0]).unwrap();
    let d = Surface::cut(&model, &state, Field::Displacement, diagonal).unwrap();
    // Through (1 mm, 0, 0) on the diagonal: the line x + y = 1 mm crosses the 40 mm square
    // in a chord of length sqrt(2) (40 mm - 1 mm).
    let expected = 0.02 * 2f64.sqrt() * (0.04 - 0.001);
    assert!(
        (section_area(&d) / expected - 1.0).abs() < 1e-4,
        "{} vs {expected}",
        section_area(&d)
    );
    assert!(CutPlane::new([0.0; 3], [0.0; 3]).is_none());

    let Some(r) = renderer() else { return };
    // Seen from +x, orthographic: the centre pixel is the outer region on the whole block
    // and the inner region on the cut one, both lit alike (normal +x).
    let side = Camera {
        target: [0.0, 0.0, 0.01],
        distance: 0.1,
        azimuth_deg: 0.0,
        elevation_deg: 0.0,
        projection: vesalius_viewer::camera::Projection::Perspective { fov_deg: 35.0 },
    }
    .orthographic(HALF);
    let light = side.light();
    let shade = 0.35 + 0.65 * light.dot(glam::Vec3::X).abs();
    let regions = [RegionId(1), RegionId(2)];
    let lit = |r: RegionId| to_u8(colour::region_colour(&regions, r).map(|c| c * shade));
    let whole = r
        .render(
            &Surface::new(&model, &state, Field::Region).unwrap(),
            &side,
            [SIZE, SIZE],
        )
        .unwrap();
    let cut = r.render(&s, &side, [SIZE, SIZE]).unwrap();
    let (got_whole, got_cut) = (
        whole.pixel(SIZE / 2, SIZE / 2),
        cut.pixel(SIZE / 2, SIZE / 2),
    );
    assert!(
        close(got_whole, lit(RegionId(1)), 2),
        "whole {got_whole:?} vs {:?}",
        lit(RegionId(1))
    );
    assert!(
        close(got_cut, lit(RegionId(2)), 2),
        "cut {got_cut:?} vs {:?}",
        lit(RegionId(2))
    );
}

#[test]
fn a_frame_read_back_draws_as_the_state_it_was_written_from() {
    // A deformed state (a shear and a stretch), written as `vesalius run` writes frames,
    // read back through the .pvd and drawn: the same picture as the state itself.
    let model = block();
    let mut state = model.state();
    for (u, p) in state.displacements.iter_mut().zip(&model.rest_positions) {
        *u = [0.2 * p[2], 0.0, 0.1 * p[2]];
    }
    let dir = std::env::temp_dir().join(format!("vesalius-viewer-frame-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut writer = vesalius_engine::output::FrameWriter::create(&dir, false).unwrap();
    writer.write_frame(&model, &model.state()).unwrap();
    state.time = 0.5;
    writer.write_frame(&model, &state).unwrap();
    let index = std::fs::read(dir.join(vesalius_engine::output::PVD_NAME)).unwrap();
    let frames = vesalius_engine::mesh::vtu::parse_pvd(&index).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].0, 0.5);
    let data = std::fs::read(dir.join(&frames[1].1)).unwrap();
    let frame = vesalius_engine::mesh::vtu::parse_vtu_frame(&data).unwrap();
    for field in [Field::Region, Field::Displacement, Field::GreenStrain] {
        let from_state = Surface::new(&model, &state, field).unwrap();
        let from_file = Surface::from_frame(&frame, field, None).unwrap();
        assert_eq!(from_state.triangles.len(), from_file.triangles.len());
        let (a, b) = (from_state.range(), from_file.range());
        if let (Some(a), Some(b)) = (a, b) {
            assert!((a.0 - b.0).abs() <= 1e-6 * b.1.abs() && (a.1 - b.1).abs() <= 1e-6 * b.1.abs());
        }
        let Some(r) = renderer() else { continue };
        let camera = Camera::fit(from_state.bounds(), 30.0, 25.0);
        let x = r.render(&from_state, &camera, [120, 90]).unwrap();
        let y = r.render(&from_file, &camera, [120, 90]).unwrap();
        let differing = x
            .rgba
            .chunks(4)
            .zip(y.rgba.chunks(4))
            .filter(|(p, q)| (0..3).any(|k| p[k].abs_diff(q[k]) > 1));
        assert_eq!(differing.count(), 0, "{}", field.name());
    }
    assert!(matches!(
        Surface::from_frame(&frame, Field::MaxStretch, None).map(|_| ()),
        Ok(())
    ));
    let mut bare = frame.clone();
    bare.point_data.clear();
    assert!(matches!(
        Surface::from_frame(&bare, Field::Displacement, None),
        Err(ViewerError::MissingArray(_))
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_robot_is_drawn_from_its_urdf_where_its_links_are() {
    use vesalius_robot::prelude::{load_str, LoadOptions};
    use vesalius_viewer::solids::{LINK_COLOUR, TOOL_COLOUR};
    // A box tool link (20 x 10 x 5 mm, centred at x = 5 mm, 40 mm up) and a cylinder link
    // (radius 4 mm along z) above the block, seen straight down: their tops cover their
    // projected areas in their colours, unshaded, in front of the tissue.
    let urdf = r#"<robot name="r">
      <link name="base"/>
      <link name="probe"><visual><origin xyz="0.005 0 0.04"/><geometry><box size="0.02 0.01 0.005"/></geometry></visual></link>
      <link name="post"><collision><origin xyz="-0.012 0.01 0.035"/><geometry><cylinder radius="0.004" length="0.01"/></geometry></collision></link>
      <joint name="j1" type="fixed"><parent link="base"/><child link="probe"/></joint>
      <joint name="j2" type="fixed"><parent link="base"/><child link="post"/></joint>
    </robot>"#;
    let robot = load_str(urdf, None, &LoadOptions::default()).unwrap();
    let poses = robot.link_poses(&robot.neutral_configuration()).unwrap();
    let probe = robot.link_id("probe").unwrap();
    let (solids, problems) = vesalius_viewer::robot_solids(&robot, &poses, &[probe]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(solids.len(), 2); // the base has no geometry
    let Some(r) = renderer() else { return };
    let model = block();
    let surface = Surface::new(&model, &model.state(), Field::Region).unwrap();
    let img = r
        .render_with(&surface, &solids, &top_view(), [SIZE, SIZE])
        .unwrap();
    let count = |c: [f32; 3]| {
        let want = to_u8(c);
        img.rgba
            .chunks(4)
            .filter(|p| close([p[0], p[1], p[2], p[3]], want, 1))
            .count() as f64
    };
    let px = 2.0 * HALF as f64 / SIZE as f64; // m per pixel
    let (tool, post) = (count(TOOL_COLOUR), count(LINK_COLOUR));
    let tool_expected = 0.02 * 0.01 / (px * px);
    let post_expected = std::f64::consts::PI * 0.004f64.powi(2) / (px * px);
    eprintln!("tool {tool} px ({tool_expected:.0}), post {post} px ({post_expected:.0})");
    assert!(
        (tool / tool_expected - 1.0).abs() < 0.05,
        "tool {tool} against {tool_expected}"
    );
    assert!(
        (post / post_expected - 1.0).abs() < 0.08,
        "post {post} against {post_expected}"
    );
}

#[test]
fn pinned_vertices_are_marked_where_they_are() {
    use vesalius_engine::model::PinSet;
    use vesalius_viewer::solids::{vertex_markers, PIN_COLOUR};
    let model = soft(
        block_mesh(),
        &[PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: 0.0,
        }],
    );
    assert_eq!(model.pinned.len(), 81); // the 9 x 9 vertices of the bottom face
    let surface = Surface::new(&model, &model.state(), Field::Region).unwrap();
    let pins = vertex_markers(&surface.positions, &model.pinned, 0.001, PIN_COLOUR);
    assert_eq!(pins.triangles.len(), 8 * 81);
    let Some(r) = renderer() else { return };
    // Straight up from below, orthographic: image x along world x, image down along +y.
    let below = Camera {
        elevation_deg: -90.0,
        ..top_view()
    };
    let img = r
        .render_with(&surface, &[pins], &below, [SIZE, SIZE])
        .unwrap();
    let bare = r.render(&surface, &below, [SIZE, SIZE]).unwrap();
    let px = 2.0 * HALF / SIZE as f32;
    for &v in &model.pinned {
        let p = model.rest_positions[v as usize];
        let col = (((p[0] + HALF) / px) as u32).min(SIZE - 1);
        let row = (((p[1] + HALF) / px) as u32).min(SIZE - 1);
        let (m, t) = (img.pixel(col, row), bare.pixel(col, row));
        assert!(
            (0..3).all(|k| m[k] < 60) && (0..3).any(|k| t[k] > 60),
            "vertex {v} at ({col}, {row}): marked {m:?}, bare {t:?}"
        );
    }
}

/// A window's surface is often BGRA: the same pipeline for that format draws the same
/// picture, and reading it back gives the same RGBA image.
#[test]
fn a_bgra_target_draws_the_same_picture() {
    let Some(r) = renderer() else { return };
    let bgra = Renderer::with_format(r.context().clone(), wgpu::TextureFormat::Bgra8Unorm)
        .expect("pipeline");
    let model = block();
    let surface = Surface::new(&model, &model.state(), Field::Region).unwrap();
    let camera = Camera::fit(surface.bounds(), 30.0, 25.0);
    let a = r.render(&surface, &camera, [120, 90]).unwrap();
    let b = bgra.render(&surface, &camera, [120, 90]).unwrap();
    assert_eq!(a, b);
}

/// Drawing into part of a target (the window's view beside its panel): the picture fills
/// the viewport as a whole image of that size would, the rest is background.
#[test]
fn a_viewport_holds_the_picture_of_its_size() {
    let Some(r) = renderer() else { return };
    let model = block();
    let surface = Surface::new(&model, &model.state(), Field::Region).unwrap();
    let camera = top_view();
    let whole = r.render(&surface, &camera, [SIZE, SIZE]).unwrap();
    let ctx = r.context();
    let colour = ctx.device.create_texture(&wgpu::TextureDescriptor {
        label: None,
        size: wgpu::Extent3d {
            width: SIZE + 60,
            height: SIZE,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: r.format(),
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let depth = r.depth_texture([SIZE + 60, SIZE]);
    let (cv, dv) = (
        colour.create_view(&Default::default()),
        depth.create_view(&Default::default()),
    );
    let drawing = r.upload(&surface, &[]).unwrap();
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    let target = Target {
        colour: &cv,
        depth: &dv,
        size: [SIZE + 60, SIZE],
        viewport: Some([0, 0, SIZE, SIZE]),
    };
    r.draw(&mut enc, &target, &drawing, &camera, Style::default())
        .unwrap();
    ctx.queue.submit([enc.finish()]);
    let img = r.read_texture(&colour).unwrap();
    for y in 0..SIZE {
        for x in 0..SIZE + 60 {
            if x < SIZE {
                assert_eq!(img.pixel(x, y), whole.pixel(x, y), "({x}, {y})");
            } else {
                assert!(is_background(&img, x, y), "({x}, {y}) right of the view");
            }
        }
    }
    // A viewport past the target is refused.
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    let bad = Target {
        viewport: Some([100, 0, SIZE, SIZE]),
        ..target
    };
    assert!(matches!(
        r.draw(&mut enc, &bad, &drawing, &camera, Style::default()),
        Err(ViewerError::Size { .. })
    ));
}

/// The wireframe darkens the surface triangles' edges and nothing else: the top of the
/// block seen from above keeps its colour inside the triangles and is darker on the
/// 5 mm grid lines.
#[test]
fn the_wireframe_darkens_the_edges() {
    let Some(r) = renderer() else { return };
    let model = block();
    let surface = Surface::new(&model, &model.state(), Field::Region).unwrap();
    let plain = r.render(&surface, &top_view(), [SIZE, SIZE]).unwrap();
    let wire = r
        .render_styled(
            &surface,
            &[],
            &top_view(),
            Style { wireframe: true },
            [SIZE, SIZE],
        )
        .unwrap();
    let dark = |p: [u8; 4], q: [u8; 4]| (0..3).all(|k| p[k] < q[k]);
    let (mut darker, mut same) = (0, 0);
    for y in 40..160 {
        for x in 40..160 {
            let (p, q) = (wire.pixel(x, y), plain.pixel(x, y));
            if p == q {
                same += 1;
            } else {
                assert!(dark(p, q), "({x}, {y}): {p:?} over {q:?}");
                darker += 1;
            }
        }
    }
    // Grid lines every 5 mm (16.7 px), and the cells' diagonals: a fair share of lines,
    // most pixels untouched.
    eprintln!("{darker} pixels darker, {same} the same");
    assert!(darker > 1000 && same > 6000, "{darker} darker, {same} same");
    // Off the block nothing changes.
    assert_eq!(wire.pixel(5, 5), plain.pixel(5, 5));
}

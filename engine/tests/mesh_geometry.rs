//! Generators, validation, quality, boundary surface, the VTU frame writer and MeshInfo.

use vesalius_engine::mesh::RegionId;
use vesalius_engine::mesh::{
    self, boundary_triangles, generate, validate, IssueKind, MeshError, MeshInfo, TetMesh,
    ValidateOptions,
};

mod common;

/// Checks that the boundary is closed (every edge in exactly two triangles, used once in
/// each direction) and returns the volume it encloses (divergence theorem).
fn closed_surface_volume(m: &TetMesh) -> f64 {
    let tris = boundary_triangles(&m.tets);
    assert!(!tris.is_empty());
    let mut edges = std::collections::HashMap::new();
    for t in &tris {
        for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
            *edges.entry((a, b)).or_insert(0) += 1;
        }
    }
    for (&(a, b), &n) in &edges {
        assert_eq!(n, 1, "directed edge {a}-{b} used {n} times");
        assert_eq!(
            edges.get(&(b, a)),
            Some(&1),
            "edge {a}-{b} not shared by 2 triangles"
        );
    }
    tris.iter()
        .map(|t| {
            let [a, b, c] = t.map(|i| m.positions[i as usize]);
            mesh::signed_volume([0.0; 3], a, b, c)
        })
        .sum()
}

#[test]
fn box_grid_volume_orientation_and_closed_surface() {
    let m = generate::box_grid([3, 2, 4], [0.3, 0.02, 0.004], [1.0, -2.0, 0.5]);
    assert_eq!(m.positions.len(), 4 * 3 * 5);
    assert_eq!(m.tets.len(), 6 * 3 * 2 * 4);
    for i in 0..m.tets.len() {
        assert!(m.tet_volume(i).unwrap() > 0.0);
    }
    let v = 0.3 * 0.02 * 0.004;
    assert!((m.total_volume() - v).abs() < 1e-12 * v);
    let s = closed_surface_volume(&m);
    assert!((s - m.total_volume()).abs() < 1e-9 * v, "{s}");
    // 2 triangles per boundary square.
    assert_eq!(
        boundary_triangles(&m.tets).len(),
        4 * (3 * 2 + 2 * 4 + 3 * 4)
    );
    let mut m = m;
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    assert!(r.errors.is_empty() && r.warnings.is_empty() && r.flipped == 0);
    let (_, q) = mesh::quality(&m);
    assert!((q.max_dihedral_deg - 90.0).abs() < 1e-6 || q.max_dihedral_deg > 90.0);
    assert_eq!(boundary_triangles(&m.tets), boundary_triangles(&m.tets));
}

#[test]
fn layered_limb_regions_volumes_and_surface() {
    let p = generate::LimbParams {
        n_theta: 24,
        n_z: 3,
        radial_size: 0.005,
        ..Default::default()
    };
    let mut m = generate::layered_limb(&p);
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    assert_eq!(r.flipped, 0);
    assert!(
        r.errors.is_empty() && r.warnings.is_empty(),
        "{:?}",
        r.warnings
    );
    for i in 0..m.tets.len() {
        assert!(m.tet_volume(i).unwrap() > 0.0);
    }
    let stats = mesh::region_stats(&m);
    assert_eq!(stats.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(m.region_name(RegionId(4)), Some("vein"));
    // Exact volumes of the polygonal cross-sections: shoelace area of the ring vertices.
    let poly = |r: f64| {
        let mut ring: Vec<[f64; 3]> = m
            .positions
            .iter()
            .filter(|p| p[2] == 0.0 && (p[0].hypot(p[1]) - r).abs() < 1e-12)
            .copied()
            .collect();
        assert!(ring.len() >= 24, "ring {r}: {}", ring.len());
        ring.sort_by(|a, b| a[1].atan2(a[0]).total_cmp(&b[1].atan2(b[0])));
        let n = ring.len();
        let area: f64 = (0..n)
            .map(|i| {
                let (a, b) = (ring[i], ring[(i + 1) % n]);
                0.5 * (a[0] * b[1] - a[1] * b[0])
            })
            .sum();
        area * 0.1
    };
    let total = m.total_volume();
    assert!((total - poly(0.035)).abs() < 1e-9 * total, "{total}");
    let circle = std::f64::consts::PI * 0.035f64.powi(2) * 0.1;
    assert!((total / circle - 1.0).abs() < 0.02, "{total} vs {circle}");
    let skin = stats[&RegionId(1)].volume;
    assert!((skin - (poly(0.035) - poly(0.033))).abs() < 1e-9 * total);
    let muscle = stats[&RegionId(3)].volume;
    assert!((muscle - poly(0.024)).abs() < 1e-9 * total);
    // Vein: one cell column of the 26..31 mm ring with the vein's cross-section area, up
    // to the chord (polygon) approximation of the two arcs.
    let vein = stats[&RegionId(4)].volume;
    let vein_true = std::f64::consts::PI * 0.0025f64.powi(2) * 0.1;
    assert!(
        (vein / vein_true - 1.0).abs() < 0.01,
        "vein {vein} vs {vein_true}"
    );
    // The vein lies around y = +28.5 mm.
    for (i, t) in m.tets.iter().enumerate() {
        if m.regions[i] == RegionId(4) {
            let c: Vec<f64> = (0..3)
                .map(|k| t.iter().map(|&v| m.positions[v as usize][k]).sum::<f64>() / 4.0)
                .collect();
            assert!(c[0].abs() < 0.004 && (c[1] - 0.0285).abs() < 0.004, "{c:?}");
        }
    }
    let s = closed_surface_volume(&m);
    assert!((s - total).abs() < 1e-9 * total);
    // Radial lines on the interfaces: some vertices lie exactly at r = 24, 33 and 35 mm.
    for want in [0.024, 0.033, 0.035] {
        assert!(m
            .positions
            .iter()
            .any(|p| ((p[0].hypot(p[1])) - want).abs() < 1e-12));
    }
}

fn unit_tet() -> TetMesh {
    TetMesh {
        positions: vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        tets: vec![[0, 1, 2, 3]],
        regions: vec![RegionId(1)],
        ..Default::default()
    }
}

fn errors_of(mut m: TetMesh) -> Vec<(IssueKind, String)> {
    match validate(&mut m, &ValidateOptions::default()) {
        Err(MeshError::Invalid(r)) => r
            .errors
            .iter()
            .map(|e| (e.kind, e.message.clone()))
            .collect(),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn validation_errors_name_the_offender() {
    let mut m = unit_tet();
    m.tets.push([0, 1, 2, 9]);
    m.regions.push(RegionId(1));
    let e = errors_of(m);
    assert_eq!(e[0].0, IssueKind::IndexOutOfRange);
    assert!(
        e[0].1.contains("tet 1") && e[0].1.contains("vertex 9"),
        "{}",
        e[0].1
    );

    let mut m = unit_tet();
    m.tets[0] = [0, 1, 1, 3];
    assert_eq!(errors_of(m)[0].0, IssueKind::RepeatedVertex);

    let mut m = unit_tet();
    m.positions[2][1] = f64::NAN;
    let e = errors_of(m);
    assert_eq!(e[0].0, IssueKind::NonFiniteCoordinate);
    assert!(e[0].1.contains("vertex 2"), "{}", e[0].1);

    let mut m = unit_tet();
    m.positions[3] = [0.3, 0.3, 0.0];
    let e = errors_of(m);
    assert_eq!(e[0].0, IssueKind::DegenerateTet);
    assert!(e[0].1.contains("tet 0"));

    let mut m = unit_tet();
    m.regions.clear();
    assert_eq!(errors_of(m)[0].0, IssueKind::RegionCountMismatch);

    assert_eq!(errors_of(TetMesh::default())[0].0, IssueKind::NoTets);

    // Inverted, not fixing: error; the mesh stays unchanged.
    let mut m = unit_tet();
    m.tets[0] = [0, 2, 1, 3];
    let opts = ValidateOptions {
        fix_orientation: false,
        ..Default::default()
    };
    let before = m.clone();
    assert!(validate(&mut m, &opts).is_err());
    assert_eq!(m, before);
}

#[test]
fn degenerate_test_is_relative_to_tet_size() {
    // A well-shaped tet of 1e-13 m^3 (edge ~ 90 µm) is valid ...
    let mut m = unit_tet();
    m.scale(1e-4);
    assert!(m.total_volume() < 1e-12);
    validate(&mut m, &ValidateOptions::default()).unwrap();
    // ... and so is one of (1 nm)^3 / 6.
    let mut m = unit_tet();
    m.scale(1e-9);
    validate(&mut m, &ValidateOptions::default()).unwrap();
    // A sliver of a big tet is not, however large its absolute volume.
    let mut m = unit_tet();
    m.positions[3] = [0.3, 0.3, 1e-11];
    m.scale(1000.0);
    assert!(m.total_volume() > 1e-3);
    assert_eq!(errors_of(m)[0].0, IssueKind::DegenerateTet);
}

#[test]
fn inverted_tets_are_fixed_and_unreferenced_vertices_reported() {
    let mut m = generate::box_grid([2, 2, 2], [1.0; 3], [0.0; 3]);
    let v = m.total_volume();
    for t in m.tets.iter_mut().step_by(3) {
        t.swap(0, 1);
    }
    m.positions.push([5.0, 5.0, 5.0]);
    m.positions.insert(0, [-1.0, 0.0, 0.0]);
    for t in &mut m.tets {
        for i in t.iter_mut() {
            *i += 1;
        }
    }
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    assert_eq!(r.flipped, 16);
    assert_eq!(r.unreferenced, 2);
    let kinds: Vec<_> = r.warnings.iter().map(|w| w.kind).collect();
    assert!(kinds.contains(&IssueKind::InvertedTets));
    assert!(kinds.contains(&IssueKind::UnreferencedVertices));
    assert!((m.total_volume() - v).abs() < 1e-12);
    let map = m.remove_unreferenced();
    assert_eq!(map[0], None);
    assert_eq!(map[1], Some(0));
    assert_eq!(*map.last().unwrap(), None);
    assert_eq!(m.positions.len(), 27);
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    assert!(r.warnings.is_empty());
    assert!((m.total_volume() - v).abs() < 1e-12);
}

#[test]
fn vtu_frame_writer_round_trips_through_the_reader_and_pvd() {
    let m = generate::layered_limb(&generate::LimbParams {
        n_theta: 12,
        n_z: 2,
        radial_size: 0.008,
        ..Default::default()
    });
    let pos: Vec<[f32; 3]> = m.positions.iter().map(|p| p.map(|v| v as f32)).collect();
    let speed: Vec<f32> = (0..pos.len()).map(|i| i as f32 * 0.5).collect();
    let vel: Vec<[f32; 3]> = pos.iter().map(|p| [p[1], -p[0], 0.0]).collect();
    let stress: Vec<f64> = (0..m.tets.len()).map(|i| i as f64).collect();
    let mut buf = Vec::new();
    mesh::vtu::write(
        &mut buf,
        &pos,
        &m.tets,
        &[
            ("speed", mesh::vtu::Field::F32(&speed)),
            ("velocity", mesh::vtu::Field::Vec3(&vel)),
        ],
        &[
            (
                "region",
                mesh::vtu::Field::I32(bytemuck::cast_slice(&m.regions)),
            ),
            ("stress", mesh::vtu::Field::F64(&stress)),
        ],
    )
    .unwrap();
    let text = String::from_utf8(buf.clone()).unwrap();
    assert!(text.contains("format=\"binary\"") && text.contains("header_type=\"UInt64\""));
    let back = mesh::parse_vtu(&buf).unwrap().mesh;
    assert_eq!(back.tets, m.tets);
    assert_eq!(back.regions, m.regions);
    for (a, b) in back.positions.iter().zip(&pos) {
        assert_eq!(a.map(|v| v as f32), *b);
    }
    // The frame writer gives the same bytes.
    let fw = mesh::vtu::FrameWriter::new(pos.len(), &m.tets).unwrap();
    let mut buf2 = Vec::new();
    fw.write(
        &mut buf2,
        &pos,
        &[
            ("speed", mesh::vtu::Field::F32(&speed)),
            ("velocity", mesh::vtu::Field::Vec3(&vel)),
        ],
        &[
            (
                "region",
                mesh::vtu::Field::I32(bytemuck::cast_slice(&m.regions)),
            ),
            ("stress", mesh::vtu::Field::F64(&stress)),
        ],
    )
    .unwrap();
    assert!(buf2 == buf);
    assert!(fw.write(&mut Vec::new(), &pos[1..], &[], &[]).is_err());
    assert!(mesh::vtu::FrameWriter::new(3, &m.tets).is_err());
    // Wrong field length is refused.
    let short = [1.0f32];
    let e = mesh::vtu::write(
        &mut Vec::new(),
        &pos,
        &m.tets,
        &[("x", mesh::vtu::Field::F32(&short))],
        &[],
    );
    assert!(e.is_err());
    let mut pvd = Vec::new();
    mesh::vtu::write_pvd(&mut pvd, &[(0.0, "f_0000.vtu"), (0.01, "f_0001.vtu")]).unwrap();
    let pvd = String::from_utf8(pvd).unwrap();
    assert!(pvd.contains("type=\"Collection\"") && pvd.contains("file=\"f_0001.vtu\""));
    assert_eq!(pvd.matches("<DataSet").count(), 2);
}

#[test]
fn mesh_info_serializes_expected_keys() {
    let mut m = generate::box_grid([1, 1, 1], [2.0, 2.0, 2.0], [0.0; 3]);
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    let info = MeshInfo::new(&m, &r);
    let v = serde_json::to_value(&info).unwrap();
    for k in [
        "nodes",
        "tets",
        "regions",
        "bbox",
        "likely_units",
        "quality",
        "warnings",
        "errors",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["nodes"], 8);
    assert_eq!(v["tets"], 6);
    assert_eq!(v["regions"][0]["name"], "box");
    assert_eq!(v["likely_units"], "centimetres");
    assert_eq!(v["warnings"][0]["kind"], "units");
    assert!(info.to_string().contains("warning:"));
}

/// The explicit-time-step element size `h = sqrt(3) / |Dm^-1|_F` of every tet, where `Dm`
/// is the rest edge matrix `[x1 - x0, x2 - x0, x3 - x0]`.
fn step_sizes(m: &TetMesh) -> Vec<f64> {
    let sub = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    m.tets
        .iter()
        .map(|t| {
            let p = t.map(|i| m.positions[i as usize]);
            let (e1, e2, e3) = (sub(p[1], p[0]), sub(p[2], p[0]), sub(p[3], p[0]));
            // Rows of Dm^-1 are the cofactors (e2 x e3, e3 x e1, e1 x e2) over det.
            let (c1, c2, c3) = (cross(e2, e3), cross(e3, e1), cross(e1, e2));
            let det = dot(e1, c1);
            3f64.sqrt() * det.abs() / (dot(c1, c1) + dot(c2, c2) + dot(c3, c3)).sqrt()
        })
        .collect()
}

#[test]
fn layered_limb_has_no_small_or_thin_elements() {
    let shipped = generate::LimbParams {
        n_theta: 40,
        radial_size: 0.004,
        n_z: 20,
        ..Default::default()
    };
    let mut worst = Vec::new();
    for (name, p) in [
        ("default", generate::LimbParams::default()),
        ("shipped", shipped),
    ] {
        let m = generate::layered_limb(&p);
        let mut h = step_sizes(&m);
        h.sort_by(f64::total_cmp);
        let (min, p1, median) = (h[0], h[h.len() / 100], h[h.len() / 2]);
        let (_, q) = mesh::quality(&m);
        eprintln!(
            "{name}: {} nodes, {} tets, h_t min {:.3} mm, 1% {:.3} mm, median {:.3} mm \
             (min/median {:.2}), dihedral {:.1}..{:.1} deg, aspect max {:.2} mean {:.2}",
            m.positions.len(),
            m.tets.len(),
            min * 1e3,
            p1 * 1e3,
            median * 1e3,
            min / median,
            q.min_dihedral_deg,
            q.max_dihedral_deg,
            q.max_aspect_ratio,
            q.mean_aspect_ratio
        );
        worst.push((name, min / median, q.min_dihedral_deg));
    }
    // Printed for all parameter sets first, then checked.
    for (name, ratio, dihedral) in worst {
        assert!(ratio >= 0.3, "{name}: h_t min / median {ratio}");
        assert!(dihedral >= 10.0, "{name}: min dihedral {dihedral} deg");
    }
}

#[test]
fn layered_limb_is_valid_and_closed_for_odd_and_uneven_grids() {
    // Odd n_theta, few angular lines and grids far finer radially than angularly take the
    // wedge core; the rest the O-grid. All must be valid, conforming and closed.
    for n_theta in [6, 7, 8, 9, 10, 13, 16, 22, 30] {
        for radial_size in [0.001, 0.002, 0.005, 0.02] {
            for (vein_center, vein_radius) in [([0.0, 0.0285], 0.0025), ([0.02, -0.02], 0.004)] {
                let p = generate::LimbParams {
                    n_theta,
                    radial_size,
                    vein_center,
                    vein_radius,
                    n_z: 1,
                    ..Default::default()
                };
                let mut m = generate::layered_limb(&p);
                let before = m.clone();
                let r = validate(&mut m, &ValidateOptions::default()).unwrap();
                assert!(
                    r.warnings.is_empty() && r.flipped == 0,
                    "{p:?}: {:?}",
                    r.warnings
                );
                assert_eq!(m, before);
                let total = m.total_volume();
                let s = closed_surface_volume(&m);
                assert!((s - total).abs() < 1e-9 * total, "{p:?}");
                let stats = mesh::region_stats(&m);
                assert_eq!(stats.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
            }
        }
    }
}

/// Checks conformity: every triangle is a face of 1 tet (boundary) or 2 (interior), and
/// returns the total area of the boundary triangles.
fn conforming_boundary_area(m: &TetMesh) -> f64 {
    let mut count = std::collections::HashMap::new();
    for t in &m.tets {
        for f in [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]] {
            let mut key = f.map(|k| t[k]);
            key.sort_unstable();
            *count.entry(key).or_insert(0) += 1;
        }
    }
    assert!(count.values().all(|&n| n == 1 || n == 2));
    let tris = boundary_triangles(&m.tets);
    assert_eq!(tris.len(), count.values().filter(|&&n| n == 1).count());
    common::boundary_area(m)
}

#[test]
fn box_grid_graded_is_conforming_positive_and_fills_the_box() {
    // A Hertz-style indentation block: fine under the contact at the top centre.
    let xs = generate::graded_coords(-0.02, 0.02, 0.0, 0.0005, 0.003, 1.3);
    let ys = generate::graded_coords(-0.02, 0.02, 0.0, 0.0005, 0.003, 1.3);
    let zs = generate::graded_coords(-0.02, 0.0, 0.0, 0.0005, 0.002, 1.3);
    let mut m = generate::box_grid_graded(&xs, &ys, &zs).unwrap();
    eprintln!(
        "graded box: {} x {} x {} cells, {} tets",
        xs.len() - 1,
        ys.len() - 1,
        zs.len() - 1,
        m.tets.len()
    );
    assert_eq!(m.region_name(RegionId(1)), Some("box"));
    assert!(m.regions.iter().all(|&r| r == RegionId(1)));
    for i in 0..m.tets.len() {
        assert!(m.tet_volume(i).unwrap() > 0.0);
    }
    let v = 0.04 * 0.04 * 0.02;
    assert!((m.total_volume() - v).abs() < 1e-12 * v);
    let area = conforming_boundary_area(&m);
    let box_area = 2.0 * (0.04 * 0.04 + 2.0 * 0.04 * 0.02);
    assert!((area - box_area).abs() < 1e-12 * box_area, "{area}");
    // Boundary triangles lie on the box's faces.
    for t in boundary_triangles(&m.tets) {
        let p = t.map(|i| m.positions[i as usize]);
        let on = |k: usize, v: f64| p.iter().all(|q| q[k] == v);
        assert!(
            on(0, -0.02)
                || on(0, 0.02)
                || on(1, -0.02)
                || on(1, 0.02)
                || on(2, -0.02)
                || on(2, 0.0),
            "{p:?}"
        );
    }
    let s = closed_surface_volume(&m);
    assert!((s - v).abs() < 1e-9 * v);
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    assert!(r.errors.is_empty() && r.warnings.is_empty() && r.flipped == 0);
    // The smallest element is a fine cell's, not a thin graded one.
    let h = step_sizes(&m);
    let min = h.iter().copied().fold(f64::INFINITY, f64::min);
    let fine_cube = generate::box_grid([1, 1, 1], [0.0005; 3], [0.0; 3]);
    let h_fine = step_sizes(&fine_cube)
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    assert!(min >= 0.99 * h_fine, "{min} vs {h_fine}");
}

/// A vein turned in the skin plane: its volume is that of a cylinder along the turned
/// axis between where it leaves the patch (an oblique cylinder cut by two parallel planes
/// has the volume of its cross-section times the axis length between them), the lumen's
/// tets lie on the turned axis, and the layers are untouched.
#[test]
fn vein_slab_turned_vein_follows_its_axis() {
    use generate::slab_region as sr;
    let pi = std::f64::consts::PI;
    for (angle, axis_length) in [
        // Crossing the y = ±width/2 faces.
        (30.0f64, 0.03 / 30.0f64.to_radians().cos()),
        // In line with the needle, crossing the x = 0 and x = length faces.
        (90.0, 0.04),
    ] {
        let p = generate::VeinSlabParams {
            vein_angle_deg: angle,
            ..Default::default()
        };
        p.check().unwrap();
        let mut m = generate::vein_slab(&p);
        let r = validate(&mut m, &ValidateOptions::default()).unwrap();
        assert!(r.errors.is_empty() && r.flipped == 0, "{:?}", r.errors);
        let stats = mesh::region_stats(&m);
        let r_in = p.vein_radius - p.wall_thickness;
        let vein = pi * p.vein_radius.powi(2) * axis_length;
        let got = stats[&sr::VEIN_WALL].volume + stats[&sr::VEIN_LUMEN].volume;
        eprintln!(
            "vein at {angle} deg: {} tets, vein {got:.4e} m^3 (analytic {vein:.4e}), lumen {:.4e} ({:.4e})",
            m.tets.len(),
            stats[&sr::VEIN_LUMEN].volume,
            pi * r_in * r_in * axis_length
        );
        assert!((got / vein - 1.0).abs() < 0.03, "{angle}: {got} vs {vein}");
        let lumen = stats[&sr::VEIN_LUMEN].volume / (pi * r_in * r_in * axis_length);
        assert!((lumen - 1.0).abs() < 0.1, "{angle}: lumen ratio {lumen}");
        let skin = stats[&sr::SKIN].volume / (p.length * p.width * p.skin_thickness);
        assert!((skin - 1.0).abs() < 1e-9, "{skin}");
        // Every lumen tet's centroid is within the inner radius of the turned axis.
        let d = p.vein_direction();
        for (t, &reg) in m.regions.iter().enumerate() {
            if reg != sr::VEIN_LUMEN {
                continue;
            }
            let c = m.tet_centroid(t).unwrap();
            let q = [c[0] - p.vein_x, c[1], c[2] - p.vein_z];
            let along = q[0] * d[0] + q[1] * d[1];
            let dist = (q.iter().map(|x| x * x).sum::<f64>() - along * along).sqrt();
            assert!(dist < r_in, "{angle}: lumen tet {dist} from the axis");
        }
    }
}

#[test]
fn vein_slab_regions_volumes_and_quality() {
    use generate::slab_region as sr;
    let p = generate::VeinSlabParams::default();
    let mut m = generate::vein_slab(&p);
    let before = m.clone();
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    assert!(
        r.errors.is_empty() && r.warnings.is_empty() && r.flipped == 0,
        "{:?}",
        r.warnings
    );
    assert_eq!(m, before);
    let total = m.total_volume();
    let v = p.length * p.width * p.depth;
    assert!((total - v).abs() < 1e-12 * v);
    let area = conforming_boundary_area(&m);
    let box_area = 2.0 * (p.length * p.width + (p.length + p.width) * p.depth);
    assert!((area - box_area).abs() < 1e-12 * box_area);
    let stats = mesh::region_stats(&m);
    assert_eq!(
        stats.keys().copied().collect::<Vec<_>>(),
        vec![sr::SKIN, sr::FAT, sr::MUSCLE, sr::VEIN_WALL, sr::VEIN_LUMEN]
    );
    for (id, name) in [
        (sr::SKIN, "skin"),
        (sr::FAT, "fat"),
        (sr::MUSCLE, "muscle"),
        (sr::VEIN_WALL, "vein_wall"),
        (sr::VEIN_LUMEN, "vein_lumen"),
    ] {
        assert_eq!(m.region_name(id), Some(name));
    }
    let pi = std::f64::consts::PI;
    let r_in = p.vein_radius - p.wall_thickness;
    let lumen = pi * r_in * r_in * p.width;
    let vein = pi * p.vein_radius * p.vein_radius * p.width;
    let skin = p.length * p.width * p.skin_thickness;
    let muscle = p.length * p.width * (p.depth - p.muscle_depth);
    let fat = p.length * p.width * (p.muscle_depth - p.skin_thickness) - vein;
    let (_, q) = mesh::quality(&m);
    let mut h = step_sizes(&m);
    h.sort_by(f64::total_cmp);
    eprintln!(
        "vein slab: {} nodes, {} tets, h_t min {:.3} mm, 1% {:.3} mm, median {:.3} mm, \
         dihedral {:.1}..{:.1} deg, aspect max {:.2} mean {:.2}",
        m.positions.len(),
        m.tets.len(),
        h[0] * 1e3,
        h[h.len() / 100] * 1e3,
        h[h.len() / 2] * 1e3,
        q.min_dihedral_deg,
        q.max_dihedral_deg,
        q.max_aspect_ratio,
        q.mean_aspect_ratio
    );
    for (id, want, tol) in [
        (sr::SKIN, skin, 1e-9),
        (sr::MUSCLE, muscle, 1e-9),
        (sr::FAT, fat, 0.01),
        (sr::VEIN_LUMEN, lumen, 0.05),
        (sr::VEIN_WALL, vein - lumen, 0.05),
    ] {
        let got = stats[&id].volume;
        eprintln!(
            "region {id}: {} tets, {got:.4e} m^3 (analytic {want:.4e})",
            stats[&id].tets
        );
        assert!(
            (got / want - 1.0).abs() < tol,
            "region {id}: {got} vs {want}"
        );
    }
    // The whole vein within 2 %.
    let got = stats[&sr::VEIN_WALL].volume + stats[&sr::VEIN_LUMEN].volume;
    assert!((got / vein - 1.0).abs() < 0.02, "{got} vs {vein}");
    assert!(
        (30_000..=60_000).contains(&m.tets.len()),
        "{}",
        m.tets.len()
    );
    // No element much smaller than the fine cells.
    let fine_cube = generate::box_grid([1, 1, 1], [p.fine_size; 3], [0.0; 3]);
    let h_fine = step_sizes(&fine_cube)
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    assert!(h[0] >= 0.9 * h_fine, "{} vs {h_fine}", h[0]);
    assert!(q.min_dihedral_deg >= 8.0, "{}", q.min_dihedral_deg);
    // Grid lines on the interfaces and the skin at least 2 cells thick.
    for z in [0.0, -p.skin_thickness, -p.muscle_depth, -p.depth] {
        assert!(
            m.positions.iter().any(|q| q[2] == z),
            "no grid line at z = {z}"
        );
    }
    let skin_lines = {
        let mut zs: Vec<f64> = m
            .positions
            .iter()
            .map(|q| q[2])
            .filter(|&z| z >= -p.skin_thickness)
            .collect();
        zs.sort_by(f64::total_cmp);
        zs.dedup();
        zs.len()
    };
    assert!(skin_lines >= 3);
    // The lumen touches only the wall: no face shared by lumen and skin/fat/muscle.
    let mut owner = std::collections::HashMap::new();
    for (ti, t) in m.tets.iter().enumerate() {
        for f in [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]] {
            let mut key = f.map(|k| t[k]);
            key.sort_unstable();
            if let Some(other) = owner.insert(key, m.regions[ti]) {
                let pair = [other, m.regions[ti]];
                assert!(
                    !(pair.contains(&sr::VEIN_LUMEN)
                        && pair
                            .iter()
                            .any(|&r| r != sr::VEIN_LUMEN && r != sr::VEIN_WALL)),
                    "lumen next to region {pair:?}"
                );
            }
        }
    }
}

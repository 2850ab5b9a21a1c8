//! Property tests (proptest) of the mesh formats and refinement on random meshes: random
//! vertex positions over many magnitudes, random region ids (negative and 0 included) and
//! region names of letters, digits and the punctuation the formats use as separators (`;`,
//! `=`, `%`, `-`, spaces; not `"`, which Gmsh names cannot hold and the Gmsh writer turns
//! into `'`).
//!
//! - Round trips: a mesh written in format A, read, written in format B and read again is
//!   the mesh it was (positions to the bit, tets, regions and names), for every pair of the
//!   eight writers (Gmsh 2.2 and 4.1, ASCII and binary; VTK legacy ASCII and binary; VTU;
//!   TetGen).
//! - Refinement: volume kept (to rounding), each region's volume kept, eight tets per tet,
//!   every child in its parent's region, no child inverted, the boundary's area kept.

use proptest::prelude::*;
use std::collections::BTreeMap;
use vesalius_engine::mesh::RegionId;
use vesalius_engine::mesh::{
    self, parse_msh, parse_tetgen, parse_vtk, parse_vtu, refine, write_msh, write_tetgen,
    write_vtk, MshVersion, TetMesh,
};

mod common;

/// A writer and its reader.
struct Format {
    name: &'static str,
    write: fn(&TetMesh) -> Vec<u8>,
    read: fn(&[u8]) -> TetMesh,
}

fn msh(m: &TetMesh, v: MshVersion, binary: bool) -> Vec<u8> {
    let mut b = Vec::new();
    write_msh(&mut b, m, v, binary).unwrap();
    b
}

fn read_msh(b: &[u8]) -> TetMesh {
    parse_msh(b).unwrap().mesh
}

fn vtk(m: &TetMesh, binary: bool) -> Vec<u8> {
    let mut b = Vec::new();
    write_vtk(&mut b, m, binary).unwrap();
    b
}

/// TetGen's two files in one buffer: `.node`, a NUL, `.ele` (as the fuzz target takes them).
fn tetgen(m: &TetMesh) -> Vec<u8> {
    let (mut n, mut e) = (Vec::new(), Vec::new());
    write_tetgen(&mut n, &mut e, m).unwrap();
    n.push(0);
    n.extend(e);
    n
}

fn read_tetgen(b: &[u8]) -> TetMesh {
    let cut = b.iter().position(|&c| c == 0).unwrap();
    parse_tetgen(&b[..cut], &b[cut + 1..]).unwrap().mesh
}

const FORMATS: &[Format] = &[
    Format {
        name: "msh 2.2",
        write: |m| msh(m, MshVersion::V22, false),
        read: read_msh,
    },
    Format {
        name: "msh 2.2 binary",
        write: |m| msh(m, MshVersion::V22, true),
        read: read_msh,
    },
    Format {
        name: "msh 4.1",
        write: |m| msh(m, MshVersion::V41, false),
        read: read_msh,
    },
    Format {
        name: "msh 4.1 binary",
        write: |m| msh(m, MshVersion::V41, true),
        read: read_msh,
    },
    Format {
        name: "vtk",
        write: |m| vtk(m, false),
        read: |b| parse_vtk(b).unwrap().mesh,
    },
    Format {
        name: "vtk binary",
        write: |m| vtk(m, true),
        read: |b| parse_vtk(b).unwrap().mesh,
    },
    Format {
        name: "vtu",
        write: |m| {
            let mut b = Vec::new();
            mesh::vtu::write_mesh(&mut b, m).unwrap();
            b
        },
        read: |b| parse_vtu(b).unwrap().mesh,
    },
    Format {
        name: "tetgen",
        write: tetgen,
        read: read_tetgen,
    },
];

/// A box of `cells` cubes (6 tets each) with its vertices moved by up to a quarter cell,
/// scaled by `scale`, with a region per tet from `regions` and names for some of them.
fn random_mesh() -> impl Strategy<Value = TetMesh> {
    (
        [1usize..4, 1usize..4, 1usize..3],
        prop_oneof![Just(1e-6), Just(1e-3), Just(1.0), Just(1e3), 1e-4f64..10.0],
        prop::collection::vec(-0.25f64..0.25, 3 * 4 * 4 * 3),
        prop::collection::vec(-3i32..6, 2 * 3 * 3 * 3 * 6),
        prop::collection::btree_map(-3i32..6, "[a-zA-Z0-9_ .;=:/%é-]{1,10}", 0..4),
    )
        .prop_map(|(cells, scale, jitter, regions, names)| {
            let h = 1.0 / 3.0;
            let mut m = mesh::generate::box_grid(
                cells,
                [
                    h * cells[0] as f64,
                    h * cells[1] as f64,
                    h * cells[2] as f64,
                ],
                [0.0; 3],
            );
            for (i, p) in m.positions.iter_mut().enumerate() {
                for k in 0..3 {
                    p[k] = (p[k] + h * jitter[(3 * i + k) % jitter.len()]) * scale;
                }
            }
            for (t, r) in m.regions.iter_mut().enumerate() {
                *r = RegionId(regions[t % regions.len()]);
            }
            let present: std::collections::BTreeSet<RegionId> = m.regions.iter().copied().collect();
            m.region_names = names
                .into_iter()
                .filter(|(r, _)| present.contains(&RegionId(*r)))
                .map(|(r, n)| (RegionId(r), n.trim().to_string()))
                .filter(|(_, n)| !n.is_empty())
                .collect();
            m
        })
}

fn assert_same(a: &TetMesh, b: &TetMesh, what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(&a.positions, &b.positions, "{}: positions", what);
    prop_assert_eq!(&a.tets, &b.tets, "{}: tets", what);
    prop_assert_eq!(&a.regions, &b.regions, "{}: regions", what);
    prop_assert_eq!(&a.region_names, &b.region_names, "{}: names", what);
    Ok(())
}

fn region_volumes(m: &TetMesh) -> BTreeMap<RegionId, f64> {
    let mut v = BTreeMap::new();
    for t in 0..m.tets.len() {
        *v.entry(m.regions[t]).or_insert(0.0) += m.tet_volume(t).unwrap();
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_format_pair_round_trips(m in random_mesh()) {
        for a in FORMATS {
            let once = (a.read)(&(a.write)(&m));
            assert_same(&m, &once, a.name)?;
            for b in FORMATS {
                let twice = (b.read)(&(b.write)(&once));
                assert_same(&m, &twice, &format!("{} then {}", a.name, b.name))?;
            }
        }
    }

    #[test]
    fn refinement_keeps_volume_regions_and_surface(m in random_mesh()) {
        let r = refine(&m);
        prop_assert_eq!(r.tets.len(), 8 * m.tets.len());
        let (before, after) = (region_volumes(&m), region_volumes(&r));
        prop_assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
        let total = m.total_volume().abs();
        for (region, v) in &before {
            prop_assert!((after[region] - v).abs() <= 1e-12 * total, "region {}: {} -> {}", region, v, after[region]);
        }
        for t in 0..r.tets.len() {
            let parent = r.regions[t];
            prop_assert!(before.contains_key(&parent));
            // A child has the sign of its parent's orientation (the box's tets are all
            // positive, jittered by at most a quarter cell).
            prop_assert!(r.tet_volume(t).unwrap() > 0.0, "child {} inverted", t);
        }
        prop_assert_eq!(&r.region_names, &m.region_names);
        let (a0, a1) = (common::boundary_area(&m), common::boundary_area(&r));
        prop_assert!((a0 - a1).abs() <= 1e-9 * a0, "boundary area {} -> {}", a0, a1);
    }
}

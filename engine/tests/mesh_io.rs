//! Mesh readers and writers against the real files in `shared/data/anatomy` (counts from
//! its MANIFEST), round trips through every writer, malformed inputs and a mutation fuzz.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vesalius_engine::mesh::RegionId;

use vesalius_engine::mesh::{
    self, parse_msh, parse_tetgen, parse_vtk, parse_vtu, validate, write_msh, write_tetgen,
    write_vtk, FileFormat, LoadOptions, MeshError, MshVersion, TetMesh, ValidateOptions,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/anatomy");

fn data(rel: &str) -> PathBuf {
    Path::new(DATA).join(rel)
}

fn load(rel: &str) -> TetMesh {
    mesh::load(&data(rel), &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn region_counts(m: &TetMesh) -> BTreeMap<i32, usize> {
    let mut c = BTreeMap::new();
    for &r in &m.regions {
        *c.entry(r.0).or_insert(0) += 1;
    }
    c
}

fn assert_same(a: &TetMesh, b: &TetMesh, tol: f64, what: &str) {
    assert_eq!(a.positions.len(), b.positions.len(), "{what}: node count");
    for (i, (p, q)) in a.positions.iter().zip(&b.positions).enumerate() {
        for k in 0..3 {
            assert!(
                (p[k] - q[k]).abs() <= tol,
                "{what}: node {i} differs: {p:?} vs {q:?}"
            );
        }
    }
    assert_eq!(a.tets, b.tets, "{what}: tets");
    assert_eq!(a.regions, b.regions, "{what}: regions");
}

#[test]
fn forearm_counts_regions_and_names_from_msh41() {
    let l = mesh::load_detailed(
        &data("generated/forearm_segment.msh"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(
        l.format,
        FileFormat::Msh {
            version: MshVersion::V41,
            binary: false
        }
    );
    let m = &l.mesh;
    assert_eq!(m.positions.len(), 3446);
    assert_eq!(m.tets.len(), 17097);
    let want: BTreeMap<i32, usize> = [(1, 4689), (2, 7510), (3, 3565), (4, 1333)].into();
    assert_eq!(region_counts(m), want);
    assert_eq!(m.region_name(RegionId(1)), Some("skin"));
    assert_eq!(m.region_name(RegionId(4)), Some("vein"));
    // Surface names (dim 2) are not region names.
    assert_eq!(m.region_names.len(), 4);
    // The boundary-surface triangles are skipped but counted.
    assert!(
        l.skipped
            .get("triangle (Gmsh type 2)")
            .copied()
            .unwrap_or(0)
            > 0
    );
}

#[test]
fn forearm_same_from_all_four_files_and_volume() {
    let m41 = load("generated/forearm_segment.msh");
    let m22 = load("generated/forearm_segment_v22.msh");
    let vtk = load("generated/forearm_segment.vtk");
    let vtu = load("generated/forearm_segment.vtu");
    assert_same(&m41, &m22, 0.0, "msh 2.2");
    assert_same(&m41, &vtk, 1e-15, "vtk");
    // The VTU stores 12 significant digits.
    assert_same(&m41, &vtu, 1e-12, "vtu");
    assert_eq!(m22.region_names, m41.region_names);
    let mut m = m41;
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    assert_eq!(r.flipped, 0, "all tets are positively oriented");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let v = m.total_volume();
    assert!((v - 3.83e-4).abs() < 0.01 * 3.83e-4, "volume {v}");
}

#[test]
fn kidney_counts() {
    for f in [
        "generated/kidney_like.msh",
        "generated/kidney_like_v22.msh",
        "generated/kidney_like.vtk",
        "generated/kidney_like.vtu",
    ] {
        let m = load(f);
        assert_eq!(m.positions.len(), 2433, "{f}");
        assert_eq!(m.tets.len(), 11005, "{f}");
        let want: BTreeMap<i32, usize> = [(1, 8347), (2, 2658)].into();
        assert_eq!(region_counts(&m), want, "{f}");
    }
    let mut m = load("generated/kidney_like.msh");
    assert_eq!(m.region_name(RegionId(2)), Some("medulla"));
    validate(&mut m, &ValidateOptions::default()).unwrap();
    assert!((m.total_volume() - 1.45e-4).abs() < 0.01 * 1.45e-4);
}

#[test]
fn liver_msh_v1_counts_bbox_and_units_warning() {
    let l = mesh::load_detailed(&data("sofa/liver.msh"), &LoadOptions::default()).unwrap();
    assert_eq!(
        l.format,
        FileFormat::Msh {
            version: MshVersion::V1,
            binary: false
        }
    );
    let mut m = l.mesh;
    assert_eq!(m.positions.len(), 181);
    assert_eq!(m.tets.len(), 596);
    let (lo, hi) = mesh::bounding_box(&m.positions).unwrap();
    let size = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    for (s, want) in size.iter().zip([6.4, 4.9, 4.4]) {
        assert!((s - want).abs() < 0.1, "size {size:?}");
    }
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    let units = r
        .warnings
        .iter()
        .find(|w| w.kind == mesh::IssueKind::Units)
        .expect("units warning");
    assert!(units.message.contains("--scale"), "{}", units.message);
    assert_eq!(r.likely_units, mesh::LikelyUnits::Centimetres);
    // With --scale 0.01 the warning goes away.
    let mut m = mesh::load(&data("sofa/liver.msh"), &LoadOptions { scale: 0.01 }).unwrap();
    let r = validate(&mut m, &ValidateOptions::default()).unwrap();
    assert!(r.warnings.iter().all(|w| w.kind != mesh::IssueKind::Units));
}

fn roundtrip_all_writers(m: &TetMesh) {
    for version in [MshVersion::V41, MshVersion::V22] {
        for binary in [false, true] {
            let mut buf = Vec::new();
            write_msh(&mut buf, m, version, binary).unwrap();
            let back = parse_msh(&buf).unwrap_or_else(|e| panic!("{version:?} {binary}: {e}"));
            assert_eq!(back.format, FileFormat::Msh { version, binary });
            assert_same(
                m,
                &back.mesh,
                0.0,
                &format!("msh {version:?} binary={binary}"),
            );
            assert_eq!(back.mesh.region_names, m.region_names);
        }
    }
    for binary in [false, true] {
        let mut buf = Vec::new();
        write_vtk(&mut buf, m, binary).unwrap();
        let back = parse_vtk(&buf).unwrap_or_else(|e| panic!("vtk {binary}: {e}"));
        assert_same(m, &back.mesh, 0.0, &format!("vtk binary={binary}"));
        assert_eq!(back.mesh.region_names, m.region_names);
    }
    let mut buf = Vec::new();
    mesh::vtu::write_mesh(&mut buf, m).unwrap();
    let back = parse_vtu(&buf).unwrap();
    assert_same(m, &back.mesh, 0.0, "vtu");
    assert_eq!(back.mesh.region_names, m.region_names);
    let (mut n, mut e) = (Vec::new(), Vec::new());
    write_tetgen(&mut n, &mut e, m).unwrap();
    let back = parse_tetgen(&n, &e).unwrap();
    assert_same(m, &back.mesh, 0.0, "tetgen");
    assert_eq!(back.mesh.region_names, m.region_names);
}

#[test]
fn roundtrip_forearm_liver_and_generated_through_every_writer() {
    roundtrip_all_writers(&load("generated/forearm_segment.msh"));
    roundtrip_all_writers(&load("sofa/liver.msh"));
    let mut g = mesh::generate::box_grid([2, 3, 1], [1e-3, 2e-3, 5e-4], [-1.0, 0.5, 0.0]);
    g.regions[0] = RegionId(-7);
    g.regions[1] = RegionId(0);
    roundtrip_all_writers(&g);
}

#[test]
fn save_and_load_files_by_extension() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mesh_io_save");
    std::fs::create_dir_all(&dir).unwrap();
    let m = load("generated/kidney_like.msh");
    for name in ["k.msh", "k_v22.msh", "k.vtk", "k.vtu", "k.node", "k2.ele"] {
        let p = dir.join(name);
        mesh::save(&p, &m).unwrap();
        let l = mesh::load_detailed(&p, &LoadOptions::default()).unwrap();
        assert_same(&m, &l.mesh, 0.0, name);
        assert_eq!(l.mesh.region_names, m.region_names, "{name}");
        if name == "k_v22.msh" {
            assert!(matches!(
                l.format,
                FileFormat::Msh {
                    version: MshVersion::V22,
                    ..
                }
            ));
        }
    }
    // Binary msh via options; scale on load.
    let p = dir.join("kb.msh");
    mesh::save_with(
        &p,
        &m,
        &mesh::SaveOptions {
            msh_version: None,
            binary: true,
        },
    )
    .unwrap();
    let s = mesh::load(&p, &LoadOptions { scale: 1000.0 }).unwrap();
    assert!((s.positions[5][0] - 1000.0 * m.positions[5][0]).abs() < 1e-9);
    let err = mesh::load(&dir.join("x.stl"), &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("x.stl"), "{err}");
}

#[test]
fn tetgen_one_based_with_comments() {
    let node = b"# a comment\n4 3 0 1\n1 0 0 0 0 # trailing\n2 1 0 0 0\n3 0 1 0 0\n\n4 0 0 1 1\n";
    let ele = b"1 4 1\n# tet\n1 1 2 3 4 5\n";
    let m = parse_tetgen(node, ele).unwrap().mesh;
    assert_eq!(m.tets, vec![[0, 1, 2, 3]]);
    assert_eq!(m.regions, vec![5]);
    let err = parse_tetgen(node, b"1 4 0\n1 1 2 3 9\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains('9'), "{err}");
}

#[test]
fn vtk_legacy_classic_cells_with_mixed_types_and_fallback_field() {
    let src = b"# vtk DataFile Version 3.0\nt\nASCII\nDATASET UNSTRUCTURED_GRID\nPOINTS 4 float\n0 0 0 1 0 0 0 1 0 0 0 1\nCELLS 2 8\n4 0 1 2 3\n2 0 1\nCELL_TYPES 2\n10 3\nPOINT_DATA 4\nVECTORS v float\n0 0 0 0 0 0 0 0 0 0 0 0\nCELL_DATA 2\nSCALARS CellEntityIds int 1\nLOOKUP_TABLE default\n7 8\n";
    let l = parse_vtk(src).unwrap();
    assert_eq!(l.mesh.tets, vec![[0, 1, 2, 3]]);
    assert_eq!(l.mesh.regions, vec![7]);
    assert_eq!(l.skipped.get("line (VTK type 3)"), Some(&1));
}

/// Asserts that parsing fails with an error naming a line and containing `needle`.
fn assert_line_error(r: Result<mesh::LoadedMesh, MeshError>, needle: &str) {
    let e = r.expect_err("malformed input must fail");
    let s = e.to_string();
    assert!(
        matches!(
            e,
            MeshError::Parse {
                loc: mesh::Location::Line(_),
                ..
            }
        ),
        "not a line error: {s}"
    );
    assert!(s.contains("line "), "{s}");
    assert!(s.contains(needle), "`{needle}` not in: {s}");
}

const TINY22: &str = "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n4\n1 0 0 0\n2 1 0 0\n3 0 1 0\n4 0 0 1\n$EndNodes\n$Elements\n2\n1 2 2 5 1 1 2 3\n2 4 2 7 1 1 2 3 4\n$EndElements\n";

#[test]
fn tiny_msh22_reads_and_malformed_variants_name_the_line() {
    let l = parse_msh(TINY22.as_bytes()).unwrap();
    assert_eq!(l.mesh.tets, vec![[0, 1, 2, 3]]);
    assert_eq!(l.mesh.regions, vec![7]);
    assert_eq!(l.skipped.get("triangle (Gmsh type 2)"), Some(&1));
    // Truncated inside the node list.
    let cut = &TINY22[..TINY22.find("3 0 1 0").unwrap()];
    assert_line_error(parse_msh(cut.as_bytes()), "line 5");
    let cut = &TINY22[..TINY22.find("$EndNodes").unwrap() - 4];
    assert_line_error(parse_msh(cut.as_bytes()), "end of file");
    // Wrong count: 5 nodes announced, 4 given.
    let s = TINY22.replacen("$Nodes\n4", "$Nodes\n5", 1);
    assert_line_error(parse_msh(s.as_bytes()), "line 10");
    // Out-of-range node index.
    let s = TINY22.replace("2 4 2 7 1 1 2 3 4", "2 4 2 7 1 1 2 3 99");
    assert_line_error(parse_msh(s.as_bytes()), "node 99");
    // NaN coordinate.
    let s = TINY22.replace("3 0 1 0", "3 0 nan 0");
    assert_line_error(parse_msh(s.as_bytes()), "line 8");
    // Unknown element type.
    let s = TINY22.replace("1 2 2 5 1 1 2 3", "1 99 2 5 1 1 2 3");
    assert_line_error(parse_msh(s.as_bytes()), "element type 99");
    // Unknown section without end.
    let s = TINY22.replace("$Elements", "$Bogus\n1\n$Elements");
    assert_line_error(parse_msh(s.as_bytes()), "$EndBogus");
    // A number that is not one.
    let s = TINY22.replace("2 1 0 0", "2 1 x0 0");
    assert_line_error(parse_msh(s.as_bytes()), "`x0`");
    // Unknown sections with an end are skipped.
    let s = TINY22.replace("$Nodes", "$Comments\nhello $ world\n$EndComments\n$Nodes");
    assert!(parse_msh(s.as_bytes()).is_ok());
}

#[test]
fn malformed_v1_v41_vtk_vtu_name_the_line() {
    let liver = std::fs::read_to_string(data("sofa/liver.msh")).unwrap();
    let s = liver.replacen("$NOD\n181", "$NOD\n182", 1);
    assert_line_error(parse_msh(s.as_bytes()), "$ENDNOD");
    let s = liver.replacen("596 4 1 1 4", "596 4 1 1 3", 1);
    assert_line_error(parse_msh(s.as_bytes()), "4 nodes");
    let f41 = std::fs::read_to_string(data("generated/kidney_like.msh")).unwrap();
    let cut = &f41[..f41.len() / 2];
    assert_line_error(parse_msh(cut.as_bytes()), "end of file");
    let vtk = std::fs::read_to_string(data("generated/kidney_like.vtk")).unwrap();
    let s = vtk.replacen("CELL_TYPES 11005", "CELL_TYPEZ 11005", 1);
    assert_line_error(parse_vtk(s.as_bytes()), "CELL_TYPEZ");
    let cut = &vtk[..vtk.len() / 3];
    assert_line_error(parse_vtk(cut.as_bytes()), "line ");
    // An out-of-range point index is reported at the CELLS line (line 7).
    let i = vtk.find("CONNECTIVITY vtktypeint64\n").unwrap() + 26;
    let mut s = vtk.clone();
    s.insert(i, '9');
    let e = parse_vtk(s.as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("line 7") && e.contains("references point 9"),
        "{e}"
    );
    let vtu = std::fs::read_to_string(data("generated/kidney_like.vtu")).unwrap();
    let i = vtu
        .find("<DataArray type=\"Int64\" Name=\"connectivity\"")
        .unwrap();
    let mut s = vtu.clone();
    s.replace_range(i + 60..i + 64, " zz ");
    assert_line_error(parse_vtu(s.as_bytes()), "zz");
    let cut = &vtu[..vtu.len() / 2];
    assert!(parse_vtu(cut.as_bytes()).is_err());
}

#[test]
fn garbage_and_binary_errors() {
    let garbage: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(parse_msh(&garbage).is_err());
    assert!(parse_vtk(&garbage).is_err());
    assert!(parse_vtu(&garbage).is_err());
    assert!(parse_tetgen(&garbage, &garbage).is_err());
    // Binary msh truncated: the error names a byte offset.
    let m = load("sofa/liver.msh");
    let mut buf = Vec::new();
    write_msh(&mut buf, &m, MshVersion::V41, true).unwrap();
    let e = parse_msh(&buf[..buf.len() - 300]).unwrap_err();
    assert!(e.to_string().contains("byte offset"), "{e}");
    // Big-endian check int.
    let mut buf = Vec::new();
    write_msh(&mut buf, &m, MshVersion::V22, true).unwrap();
    let p = buf.windows(4).position(|w| w == [1, 0, 0, 0]).unwrap();
    buf[p..p + 4].copy_from_slice(&[7, 7, 7, 7]);
    let e = parse_msh(&buf).unwrap_err().to_string();
    assert!(e.contains("endianness"), "{e}");
}

/// xorshift64*: a fixed-seed generator, no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    match rng.below(5) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
        }
        1 => v.truncate(rng.below(v.len())),
        2 => {
            // Replace a byte with a digit or sign: breaks counts and indices plausibly.
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(v.len());
                v[i] = b"0123456789-.e \n$"[rng.below(16)];
            }
        }
        3 => {
            // Delete or duplicate a slice.
            let a = rng.below(v.len());
            let b = (a + rng.below(200)).min(v.len());
            if rng.below(2) == 0 {
                v.drain(a..b);
            } else {
                let s = v[a..b].to_vec();
                v.splice(a..a, s);
            }
        }
        _ => {
            let i = rng.below(v.len());
            let big = b" 99999999999999999999 ";
            v.splice(i..i, big.iter().copied());
        }
    }
    v
}

fn exercise(r: Result<mesh::LoadedMesh, MeshError>) {
    if let Ok(mut l) = r {
        let _ = mesh::quality(&l.mesh);
        let _ = mesh::region_stats(&l.mesh);
        if validate(&mut l.mesh, &ValidateOptions::default()).is_ok() {
            let _ = mesh::boundary_triangles(&l.mesh.tets);
        }
    } else if let Err(e) = r {
        let _ = e.to_string();
    }
}

#[test]
fn fuzz_mutated_real_files_never_panic() {
    let liver = std::fs::read(data("sofa/liver.msh")).unwrap();
    let m = parse_msh(&liver).unwrap().mesh;
    let mut bin41 = Vec::new();
    write_msh(&mut bin41, &m, MshVersion::V41, true).unwrap();
    let mut bin22 = Vec::new();
    write_msh(&mut bin22, &m, MshVersion::V22, true).unwrap();
    let mut a41 = Vec::new();
    write_msh(&mut a41, &m, MshVersion::V41, false).unwrap();
    let mut vtkb = Vec::new();
    write_vtk(&mut vtkb, &m, true).unwrap();
    let mut vtka = Vec::new();
    write_vtk(&mut vtka, &m, false).unwrap();
    let mut vtu = Vec::new();
    mesh::vtu::write_mesh(&mut vtu, &m).unwrap();
    let (mut node, mut ele) = (Vec::new(), Vec::new());
    write_tetgen(&mut node, &mut ele, &m).unwrap();
    let kidney_vtu = std::fs::read(data("generated/kidney_like.vtu")).unwrap();
    let kidney_v22 = std::fs::read(data("generated/kidney_like_v22.msh")).unwrap();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let cases: Vec<(&str, &[u8])> = vec![
        ("msh", &liver),
        ("msh", &bin41),
        ("msh", &bin22),
        ("msh", &a41),
        ("msh", &kidney_v22),
        ("vtk", &vtkb),
        ("vtk", &vtka),
        ("vtu", &vtu),
        ("vtu", &kidney_vtu),
    ];
    // VESALIUS_FUZZ_CASES raises the number of mutations per input for a longer local run.
    let per: usize = std::env::var("VESALIUS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut n = 0;
    for (kind, src) in &cases {
        for _ in 0..per {
            let v = mutate(&mut rng, src);
            match *kind {
                "msh" => exercise(parse_msh(&v)),
                "vtk" => exercise(parse_vtk(&v)),
                _ => exercise(parse_vtu(&v)),
            }
            n += 1;
        }
    }
    for _ in 0..per {
        let a = mutate(&mut rng, &node);
        let b = mutate(&mut rng, &ele);
        exercise(parse_tetgen(&a, &ele));
        exercise(parse_tetgen(&node, &b));
        n += 2;
    }
    assert_eq!(n, 11 * per);
}

/// Builds a VTU with `format="appended"` arrays, as VTK's default writer does (raw or
/// base64, UInt32 header), from the liver mesh.
fn appended_vtu(m: &TetMesh, raw: bool) -> Vec<u8> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let pts: Vec<u8> = m
        .positions
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let conn: Vec<u8> = m
        .tets
        .iter()
        .flatten()
        .flat_map(|&v| i64::from(v).to_le_bytes())
        .collect();
    let offs: Vec<u8> = (1..=m.tets.len() as i64)
        .flat_map(|i| (4 * i).to_le_bytes())
        .collect();
    let types: Vec<u8> = vec![10u8; m.tets.len()];
    let reg: Vec<u8> = m.regions.iter().flat_map(|r| r.0.to_le_bytes()).collect();
    for b in [pts, conn, offs, types, reg] {
        blocks.push(b);
    }
    let mut appended = Vec::new();
    let mut offsets = Vec::new();
    for b in &blocks {
        offsets.push(appended.len());
        let mut h = (b.len() as u32).to_le_bytes().to_vec();
        if raw {
            appended.extend_from_slice(&h);
            appended.extend_from_slice(b);
        } else {
            // VTK encodes the header and the data separately.
            appended.extend_from_slice(b64(&h).as_bytes());
            h.clear();
            appended.extend_from_slice(b64(b).as_bytes());
        }
    }
    let enc = if raw { "raw" } else { "base64" };
    let head = format!(
        "<?xml version=\"1.0\"?>\n<VTKFile type=\"UnstructuredGrid\" version=\"0.1\" byte_order=\"LittleEndian\">\n<UnstructuredGrid>\n<Piece NumberOfPoints=\"{}\" NumberOfCells=\"{}\">\n<Points><DataArray type=\"Float64\" NumberOfComponents=\"3\" format=\"appended\" offset=\"{}\"/></Points>\n<Cells><DataArray type=\"Int64\" Name=\"connectivity\" format=\"appended\" offset=\"{}\"/><DataArray type=\"Int64\" Name=\"offsets\" format=\"appended\" offset=\"{}\"/><DataArray type=\"UInt8\" Name=\"types\" format=\"appended\" offset=\"{}\"/></Cells>\n<CellData Scalars=\"region\"><DataArray type=\"Int32\" Name=\"region\" format=\"appended\" offset=\"{}\"/></CellData>\n</Piece>\n</UnstructuredGrid>\n<AppendedData encoding=\"{enc}\">\n   _",
        m.positions.len(),
        m.tets.len(),
        offsets[0],
        offsets[1],
        offsets[2],
        offsets[3],
        offsets[4]
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(&appended);
    out.extend_from_slice(b"\n</AppendedData>\n</VTKFile>\n");
    out
}

fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(A[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[test]
fn vtu_appended_raw_and_base64_as_vtk_writes_them() {
    let m = load("sofa/liver.msh");
    for raw in [true, false] {
        let v = appended_vtu(&m, raw);
        let back = parse_vtu(&v).unwrap_or_else(|e| panic!("raw={raw}: {e}"));
        assert_same(&m, &back.mesh, 0.0, &format!("appended raw={raw}"));
        // Truncations and mutations of appended data never panic.
        let mut rng = Rng(7 + raw as u64);
        for _ in 0..40 {
            exercise(parse_vtu(&mutate(&mut rng, &v)));
        }
    }
    let compressed = String::from_utf8_lossy(&appended_vtu(&m, true)).replacen(
        "byte_order=\"LittleEndian\"",
        "byte_order=\"LittleEndian\" compressor=\"vtkZLibDataCompressor\"",
        1,
    );
    let e = parse_vtu(compressed.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("compressed") && e.contains("line 2"), "{e}");
}

#[test]
fn fuzz_real_kidney_msh41_and_vtk() {
    let k41 = std::fs::read(data("generated/kidney_like.msh")).unwrap();
    let kvtk = std::fs::read(data("generated/kidney_like.vtk")).unwrap();
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    for _ in 0..40 {
        exercise(parse_msh(&mutate(&mut rng, &k41)));
        exercise(parse_vtk(&mutate(&mut rng, &kvtk)));
    }
}

#[test]
fn shipped_limb_segment_matches_its_generator() {
    // The parameters of examples/generate_anatomy.rs.
    let params = mesh::generate::LimbParams {
        n_theta: 40,
        radial_size: 0.004,
        n_z: 20,
        ..Default::default()
    };
    let g = mesh::generate::layered_limb(&params);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../anatomy/limb_segment.msh");
    let shipped = std::fs::read(path).unwrap();
    let mut buf = Vec::new();
    write_msh(&mut buf, &g, MshVersion::V41, false).unwrap();
    assert!(
        buf == shipped,
        "anatomy/limb_segment.msh is stale: run the example"
    );
    assert!(shipped.len() < 2_000_000);
    let m = parse_msh(&shipped).unwrap().mesh;
    assert_eq!((m.positions.len(), m.tets.len()), (7581, 40800));
    assert_eq!(m.region_name(RegionId(4)), Some("vein"));
}

#[test]
fn shipped_vein_slab_matches_its_generator() {
    // examples/generate_anatomy.rs writes the default slab.
    let g = mesh::generate::vein_slab(&mesh::generate::VeinSlabParams::default());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../anatomy/vein_slab.msh");
    let shipped = std::fs::read(path).unwrap();
    let mut buf = Vec::new();
    write_msh(&mut buf, &g, MshVersion::V41, false).unwrap();
    assert!(
        buf == shipped,
        "anatomy/vein_slab.msh is stale: run the example"
    );
    assert!(shipped.len() < 2_500_000);
    let m = parse_msh(&shipped).unwrap().mesh;
    assert_eq!((m.positions.len(), m.tets.len()), (11220, 58368));
    assert_eq!(m.region_name(RegionId(5)), Some("vein_lumen"));
}

#[test]
fn sparse_node_ids_are_mapped_in_v1_v22_and_v41() {
    let v22 = "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n4\n10 0 0 0\n20 1 0 0\n500 0 1 0\n7 0 0 1\n$EndNodes\n$Elements\n1\n3 4 2 2 1 10 20 500 7\n$EndElements\n";
    let v1 = "$NOD\n4\n10 0 0 0\n20 1 0 0\n500 0 1 0\n7 0 0 1\n$ENDNOD\n$ELM\n1\n3 4 2 1 4 10 20 500 7\n$ENDELM\n";
    let v41 = "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Entities\n0 0 0 1\n5 0 0 0 1 1 1 1 2 0\n$EndEntities\n$Nodes\n2 4 7 500\n3 5 0 2\n10\n500\n0 0 0\n0 1 0\n3 5 0 2\n20\n7\n1 0 0\n0 0 1\n$EndNodes\n$Elements\n1 1 3 3\n3 5 4 1\n3 10 20 500 7\n$EndElements\n";
    for (name, src) in [("v2.2", v22), ("v1", v1), ("v4.1", v41)] {
        let m = parse_msh(src.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .mesh;
        let t = m.tets[0].map(|i| m.positions[i as usize]);
        assert_eq!(
            t,
            [
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0]
            ],
            "{name}"
        );
        assert_eq!(m.regions, vec![2], "{name}");
    }
}

#[test]
fn vtu_inline_binary_with_uint32_header() {
    let m = load("sofa/liver.msh");
    let arr = |ty: &str, name: &str, nc: usize, bytes: Vec<u8>| {
        let mut h = (bytes.len() as u32).to_le_bytes().to_vec();
        h.extend_from_slice(&bytes);
        format!(
            "<DataArray type=\"{ty}\" Name=\"{name}\" NumberOfComponents=\"{nc}\" format=\"binary\">\n  {}\n</DataArray>\n",
            b64(&h)
        )
    };
    let pts = m
        .positions
        .iter()
        .flatten()
        .flat_map(|v| (*v as f32).to_le_bytes())
        .collect();
    let conn = m
        .tets
        .iter()
        .flatten()
        .flat_map(|&v| (v as i32).to_le_bytes())
        .collect();
    let offs = (1..=m.tets.len() as i32)
        .flat_map(|i| (4 * i).to_le_bytes())
        .collect();
    let reg = m
        .regions
        .iter()
        .flat_map(|r| (r.0 as u16).to_le_bytes())
        .collect();
    let s = format!(
        "<VTKFile type=\"UnstructuredGrid\" header_type=\"UInt32\">\n<UnstructuredGrid>\n<Piece NumberOfPoints=\"{}\" NumberOfCells=\"{}\">\n<Points>{}</Points>\n<Cells>{}{}{}</Cells>\n<CellData>{}</CellData>\n</Piece>\n</UnstructuredGrid>\n</VTKFile>\n",
        m.positions.len(),
        m.tets.len(),
        arr("Float32", "Points", 3, pts),
        arr("Int32", "connectivity", 1, conn),
        arr("Int32", "offsets", 1, offs),
        arr("UInt8", "types", 1, vec![10; m.tets.len()]),
        arr("UInt16", "material", 1, reg),
    );
    let back = parse_vtu(s.as_bytes()).unwrap().mesh;
    assert_same(&m, &back, 1e-6, "inline UInt32");
}

#[test]
fn vtk_51_binary_offsets_connectivity_and_field_data() {
    // The layout VTK >= 9 writes: OFFSETS/CONNECTIVITY in CELLS, big-endian binary,
    // regions in a FIELD array, plus point data and METADATA to skip.
    let m = load("sofa/liver.msh");
    let (n, t) = (m.positions.len(), m.tets.len());
    let mut v = format!("# vtk DataFile Version 5.1\nvtk output\nBINARY\nDATASET UNSTRUCTURED_GRID\nPOINTS {n} double\n").into_bytes();
    v.extend(m.positions.iter().flatten().flat_map(|x| x.to_be_bytes()));
    v.extend_from_slice(b"\nMETADATA\nINFORMATION 0\n\n");
    v.extend_from_slice(format!("CELLS {} {}\nOFFSETS vtktypeint64\n", t + 1, 4 * t).as_bytes());
    v.extend((0..=t as i64).flat_map(|i| (4 * i).to_be_bytes()));
    v.extend_from_slice(b"\nCONNECTIVITY vtktypeint64\n");
    v.extend(
        m.tets
            .iter()
            .flatten()
            .flat_map(|&i| i64::from(i).to_be_bytes()),
    );
    v.extend_from_slice(format!("\nCELL_TYPES {t}\n").as_bytes());
    v.extend((0..t).flat_map(|_| 10i32.to_be_bytes()));
    v.extend_from_slice(
        format!("\nPOINT_DATA {n}\nSCALARS temp float 1\nLOOKUP_TABLE default\n").as_bytes(),
    );
    v.extend((0..n).flat_map(|i| (i as f32).to_be_bytes()));
    v.extend_from_slice(
        format!("\nCELL_DATA {t}\nFIELD FieldData 2\nquality 1 {t} float\n").as_bytes(),
    );
    v.extend((0..t).flat_map(|_| 1.0f32.to_be_bytes()));
    v.extend_from_slice(format!("\ngmsh:physical 1 {t} int\n").as_bytes());
    v.extend(m.regions.iter().flat_map(|r| r.0.to_be_bytes()));
    v.push(b'\n');
    let back = parse_vtk(&v).unwrap();
    assert_eq!(back.format, FileFormat::Vtk { binary: true });
    assert_same(&m, &back.mesh, 0.0, "vtk 5.1 binary");
    // Truncated binary data: a byte offset, not a line.
    let e = parse_vtk(&v[..v.len() / 2]).unwrap_err().to_string();
    assert!(e.contains("byte offset"), "{e}");
}

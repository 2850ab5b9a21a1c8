//! TEMPORARY box generator until the mesh branch lands.
use super::TetMesh;

/// A box of n[0] x n[1] x n[2] cubes, each split in 6 tets (Kuhn), region 1.
pub fn box_grid(n: [usize; 3], size: [f64; 3], origin: [f64; 3]) -> TetMesh {
    let idx = |i: usize, j: usize, k: usize| (i + (n[0] + 1) * (j + (n[1] + 1) * k)) as u32;
    let mut positions = Vec::new();
    for k in 0..=n[2] {
        for j in 0..=n[1] {
            for i in 0..=n[0] {
                positions.push([
                    origin[0] + size[0] * i as f64 / n[0] as f64,
                    origin[1] + size[1] * j as f64 / n[1] as f64,
                    origin[2] + size[2] * k as f64 / n[2] as f64,
                ]);
            }
        }
    }
    let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    let mut tets = Vec::new();
    for k in 0..n[2] {
        for j in 0..n[1] {
            for i in 0..n[0] {
                for p in perms {
                    let mut c = [i, j, k];
                    let mut t = [idx(c[0], c[1], c[2]); 4];
                    for (s, &axis) in p.iter().enumerate() {
                        c[axis] += 1;
                        t[s + 1] = idx(c[0], c[1], c[2]);
                    }
                    let x = |v: u32| positions[v as usize];
                    let d = |a: u32| super::super::model::sub(x(a), x(t[0]));
                    let det = super::super::model::dot(d(t[1]), super::super::model::cross(d(t[2]), d(t[3])));
                    if det < 0.0 {
                        t.swap(2, 3);
                    }
                    tets.push(t);
                }
            }
        }
    }
    let regions = vec![1; tets.len()];
    TetMesh { positions, tets, regions, region_names: Default::default() }
}

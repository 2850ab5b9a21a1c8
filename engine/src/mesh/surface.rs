//! Boundary surface of a tet mesh.

/// Faces used by exactly one tet, oriented outward for positively oriented tets (run
/// [`validate`](super::validate) first), in a deterministic order (by tet, then by the
/// face opposite vertex 0, 1, 2, 3). Faces used by three or more tets (non-manifold) are
/// not boundary faces.
pub fn boundary_triangles(tets: &[[u32; 4]]) -> Vec<[u32; 3]> {
    // Outward faces of a positive tet (a, b, c, d), face k opposite vertex k.
    const FACES: [[usize; 3]; 4] = [[1, 2, 3], [0, 3, 2], [0, 1, 3], [0, 2, 1]];
    let mut keys: Vec<([u32; 3], usize)> = Vec::with_capacity(tets.len() * 4);
    for (ti, t) in tets.iter().enumerate() {
        for (k, f) in FACES.iter().enumerate() {
            let mut key = [t[f[0]], t[f[1]], t[f[2]]];
            key.sort_unstable();
            keys.push((key, ti * 4 + k));
        }
    }
    keys.sort_unstable();
    let mut once: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i + 1;
        while j < keys.len() && keys[j].0 == keys[i].0 {
            j += 1;
        }
        if j - i == 1 {
            once.push(keys[i].1);
        }
        i = j;
    }
    once.sort_unstable();
    once.into_iter()
        .map(|id| {
            let t = tets[id / 4];
            let f = FACES[id % 4];
            [t[f[0]], t[f[1]], t[f[2]]]
        })
        .collect()
}

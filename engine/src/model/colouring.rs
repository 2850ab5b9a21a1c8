//! Graph colouring of tetrahedra for race-free parallel Gauss-Seidel.
//!
//! Two tets that share a vertex get different colours, so all tets of one colour can be
//! projected at the same time (one GPU dispatch or one CPU team phase per colour) without two
//! threads writing the same vertex. Hand-written because the graph is implicit (tets
//! adjacent through vertices) and a greedy pass over a vertex->tet adjacency is a few lines.

/// Result of [`colour_tets`]: a colour per tet and the number of colours.
#[derive(Clone, Debug)]
pub struct Colouring {
    /// Colour of each tet, in input order.
    pub colour: Vec<u32>,
    /// Number of colours used.
    pub num_colours: u32,
}

/// Greedy colouring: each tet takes the smallest colour no neighbour (tet sharing a vertex)
/// already has. Deterministic for a given input.
pub fn colour_tets(tets: &[[u32; 4]], num_vertices: usize) -> Colouring {
    // Vertex -> incident tets (CSR).
    let mut start = vec![0u32; num_vertices + 1];
    for t in tets {
        for &v in t {
            start[v as usize + 1] += 1;
        }
    }
    for i in 0..num_vertices {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut incident = vec![0u32; start[num_vertices] as usize];
    for (ti, t) in tets.iter().enumerate() {
        for &v in t {
            incident[fill[v as usize] as usize] = ti as u32;
            fill[v as usize] += 1;
        }
    }

    const NONE: u32 = u32::MAX;
    let mut colour = vec![NONE; tets.len()];
    let mut used: Vec<bool> = Vec::new();
    let mut num_colours = 0u32;
    for (ti, t) in tets.iter().enumerate() {
        used.clear();
        used.resize(num_colours as usize + 1, false);
        for &v in t {
            let (a, b) = (start[v as usize] as usize, start[v as usize + 1] as usize);
            for &nb in &incident[a..b] {
                let c = colour[nb as usize];
                if c != NONE {
                    used[c as usize] = true;
                }
            }
        }
        let c = used.iter().position(|u| !u).unwrap_or(used.len()) as u32;
        colour[ti] = c;
        num_colours = num_colours.max(c + 1);
    }
    Colouring {
        colour,
        num_colours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_never_share_a_colour() {
        // A strip of tets sharing faces plus one isolated tet.
        let tets = vec![[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [6, 7, 8, 9]];
        let c = colour_tets(&tets, 10);
        for i in 0..tets.len() {
            for j in 0..i {
                let share = tets[i].iter().any(|v| tets[j].contains(v));
                if share {
                    assert_ne!(c.colour[i], c.colour[j], "tets {i} and {j}");
                }
            }
        }
        assert_eq!(c.num_colours, 3);
        assert_eq!(c.colour[3], 0);
    }
}

//! Scene values changed before the scene is read (`vesalius run --set`, trials): the change
//! reaches what the scene builds, and a bad change is an error naming its key.

use std::path::Path;
use vesalius_cosim::{CoSimScene, Override};

fn phlebotomy() -> (String, std::path::PathBuf) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/phlebotomy.toml");
    (std::fs::read_to_string(&path).unwrap(), path)
}

/// The volume of the tets of region `name` in the scene's generated mesh.
fn region_volume(scene: &CoSimScene, name: &str) -> f64 {
    let (mesh, _) = scene.tissue().mesh().unwrap();
    let id = *mesh
        .region_names
        .iter()
        .find(|(_, n)| n.as_str() == name)
        .unwrap_or_else(|| panic!("no region {name}: {:?}", mesh.region_names))
        .0;
    (0..mesh.tets.len())
        .filter(|&t| mesh.regions[t] == id)
        .map(|t| mesh.tet_volume(t).unwrap().abs())
        .sum()
}

/// The vein's outer radius 2 mm to 2.5 mm (the wall stays 0.5 mm): the lumen's volume grows
/// as its cross-section, (2.0 / 1.5)^2 = 1.78 (within the mesh's resolution of the circle).
#[test]
fn a_changed_generator_value_reaches_the_mesh() {
    let (text, path) = phlebotomy();
    let base = CoSimScene::parse(&text, &path).unwrap();
    let wider = CoSimScene::parse_with(
        &text,
        &path,
        &["mesh.generator.vein_radius=0.0025"
            .parse::<Override>()
            .unwrap()],
    )
    .unwrap();
    let ratio = region_volume(&wider, "vein_lumen") / region_volume(&base, "vein_lumen");
    eprintln!("lumen volume ratio {ratio:.3} (cross-sections: 1.778)");
    assert!(
        (ratio / (2.0f64 / 1.5).powi(2) - 1.0).abs() < 0.1,
        "{ratio}"
    );
    // Materials by region, and an entry of an array of tables.
    let changed = CoSimScene::parse_with(
        &text,
        &path,
        &[
            Override::new("materials.skin.youngs_modulus", 6.0e4),
            Override::new("pin.0.offset", -0.021),
        ],
    )
    .unwrap();
    assert_eq!(changed.file.materials["skin"].youngs_modulus, 6.0e4);
    assert_eq!(base.file.materials["skin"].youngs_modulus, 5.0e4);
}

#[test]
fn bad_changes_are_errors_that_name_the_key() {
    let (text, path) = phlebotomy();
    let err = |s: &str| {
        CoSimScene::parse_with(&text, &path, &[s.parse().unwrap()])
            .unwrap_err()
            .to_string()
    };
    // A key the schema does not know (a typo), in a table and in the generator.
    let e = err("materials.skin.youngs_modulos=6e4");
    assert!(
        e.contains("youngs_modulos") && e.contains("phlebotomy.toml"),
        "{e}"
    );
    let e = err("mesh.generator.vein_radios=0.0025");
    assert!(e.contains("vein_radios"), "{e}");
    // A value of the wrong type, and an impossible one (checked as the scene's own are).
    let e = err("materials.skin.youngs_modulus=soft");
    assert!(e.contains("materials.skin.youngs_modulus=\"soft\""), "{e}");
    let e = err("materials.skin.poisson_ratio=0.7");
    assert!(
        e.contains("poisson") && e.contains("with materials.skin.poisson_ratio=0.7"),
        "{e}"
    );
    // Past the end of an array of tables.
    let e = err("pin.9.offset=0.0");
    assert!(e.contains("index 9") && e.contains("5 entries"), "{e}");
}

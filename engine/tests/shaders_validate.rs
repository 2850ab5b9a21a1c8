//! Every WGSL module the engine compiles parses and validates with naga (no GPU needed).

#[test]
fn every_shader_validates() {
    let sources = vesalius_engine::shaders::shader_sources();
    assert!(sources.len() >= 2);
    for s in sources {
        let module = naga::front::wgsl::parse_str(&s.source)
            .unwrap_or_else(|e| panic!("{}: {}", s.name, e.emit_to_string(&s.source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", s.name, e.emit_to_string(&s.source)));
    }
}

#[test]
fn every_wgsl_file_is_embedded() {
    // A shader file added to shaders/ but not to the engine would silently go unchecked.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shaders");
    let embedded: Vec<String> = vesalius_engine::shaders::shader_sources()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wgsl") {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel.ends_with("common.wgsl") || rel.ends_with("contact.wgsl") {
                    continue;
                }
                assert!(
                    embedded.contains(&rel),
                    "{rel} is not compiled by the engine"
                );
            }
        }
    }
}

// The tissue surface: flat-shaded triangles (one normal per face, expanded on the host),
// a colour per vertex from the field's colour map, a light from above the camera.

struct Camera {
    view_proj: mat4x4<f32>,
    // Direction the light travels (world, unit): from above and behind the camera; w unused.
    light: vec4<f32>,
    // The cut: what lies where dot(xyz, x) > w is not drawn (the section faces are on
    // the plane); xyz = 0 for no cut.
    clip: vec4<f32>,
};

@group(0) @binding(0) var<uniform> camera: Camera;

struct VertexIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    // w: 1 for the tissue (clipped by the cut), 0 for rigid bodies (never clipped).
    @location(2) colour: vec4<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) normal: vec3<f32>,
    @location(1) colour: vec4<f32>,
    @location(2) world: vec3<f32>,
};

@vertex
fn vs_main(v: VertexIn) -> VertexOut {
    var out: VertexOut;
    out.clip = camera.view_proj * vec4<f32>(v.position, 1.0);
    out.normal = v.normal;
    out.colour = v.colour;
    out.world = v.position;
    return out;
}

@fragment
fn fs_main(v: VertexOut) -> @location(0) vec4<f32> {
    // Beyond the cut (a micrometre of slack keeps the section faces, which lie on it).
    if (v.colour.w > 0.5 && dot(camera.clip.xyz, v.world) - camera.clip.w > 1e-6) {
        discard;
    }
    // Two-sided Lambert, with an ambient floor so that faces seen edge-on keep their colour
    // readable.
    let lambert = abs(dot(normalize(v.normal), camera.light.xyz));
    let shade = 0.35 + 0.65 * lambert;
    return vec4<f32>(v.colour.rgb * shade, 1.0);
}

// The tissue surface: flat-shaded triangles (one normal per face, expanded on the host),
// a colour per vertex from the field's colour map, a light from above the camera.

struct Camera {
    view_proj: mat4x4<f32>,
    // Direction the light travels (world, unit): from above and behind the camera; w unused.
    light: vec4<f32>,
    // The cut: what lies where dot(xyz, x) > w is not drawn (the section faces are on
    // the plane); xyz = 0 for no cut.
    clip: vec4<f32>,
    // x: the wireframe's line width (pixels), 0 for none; yzw unused.
    style: vec4<f32>,
};

@group(0) @binding(0) var<uniform> camera: Camera;

struct VertexIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    // w: 1 for the tissue (clipped by the cut), 0 for rigid bodies (never clipped).
    @location(2) colour: vec4<f32>,
    // Barycentric coordinates in the triangle (1, 1, 1 where no edges are drawn).
    @location(3) edge: vec3<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) normal: vec3<f32>,
    @location(1) colour: vec4<f32>,
    @location(2) world: vec3<f32>,
    @location(3) edge: vec3<f32>,
};

@vertex
fn vs_main(v: VertexIn) -> VertexOut {
    var out: VertexOut;
    out.clip = camera.view_proj * vec4<f32>(v.position, 1.0);
    out.normal = v.normal;
    out.colour = v.colour;
    out.world = v.position;
    out.edge = v.edge;
    return out;
}

@fragment
fn fs_main(v: VertexOut) -> @location(0) vec4<f32> {
    // Distance to the nearest edge in pixels (derivatives before any discard).
    let pixels = v.edge / max(fwidth(v.edge), vec3<f32>(1e-9));
    let to_edge = min(pixels.x, min(pixels.y, pixels.z));
    // Beyond the cut (a micrometre of slack keeps the section faces, which lie on it).
    if (v.colour.w > 0.5 && dot(camera.clip.xyz, v.world) - camera.clip.w > 1e-6) {
        discard;
    }
    // Two-sided Lambert, with an ambient floor so that faces seen edge-on keep their colour
    // readable.
    let lambert = abs(dot(normalize(v.normal), camera.light.xyz));
    let shade = 0.35 + 0.65 * lambert;
    // The wireframe: edges darkened, blended over a pixel for smooth lines.
    var wire = 0.0;
    if (camera.style.x > 0.0) {
        wire = 1.0 - clamp(to_edge - camera.style.x + 0.5, 0.0, 1.0);
    }
    return vec4<f32>(v.colour.rgb * shade * (1.0 - 0.7 * wire), 1.0);
}

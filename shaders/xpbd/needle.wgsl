// The needle, one invocation per pass (a needle holds a few dozen tissue points): the face
// ahead of the tip, the shaft points with stick-slip friction, the cutting force, and the
// puncture test after the solve. Mirrors needle_pass in engine/src/contact/needle.rs.

fn vworld(i: u32) -> vec3<f32> {
    return rest_pos[i].xyz + disp[i].xyz;
}

fn move_vertex(i: u32, d: vec3<f32>) {
    let q = disp[i];
    disp[i] = vec4<f32>(q.xyz + d, q.w);
}

// Moves the point at barycentric b of face v by dp, shared out by inverse mass (denom =
// sum w b^2); the impulse x dt on the needle. Mirrors move_face_point in needle.rs.
fn move_face_point(v: vec3<u32>, b: vec3<f32>, denom: f32, dp: vec3<f32>) -> vec3<f32> {
    for (var j = 0u; j < 3u; j++) {
        move_vertex(v[j], (disp[v[j]].w * b[j] / denom) * dp);
    }
    return -dp / denom;
}

fn needle_accumulate(imp: vec3<f32>, r: vec3<f32>) {
    needle.acc_force = needle.acc_force + vec4<f32>(imp, 0.0);
    needle.acc_torque = needle.acc_torque + vec4<f32>(cross(r, imp), 0.0);
}

fn needle_pass(pass_index: u32) {
    let tip = tool.needle[0].xyz;
    let a = tool.needle[1].xyz;
    let dt = params.gravity_dt.w;
    // Barrier face.
    if (needle.counts.y != 0u) {
        let v = needle.barrier_verts;
        let b = needle.barrier;
        var p = vec3<f32>(0.0);
        var wsum = 0.0;
        for (var j = 0u; j < 3u; j++) {
            p = p + b[j] * vworld(v[j]);
            wsum = wsum + disp[v[j]].w * b[j] * b[j];
        }
        let c = dot(p - tip, a);
        var axial = 0.0;
        if (c < 0.0 && wsum > 0.0) {
            let dp = tip - p;
            let imp = move_face_point(v.xyz, b.xyz, wsum, dp);
            needle_accumulate(imp, p - tip);
            axial = -dot(imp, a);
            needle.acc_parts.x = needle.acc_parts.x + axial;
        }
        if (pass_index == 0u) {
            needle.cut.y = axial;
        } else {
            let force = (needle.cut.y + axial) / (dt * dt);
            needle.acc_parts.w = max(needle.acc_parts.w, force);
            if (force >= b.w) {
                needle.counts.y = 0u;
                needle.counts.w = tool.counts.w + 1u;
                needle.puncture = vec4<f32>(tip, force);
            }
        }
    }
    // The shaft against the surface faces near it (set only while the tip touches nothing).
    let sr = needle.shaft.x;
    let s0 = tip - needle.shaft.z * a;
    let s1 = tip - needle.shaft.y * a;
    for (var k = 0u; k < needle.shaft_counts.x; k++) {
        let f = needle.shaft_faces[k];
        let w = vec3<f32>(disp[f.x].w, disp[f.y].w, disp[f.z].w);
        let t0 = vworld(f.x);
        let t1 = vworld(f.y);
        let t2 = vworld(f.z);
        var b = vec3<f32>(0.0);
        let c = shaft_contact(s0, s1, sr, t0, t1, t2, w, &b);
        if (c.w > 0.0) {
            let p = at_bary(t0, t1, t2, b);
            needle_accumulate(move_face_point(f.xyz, b, c.w, c.xyz), p - tip);
        }
    }
    // Shaft points.
    for (var k = 0u; k < needle.counts.x; k++) {
        var t = needle.tracks[k];
        if (t.state.w == 0.0) {
            continue;
        }
        var p = vec3<f32>(0.0);
        var wsum = 0.0;
        for (var j = 0u; j < 4u; j++) {
            p = p + t.bary[j] * vworld(t.verts[j]);
            wsum = wsum + disp[t.verts[j]].w * t.bary[j] * t.bary[j];
        }
        let r = p - tip;
        let s = dot(r, a);
        if (s > 0.0 || wsum == 0.0) {
            needle.tracks[k].state.w = 0.0;
            continue;
        }
        let lat = r - s * a;
        let e = s - t.state.x;
        let need = abs(e) / (wsum * dt * dt);
        var ax = -e;
        if (need > t.state.y) {
            let lim = t.state.z * wsum * dt * dt;
            if (e > 0.0) {
                ax = -lim;
            } else {
                ax = lim;
            }
            needle.tracks[k].state.x = s + ax;
        }
        let dp = -lat + ax * a;
        for (var j = 0u; j < 4u; j++) {
            let i = t.verts[j];
            move_vertex(i, (disp[i].w * t.bary[j] / wsum) * dp);
        }
        let imp = -dp / wsum;
        needle_accumulate(imp, r);
        needle.acc_parts.y = needle.acc_parts.y - dot(imp, a);
    }
    // Cutting force while the tip advances.
    if (pass_index == 0u && needle.counts.z != 0u) {
        let prev_tip = tool.needle[2].xyz;
        let adv = dot(tip - prev_tip, a);
        if (adv > 0.0) {
            let f = needle.cut.x * dt * dt;
            var p = vec3<f32>(0.0);
            for (var j = 0u; j < 4u; j++) {
                let i = needle.tip_verts[j];
                move_vertex(i, (disp[i].w * needle.tip_bary[j] * f) * a);
                p = p + needle.tip_bary[j] * vworld(i);
            }
            needle_accumulate(-f * a, p - tip);
            needle.acc_parts.z = needle.acc_parts.z + f;
        }
    }
}

@compute @workgroup_size(1)
fn needle_before_solve() {
    needle_pass(0u);
}

@compute @workgroup_size(1)
fn needle_after_solve() {
    needle_pass(1u);
}

// Sums contact_acc over the vertices: one partial (impulse, moment) per workgroup and body,
// written after the per-vertex entries; the host adds the partials.
var<workgroup> red: array<vec4<f32>, 128>;

@compute @workgroup_size(64)
fn reduce_contacts(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let nb = tool.counts.x;
    let nv = params.counts.x;
    let stride = nwg.x * 64u;
    for (var b = 0u; b < nb; b++) {
        var f = vec4<f32>(0.0);
        var m = vec4<f32>(0.0);
        for (var i = wid.x * 64u + lid.x; i < nv; i += stride) {
            let idx = (i * nb + b) * 2u;
            f = f + contact_acc[idx];
            m = m + contact_acc[idx + 1u];
        }
        red[lid.x] = f;
        red[lid.x + 64u] = m;
        workgroupBarrier();
        for (var s = 32u; s > 0u; s = s >> 1u) {
            if (lid.x < s) {
                red[lid.x] = red[lid.x] + red[lid.x + s];
                red[lid.x + 64u] = red[lid.x + 64u] + red[lid.x + 64u + s];
            }
            workgroupBarrier();
        }
        if (lid.x == 0u) {
            let o = nv * nb * 2u + (wid.x * nb + b) * 2u;
            contact_acc[o] = red[0];
            contact_acc[o + 1u] = red[64];
        }
        workgroupBarrier();
    }
}

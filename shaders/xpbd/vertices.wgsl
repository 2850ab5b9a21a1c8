// Per-vertex kernels of a substep: predict (before the tet sweeps) and finalize (after).
// Mirrors CpuXpbd::substep in engine/src/solver/cpu.rs.

@compute @workgroup_size(WORKGROUP)
fn predict(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.counts.x) {
        return;
    }
    let q = disp[i];
    prev[i] = q;
    let w = q.w;
    if (w > 0.0) {
        let dt = params.gravity_dt.w;
        var f = vec3<f32>(0.0);
        if (params.counts.z != 0u) {
            f = forces[i].xyz;
        }
        let v = (vel[i].xyz + dt * (params.gravity_dt.xyz + w * f)) * params.misc.y;
        vel[i] = vec4<f32>(v, 0.0);
        disp[i] = vec4<f32>(q.xyz + dt * v, w);
    } else {
        // A pinned vertex moves with its support's velocity (zero unless drive_pins set
        // one; unreferenced vertices stay at rest).
        disp[i] = vec4<f32>(q.xyz + params.gravity_dt.w * vel[i].xyz, w);
    }
}

// At the start of a frame that moves the supports: each pinned vertex's velocity takes it
// to its target by the frame's end (CpuXpbd::run_frames).
@compute @workgroup_size(WORKGROUP)
fn drive_pins(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    if (k >= arrayLength(&pin_drive)) {
        return;
    }
    let d = pin_drive[k];
    let i = bitcast<u32>(d.w);
    if (i >= params.counts.x) {
        return;
    }
    vel[i] = vec4<f32>((d.xyz - disp[i].xyz) * params.misc.w, 0.0);
}

// At the start of the first frame after a drive: the supports stop.
@compute @workgroup_size(WORKGROUP)
fn hold_pins(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    if (k >= arrayLength(&pin_drive)) {
        return;
    }
    let i = bitcast<u32>(pin_drive[k].w);
    if (i >= params.counts.x) {
        return;
    }
    vel[i] = vec4<f32>(0.0);
}

fn not_finite(x: f32) -> bool {
    // Bit test: immune to fast-math folding of x != x.
    return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

fn report(i: u32, kind: u32, s2: f32) {
    let step = atomicLoad(&status[2]);
    let old = atomicMin(&status[0], step);
    if (old > step) {
        atomicStore(&status[1], i);
        atomicStore(&status[3], kind);
        atomicStore(&status[4], bitcast<u32>(s2));
    }
}

// Static planes with Coulomb friction on this substep's tangential motion (collide_plane in
// engine/src/solver/cpu.rs). `x` is the displacement, `x0` the rest position.
fn collide_planes(x_in: vec3<f32>, p: vec3<f32>, x0: vec3<f32>) -> vec3<f32> {
    var x = x_in;
    for (var k = 0u; k < params.counts.y; k++) {
        let pl = params.planes[k];
        let n = pl.normal_offset.xyz;
        let s = (dot(x0, n) - pl.normal_offset.w) + dot(x, n);
        if (s < 0.0) {
            let depth = -s;
            x = x + depth * n;
            let d = x - p;
            let t = d - dot(d, n) * n;
            let tl = length(t);
            if (tl > 0.0) {
                var fr = 1.0;
                if (tl > pl.friction.x * depth) {
                    fr = min(pl.friction.y * depth / tl, 1.0);
                }
                x = x - fr * t;
            }
        }
    }
    return x;
}

// Planes, tool shapes and attachments (contact.wgsl), between the warm start and the solve,
// so the solve sees the contact.
@compute @workgroup_size(WORKGROUP)
fn collide(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.counts.x) {
        return;
    }
    let q = disp[i];
    if (q.w == 0.0) {
        return;
    }
    let p = prev[i].xyz;
    let x0 = rest_pos[i].xyz;
    let x = contact_vertex(i, collide_planes(q.xyz, p, x0), p, x0, q.w);
    disp[i] = vec4<f32>(x, q.w);
}

@compute @workgroup_size(WORKGROUP)
fn finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.counts.x) {
        return;
    }
    let q = disp[i];
    if (q.w == 0.0) {
        return;
    }
    let p = prev[i].xyz;
    let x0 = rest_pos[i].xyz;
    finish_vertex(i, contact_vertex(i, collide_planes(q.xyz, p, x0), p, x0, q.w), p, q.w);
}

// Velocity from the substep's motion, and the guards' per-vertex checks.
fn finish_vertex(i: u32, x: vec3<f32>, p: vec3<f32>, w: f32) {
    let v = (x - p) * params.misc.x;
    disp[i] = vec4<f32>(x, w);
    vel[i] = vec4<f32>(v, 0.0);
    let s2 = dot(v, v);
    if (not_finite(x.x) || not_finite(x.y) || not_finite(x.z) || not_finite(s2)) {
        report(i, 1u, s2);
    } else if (s2 > params.misc.z) {
        report(i, 2u, s2);
    }
}

// Face contact, first half (after collide): each surface triangle's proposals.
@compute @workgroup_size(WORKGROUP)
fn faces(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= surface[0]) {
        return;
    }
    face_contact(gid.x);
}

// Face contact, second half, before the solve.
@compute @workgroup_size(WORKGROUP)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.counts.x) {
        return;
    }
    let q = disp[i];
    if (q.w == 0.0) {
        return;
    }
    disp[i] = vec4<f32>(gather_vertex(i, q.xyz, rest_pos[i].xyz, q.w), q.w);
}

// Face contact, second half, at the end of the substep (after collide and faces): then
// the velocities as in finalize.
@compute @workgroup_size(WORKGROUP)
fn gather_finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.counts.x) {
        return;
    }
    let q = disp[i];
    if (q.w == 0.0) {
        return;
    }
    let p = prev[i].xyz;
    finish_vertex(i, gather_vertex(i, q.xyz, rest_pos[i].xyz, q.w), p, q.w);
}

// The end of each frame, one workgroup: sums the energy partials of guard_sums in a fixed
// tree, judges the frame's guard sums against the limits (Guards::judge) and the energy
// against its watch (EnergyWatch::observe with no input or an unknown one), keeps the first
// breaking frame's figures, clears the sums for the next frame, and advances the frame
// counter used by `report`.
@compute @workgroup_size(WORKGROUP)
fn end_frame(@builtin(local_invocation_index) lid: u32) {
    let judged = params.guards.x != 0u;
    let mode = params.guards.w;
    var e = vec3<f32>(0.0);
    if (judged && mode != 2u) {
        let parts = (max(params.counts.x, params.counts.w) + WORKGROUP - 1u) / WORKGROUP;
        for (var g = lid; g < parts; g += WORKGROUP) {
            let at = STATUS_PARTIALS + 3u * g;
            e += vec3<f32>(
                bitcast<f32>(atomicLoad(&status[at])),
                bitcast<f32>(atomicLoad(&status[at + 1u])),
                bitcast<f32>(atomicLoad(&status[at + 2u])),
            );
        }
    }
    let t = workgroup_sum3(lid, e);
    if (lid != 0u) {
        return;
    }
    let frame = atomicLoad(&status[2]) + 1u;
    if (judged) {
        var broken = false;
        for (var m = 0u; m < params.guards.y; m++) {
            let h = params.health[m];
            let inverted = atomicLoad(&status[STATUS_INVERTED + m]);
            let ratio = 1.0 + f32(bitcast<i32>(atomicLoad(&status[STATUS_VOLUME + m]))) / VOLUME_FIXED_ONE;
            broken = broken || f32(inverted) > h.x || ratio < h.y || ratio > h.z;
        }
        let s2 = atomicLoad(&status[STATUS_SPEED2]);
        broken = broken || bitcast<f32>(s2) > bitcast<f32>(params.guards.z);
        // The energy watch.
        var energy_broken = false;
        var growth = 0.0;
        var scale = 0.0;
        if (mode != 2u) {
            let total = t.x + t.y + t.z;
            scale = max(bitcast<f32>(atomicLoad(&status[STATUS_SCALE])), max(abs(t.x), max(abs(t.y), abs(t.z))));
            atomicStore(&status[STATUS_SCALE], bitcast<u32>(scale));
            let has = atomicLoad(&status[STATUS_HAS_LOWEST]) != 0u;
            var lowest = bitcast<f32>(atomicLoad(&status[STATUS_LOWEST]));
            let ok = (bitcast<u32>(total) & 0x7f800000u) != 0x7f800000u;
            if (mode == 1u || !ok || !has || !(total >= lowest)) {
                lowest = total;
            }
            atomicStore(&status[STATUS_LOWEST], bitcast<u32>(lowest));
            atomicStore(&status[STATUS_HAS_LOWEST], 1u);
            if (mode == 0u && ok && has && scale > 0.0) {
                growth = total - lowest;
                scale = max(scale, params.energy.y);
                energy_broken = growth > params.energy.x * scale;
            }
        }
        if ((broken || energy_broken) && atomicLoad(&status[STATUS_BREACH_FRAME]) == 0xffffffffu) {
            atomicStore(&status[STATUS_BREACH_FRAME], frame);
            atomicStore(&status[STATUS_BREACH_SPEED2], s2);
            atomicStore(&status[STATUS_BREACH_GROWTH], bitcast<u32>(growth));
            atomicStore(&status[STATUS_BREACH_SCALE], bitcast<u32>(scale));
            atomicStore(&status[STATUS_BREACH_ENERGY], u32(energy_broken));
            for (var m = 0u; m < params.guards.y; m++) {
                atomicStore(&status[STATUS_BREACH_INVERTED + m], atomicLoad(&status[STATUS_INVERTED + m]));
                atomicStore(&status[STATUS_BREACH_VOLUME + m], atomicLoad(&status[STATUS_VOLUME + m]));
            }
        }
        for (var m = 0u; m < params.guards.y; m++) {
            atomicStore(&status[STATUS_INVERTED + m], 0u);
            atomicStore(&status[STATUS_VOLUME + m], 0u);
        }
        atomicStore(&status[STATUS_SPEED2], 0u);
    }
    atomicAdd(&status[2], 1u);
}

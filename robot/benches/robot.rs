//! Benchmarks: physics stepping of PD-controlled arms and IK solve time.
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use vesalius_robot::prelude::*;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/robots"
    ))
    .join(rel)
}

fn own(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../robots")).join(rel)
}

fn robots() -> Vec<(&'static str, RobotModel, &'static str)> {
    let opts = LoadOptions::default();
    vec![
        (
            "iiwa",
            load_file(data("kuka_iiwa/model.urdf"), &opts).unwrap(),
            "lbr_iiwa_link_7",
        ),
        (
            "psm1",
            load_file(data("dvrk_psm1/PSM1.urdf"), &opts).unwrap(),
            "PSM1_tool_tip_link",
        ),
        (
            "laparoscopic_arm",
            load_file(own("laparoscopic_arm/laparoscopic_arm.urdf"), &opts).unwrap(),
            "tool_tip",
        ),
    ]
}

fn bench_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    for (name, model, _) in robots() {
        let mut world = RobotWorld::new();
        let id = world
            .add_robot(
                &model,
                BasePlacement::Fixed(Isometry3::identity()),
                &SimOptions::default(),
            )
            .unwrap();
        let q = model.neutral_configuration();
        world.set_configuration(id, &q).unwrap();
        let ctl = world.control_mut(id).unwrap();
        ctl.gravity_compensation = true;
        ctl.set_position_targets(&q, None, Gains::new(1000.0, 50.0))
            .unwrap();
        group.bench_function(name, |b| b.iter(|| world.step()));
        black_box(world.state(id).unwrap().q[0]);
    }
    group.finish();
    let mut group = c.benchmark_group("state_readback");
    for (name, model, _) in robots() {
        let mut world = RobotWorld::new();
        let id = world
            .add_robot(
                &model,
                BasePlacement::Fixed(Isometry3::identity()),
                &SimOptions::default(),
            )
            .unwrap();
        world.step();
        group.bench_function(name, |b| {
            b.iter(|| black_box(world.state(id).unwrap().q.len()))
        });
    }
    group.finish();
}

fn bench_ik(c: &mut Criterion) {
    let mut group = c.benchmark_group("ik_pose");
    for (name, model, tool) in robots() {
        let link = model.link_id(tool).unwrap();
        let q0 = model.neutral_configuration();
        // A target 0.3 rad away in every joint (clamped to the limits).
        let q_target: Vec<f64> = model
            .dof_limits()
            .iter()
            .zip(&q0)
            .map(|(&(lo, hi), q)| (q + 0.3).max(lo).min(hi))
            .collect();
        let target = IkTarget::Pose(model.link_pose(&q_target, link).unwrap());
        let opts = IkOptions::default();
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    solve_ik(&model, link, &target, &q0, &opts)
                        .unwrap()
                        .iterations,
                )
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("fk_all_links");
    for (name, model, _) in robots() {
        let q = model.neutral_configuration();
        group.bench_function(name, |b| {
            b.iter(|| black_box(model.link_poses(&q).unwrap().len()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_step, bench_ik);
criterion_main!(benches);

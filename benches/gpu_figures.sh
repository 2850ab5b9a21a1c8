#!/usr/bin/env bash
# The hardware-GPU figures of the README in one run, on a machine with a GPU and its Vulkan
# driver, from release binaries built elsewhere (this is how the H200 figures were taken:
# the machine was lent for minutes, so nothing is built there).
#
# Build (on any x86-64 Linux machine, from the repository root):
#   cargo build --release --bin vesalius
#   cargo bench --no-run --bench rollout_batch --bench cosim_frame --bench tissue_step
#   benches/gpu_figures.sh pack            # stripped binaries into .bin/ (git-ignored)
# Run (on the GPU machine, from the repository root, with .bin/ beside it):
#   benches/gpu_figures.sh run OUT_DIR
#
# The criterion benches find `scenes/` through the path they were built at
# (CARGO_MANIFEST_DIR); `run` links that path to this checkout when it is missing.
# Every step has its own time limit, so a slow one costs its own figures only.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

pack() {
    mkdir -p .bin
    cp target/release/vesalius .bin/vesalius
    for b in rollout_batch cosim_frame tissue_step; do
        # The newest build of each bench (cargo names them NAME-HASH).
        f=$(ls -t target/release/deps/"$b"-* | grep -v '\.d$' | head -1)
        cp "$f" ".bin/$b"
    done
    strip .bin/vesalius .bin/rollout_batch .bin/cosim_frame .bin/tissue_step
    # Compressed: what travels to a lent machine is limited (64 MiB with the checkout).
    (cd .bin && tar cf - vesalius rollout_batch cosim_frame tissue_step | xz -T2 -6 >bins.tar.xz &&
        rm vesalius rollout_batch cosim_frame tissue_step)
    # Where the benches will look for scenes/ (the path they were built at).
    pwd >.bin/manifest_dir
    ls -la .bin
}

run() {
    out="${1:?output folder}"
    mkdir -p "$out"
    if [ -f .bin/bins.tar.xz ]; then
        tar xJf .bin/bins.tar.xz -C .bin ||
            python3 -c 'import tarfile; tarfile.open(".bin/bins.tar.xz").extractall(".bin")'
    fi
    built_at=$(cat .bin/manifest_dir 2>/dev/null || true)
    if [ -n "$built_at" ] && [ ! -e "$built_at/scenes" ]; then
        mkdir -p "$(dirname "$built_at")"
        ln -s "$here" "$built_at"
    fi
    # Five files in all (what a lent machine sends back is counted): the machine first.
    (nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) >"$out/bench.txt" 2>&1
    (nproc && grep -m1 'model name' /proc/cpuinfo) >>"$out/bench.txt" 2>&1
    step() { # step SECONDS LOG COMMAND...
        local limit=$1 log=$2
        shift 2
        local t0=$SECONDS
        timeout "$limit" "$@" >>"$out/$log" 2>&1
        echo "== rc $? in $((SECONDS - t0)) s: $*" | tee -a "$out/$log"
    }
    # The reference blocks, GPU then CPU (the CPU rows are this machine's CPU, all threads).
    step 110 bench.txt .bin/vesalius bench --backends gpu,cpu --sizes 5000,40000,160000,640000 --frames 30
    # The clinical scenes on the GPU, their first simulated second.
    for s in phlebotomy palpation retraction; do
        step 55 scenes.txt .bin/vesalius run "scenes/$s.toml" --backend gpu --duration 1.0 \
            --out "/tmp/gpu_run_$s" --force -q
        cat "/tmp/gpu_run_$s/summary.json" >>"$out/scenes.txt" 2>/dev/null
    done
    # Batched rollouts on the GPU.
    VESALIUS_BENCH_BACKENDS=gpu VESALIUS_BENCH_K=1,4,16 \
        step 90 rollout_batch.txt .bin/rollout_batch --bench --noplot
    # The guards' cost on the GPU.
    step 35 tissue_step.txt .bin/tissue_step --bench --noplot 'guards/gpu'
    # One coupled frame of each scene on the GPU (warm-up to 60 % of the scene first).
    VESALIUS_BENCH_BACKENDS=gpu step 100 cosim_frame.txt .bin/cosim_frame --bench --noplot
}

case "${1:-}" in
pack) pack ;;
run) run "${2:-}" ;;
*)
    echo "usage: $0 pack | run OUT_DIR" >&2
    exit 2
    ;;
esac

#!/usr/bin/env python3
"""The rayon measurement of docs/PERFORMANCE.md (issue 21): the driver's group tasks against the
groups forked and joined on rayon's pool inside the route step (rayon-groups.patch). Build both:

  cargo build --release && cp target/release/maillogconv /tmp/mlc-pool
  git apply docs/experiments/rayon-groups.patch
  cargo build --release --features rayon-groups && cp target/release/maillogconv /tmp/mlc-rayon
  git checkout Cargo.toml Cargo.lock src/

then run this (5 interleaved rounds on scripts/bench's 1 GiB log and rotated gzip set).
"""
import statistics, subprocess, time, os, sys
L = "/tmp/maillogconv-bench/bench-postfix-1G.log"
D = "/tmp/maillogconv-bench/bench-rot7-500M-gz"
def run(binary, j, inp, rayon_threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(rayon_threads))
    t0 = time.perf_counter()
    subprocess.run([binary, "-j%d" % j, "--year", "2026", "--tz", "UTC", inp], stdout=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - t0
res = {}
for inp, name in ((L, "postfix-1G"), (D, "rot7-gz")):
    for rnd in range(5):
        for binary, label in (("/tmp/mlc-pool", "pool"), ("/tmp/mlc-rayon", "rayon")):
            for j in (1, 2):
                res.setdefault((name, label, j), []).append(run(binary, j, inp, j))
for (name, label, j), v in sorted(res.items()):
    print("%-11s %-6s -j%d median %.2f s  (%s)" % (name, label, j, statistics.median(v), " ".join("%.2f" % x for x in v)))

#!/usr/bin/env python3
"""Where a run's time goes, by leaving steps out (docs/PERFORMANCE.md, issue 21). bounds.patch
adds `MLC_SKIP` (a comma list of parse, merge, render, write): a step left out does nothing, so
the output is wrong; the differences between the variants are each step's wall and CPU time.
Build it apart from the tree:

  git apply docs/experiments/bounds.patch
  cargo build --release && cp target/release/maillogconv /tmp/mlc-bounds
  git checkout src/

then run this with the inputs of scripts/bench (`scripts/bench --generate-only`):

  docs/experiments/bounds.py [ROUNDS]
"""
import os, resource, statistics, subprocess, sys, time

BIN = os.environ.get("MLC_BOUNDS_BIN", "/tmp/mlc-bounds")
DIR = "/tmp/maillogconv-bench"
INPUTS = [("postfix-1G", os.path.join(DIR, "bench-postfix-1G.log")),
          ("sendmail-200M", os.path.join(DIR, "bench-sendmail-200M.log"))]
# Each variant leaves out one step more than the one before it.
VARIANTS = [("all", ""), ("-write", "write"), ("-render", "write,render"),
            ("-merge", "write,render,merge"), ("-parse", "write,render,merge,parse")]
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def run(j, skip, path):
    env = dict(os.environ, MLC_SKIP=skip)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([BIN, "-j%d" % j, "--year", "2026", "--tz", "UTC", path],
                   stdout=subprocess.DEVNULL, env=env, check=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


for name, path in INPUTS:
    res = {}
    for _ in range(ROUNDS):
        for j in (1, 2):
            for label, skip in VARIANTS:
                res.setdefault((j, label), []).append(run(j, skip, path))
    print("%s (%d rounds, medians; a step's share is its variant's time less the next one's)" % (name, ROUNDS))
    for j in (1, 2):
        prev = None
        for label, _ in reversed(VARIANTS):
            v = res[(j, label)]
            w = statistics.median(x[0] for x in v)
            c = statistics.median(x[1] for x in v)
            step = "" if prev is None else "  step %+.2f s wall %+.2f s CPU" % (w - prev[0], c - prev[1])
            print("  -j%d %-8s wall %6.2f s  CPU %6.2f s%s" % (j, label, w, c, step))
            prev = (w, c)

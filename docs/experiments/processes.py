#!/usr/bin/env python3
"""Two threads against two processes (docs/PERFORMANCE.md, eighteenth session, issue 21).

Each round runs on scripts/bench's 1 GiB Postfix log: `-j1` alone, two `-j1` at once, and `-j2`,
with a build of trace-cpu.patch, which makes each worker print the CPU time of the pipeline steps
it ran (MLC_TRACE). It prints each run's step CPU against `-j1` alone's, and the core-to-core
latency before and after the round: two processes that share nothing written against one
process whose two workers hand each other every chunk's data.

  git apply docs/experiments/trace-cpu.patch
  cargo build --release && cp target/release/maillogconv /tmp/mlc-trace
  git checkout src/
  cargo build --release --example core_latency
  docs/experiments/processes.py --rounds 6 /tmp/mlc-trace
  docs/experiments/processes.py --rounds 6 --steps /tmp/mlc-trace   (-j2 against -j1, step by step)
"""
import argparse
import collections
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from benchlib import core_latency  # noqa: E402

LOG = "/tmp/maillogconv-bench/bench-postfix-1G.log"


def start(binary, j):
    env = dict(os.environ, MLC_TRACE="1")
    return subprocess.Popen([binary, "-j%d" % j, "--year", "2026", LOG], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)


STEPS = ["read", "map", "first stage", "split", "task", "second stage"]


def by_step(proc):
    """The CPU milliseconds of each kind of step the run's workers ran (group tasks together)."""
    _, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit("processes: a run failed")
    got = collections.Counter()
    for line in err.splitlines():
        if line.startswith("worker"):
            for name, ms in re.findall(r"(first stage|map|read|second stage|split|task g\d+|open)=\d+/(\d+)ms", line):
                got["task" if name.startswith("task") else name] += int(ms)
    return got


def steps_ms(proc):
    """The CPU milliseconds of every step the run's workers ran, summed."""
    return sum(by_step(proc).values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--steps", action="store_true", help="-j1 against -j2, each step's CPU")
    ap.add_argument("binary")
    a = ap.parse_args()
    if a.steps:
        print("%9s " % "ns" + " ".join("%12s" % k for k in STEPS) + "   total")
    for _ in range(a.rounds):
        before = core_latency()
        if a.steps:
            one, two = by_step(start(a.binary, 1)), by_step(start(a.binary, 2))
            print("%4.0f -j1  " % before + " ".join("%12d" % one[k] for k in STEPS) + "   %d" % sum(one.values()))
            print("     -j2  " + " ".join("%12d" % two[k] for k in STEPS) + "   %d" % sum(two.values()))
            print("%4.0f j2/j1" % core_latency() + " ".join("%12.2f" % (two[k] / max(one[k], 1)) for k in STEPS)
                  + "   %.3f" % (sum(two.values()) / sum(one.values())), flush=True)
            continue
        alone = steps_ms(start(a.binary, 1))
        pair = [start(a.binary, 1), start(a.binary, 1)]
        both = [steps_ms(p) for p in pair]
        j2 = steps_ms(start(a.binary, 2))
        print("%4.0f %4.0f ns  -j1 alone %d ms;  two -j1 at once %d and %d ms (%.3f, %.3f);  -j2 %d ms (%.3f)" % (
            before, core_latency(), alone, both[0], both[1], both[0] / alone, both[1] / alone, j2, j2 / alone),
            flush=True)


if __name__ == "__main__":
    main()

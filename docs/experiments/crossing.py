#!/usr/bin/env python3
"""What `-j2`'s extra CPU time comes from (docs/PERFORMANCE.md, eighteenth session, issue 21).

`-j2` pinned to one CPU (taskset) runs one worker (workers are capped at the CPUs the process
may use), so it costs what `-j1` does; on both CPUs its two workers cost 11-28% more. Each
variant of crossing.patch changes one thing that could make the second worker cost more (which
core runs a group, which buffer a thread is handed, where a line is parsed, the chunk size).
This runs a build of the patch with two settings of the variables (each a comma-separated list
of VAR=VALUE, or `-` for none), each pinned to one CPU and not, interleaved, and prints for
each setting the median of (CPU time on two CPUs) / (CPU time on one) over the rounds. A
variant that removed what the second worker costs would bring its ratio down towards 1.

  git apply docs/experiments/crossing.patch
  cargo build --release && cp target/release/maillogconv /tmp/mlc-crossing
  git checkout src/
  docs/experiments/crossing.py --rounds 10 /tmp/mlc-crossing - MLC_REPARSE=1
  docs/experiments/crossing.py --rounds 10 /tmp/mlc-crossing - MLC_PREAD=1,MLC_EXP=2,MLC_NOWRITE=1

Variables of the patch: MLC_REPARSE=1 (each group parses its own lines again from the chunk's
bytes instead of reading the parsed lines: what a design that routes raw lines to the group
that parses them would cross between the cores), MLC_PREAD=1 (as MLC_REPARSE, from a copy of
the chunk's bytes the group's thread reads from the file itself with pread: no byte another
core wrote; plain files only), MLC_EXP=2 (a group's task runs only on its own worker),
MLC_EXP=1 (the serial steps only on the first worker), MLC_AFF=1 (a pool hands a thread the
buffer it last took itself), MLC_PF=N (a group prefetches its line N lines ahead),
MLC_CHUNK=KiB (the chunk size), MLC_NOWRITE=1 (rendered lines are not written: the writer reads
none of the bytes the groups wrote; the output is empty). Needs `cargo build --release
--example core_latency` and the 1 GiB log of scripts/bench (`scripts/bench --generate-only`).
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from benchlib import core_latency  # noqa: E402

LOG = "/tmp/maillogconv-bench/bench-postfix-1G.log"


def setting(text):
    """`A=1,B=2` as a dict; `-` for none."""
    return {} if text == "-" else dict(kv.split("=", 1) for kv in text.split(","))


def run(binary, values, cpus):
    """Wall and CPU seconds (user + system) of one `-j2` run."""
    env = dict(os.environ, **setting(values))
    cmd = (["taskset", "-c", "0"] if cpus == "one" else []) + [binary, "-j2", "--year", "2026", LOG]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("binary")
    ap.add_argument("a")
    ap.add_argument("b")
    a = ap.parse_args()
    configs = [(a.a, "one"), (a.a, "two"), (a.b, "one"), (a.b, "two")]
    got = {c: [] for c in configs}
    for n in range(a.rounds):
        before = core_latency()
        cells = []
        for c in configs if n % 2 == 0 else configs[::-1]:
            wall, cpu = run(a.binary, c[0], c[1])
            got[c].append(cpu)
            cells.append("[%s] %s CPU%s %.2f/%.2f s" % (c[0], c[1], "" if c[1] == "one" else "s", wall, cpu))
        print("%2d  %4.0f %4.0f ns  %s" % (n, before, core_latency(), "  ".join(cells)), flush=True)
    for value in (a.a, a.b):
        one, two = got[(value, "one")], got[(value, "two")]
        ratios = [t / o for o, t in zip(one, two)]
        print("[%s]: CPU one %.3f s, two %.3f s; two/one median %.3f" % (
            value, statistics.median(one), statistics.median(two), statistics.median(ratios)))


if __name__ == "__main__":
    main()

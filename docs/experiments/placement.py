#!/usr/bin/env python3
"""Runs sorted by where the host had put the two virtual CPUs (docs/PERFORMANCE.md, issue 21).
The host moves them, minutes apart, between ~30 ns and ~250 ns core to core
(examples/core_latency.rs), and timings taken across a move are not comparable. Each round
reads the latency before and after its runs; a round counts as "close" when both readings are
under 100 ns, "far" when both are at least 100 ns, and neither when it straddled a move.

  ab A B [ARGS...]  A/B of two builds (order alternating by round): medians of B/A per class.
  ceiling [ARGS...] -j1, -j2 and two -j1 at once each round: -j2's speed-up and the ceiling
                    that two independent copies of the work reach in the same round.
  pinned A B [ARGS...]  A and B at the same time, one on each CPU (taskset), the CPUs swapped
                    each round: both meet the same spell of the host, so their ratio drifts far
                    less than runs taken one after the other (fifteenth session: identical
                    builds 0.978 and 0.995 over 20 rounds, where five identical runs one after
                    the other gave medians 1.00-1.17 over 10). For one-thread runs (-j1, the
                    default ARGS' first); each run's CPU time (user + system) is compared.

ARGS default to the 1 GiB Postfix log of scripts/bench (`scripts/bench --generate-only`).
Needs `cargo build --release --example core_latency` and a release build.

  docs/experiments/placement.py [--rounds N] ab /tmp/mlc-old target/release/maillogconv
  docs/experiments/placement.py --rounds 14 ceiling
  docs/experiments/placement.py --rounds 30 pinned /tmp/mlc-old target/release/maillogconv
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from benchlib import BIN, core_latency  # noqa: E402

DEFAULT = ["--year", "2026", "/tmp/maillogconv-bench/bench-postfix-1G.log"]


def wall(argv):
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def at_once(argvs):
    t0 = time.perf_counter()
    procs = [subprocess.Popen(a, stdout=subprocess.DEVNULL) for a in argvs]
    if any(p.wait() != 0 for p in procs):
        sys.exit("placement: a run failed")
    return time.perf_counter() - t0


def pinned_pair(a, b, cpus):
    """CPU seconds of `a` run on cpus[0] and `b` on cpus[1], started together."""
    procs = {subprocess.Popen(["taskset", "-c", c] + argv, stdout=subprocess.DEVNULL).pid: k
             for k, (c, argv) in enumerate(zip(cpus, (a, b)))}
    cpu = {}
    while len(cpu) < 2:
        pid, status, usage = os.wait4(-1, 0)
        if pid in procs:
            if status != 0:
                sys.exit("placement: a run failed")
            cpu[procs[pid]] = usage.ru_utime + usage.ru_stime
    return cpu[0], cpu[1]


def placement(before, after):
    if max(before, after) < 100:
        return "close"
    if min(before, after) >= 100:
        return "far"
    return "moved"


def report(rounds, ratio, label):
    for cls in ("close", "far", "moved"):
        got = [ratio(r) for r in rounds if r["class"] == cls]
        if got:
            print("%-5s %2d rounds: median %s %.3f" % (cls, len(got), label, statistics.median(got)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("what", choices=["ab", "ceiling", "pinned"])
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    rounds = []
    if a.what == "ab":
        if len(a.rest) < 2:
            sys.exit("placement: ab needs two builds")
        bins, args = a.rest[:2], a.rest[2:] or ["-j2"] + DEFAULT
        for n in range(a.rounds):
            before = core_latency()
            t = {}
            for k in ((0, 1) if n % 2 == 0 else (1, 0)):
                t[k] = wall([bins[k]] + args)
            after = core_latency()
            rounds.append({"class": placement(before, after), "a": t[0], "b": t[1]})
            print("%2d  %4.0f %4.0f ns  A %.3f s  B %.3f s  B/A %.3f" % (
                n, before, after, t[0], t[1], t[1] / t[0]), flush=True)
        report(rounds, lambda r: r["b"] / r["a"], "B/A")
    elif a.what == "pinned":
        if len(a.rest) < 2:
            sys.exit("placement: pinned needs two builds")
        bins, args = a.rest[:2], a.rest[2:] or ["-j1"] + DEFAULT
        ratios = []
        for n in range(a.rounds):
            cpus = ("0", "1") if n % 2 == 0 else ("1", "0")
            ta, tb = pinned_pair([bins[0]] + args, [bins[1]] + args, cpus)
            ratios.append(tb / ta)
            print("%2d  A %.3f s  B %.3f s  B/A %.3f" % (n, ta, tb, tb / ta), flush=True)
        print("%d rounds: median B/A %.3f" % (len(ratios), statistics.median(ratios)))
    else:
        args = a.rest or DEFAULT
        for n in range(a.rounds):
            before = core_latency()
            j1 = wall([BIN, "-j1"] + args)
            j2 = wall([BIN, "-j2"] + args)
            two = at_once([[BIN, "-j1"] + args] * 2)
            after = core_latency()
            rounds.append({"class": placement(before, after), "j1": j1, "j2": j2, "two": two})
            print("%2d  %4.0f %4.0f ns  -j1 %.2f s  -j2 %.2f s  two -j1 %.2f s  speed-up %.2f  ceiling %.2f" % (
                n, before, after, j1, j2, two, j1 / j2, 2 * j1 / two), flush=True)
        report(rounds, lambda r: r["j1"], "-j1 s")
        report(rounds, lambda r: r["j1"] / r["j2"], "-j2 speed-up")
        report(rounds, lambda r: 2 * r["j1"] / r["two"], "ceiling")


if __name__ == "__main__":
    main()

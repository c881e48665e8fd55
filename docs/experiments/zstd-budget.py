#!/usr/bin/env python3
"""What item 4's zstd half leaves the conversion (docs/PERFORMANCE.md, twentieth session, issue 21).

scripts/bench asks the rotated zstd set to convert in at most 2.0x the wall time of `zstd -dc`
decompressing its archives two at a time (W_floor). The tool decompresses the same archives
(the same libzstd, so the same CPU, D) and converts every line (C). On a machine of two CPUs
no run is shorter than (D + C) / 2, so the target needs

    C <= 4 * W_floor - D

of CPU for the whole conversion: reading, parsing, correlating, rendering, writing. This script
measures, in interleaved rounds (medians): D, W_floor, C (`-j1` on the set's lines
decompressed into one plain file), the bench's own run on the set (wall and CPU, as a check that
it costs D + C), and the leanest conversion measured so far, `examples/lean_parse all` (user
CPU only: its read of the whole file into memory is left out, in its favour). It leaves out
most of what the tool must do (time order, hops, rejects, deferrals, eviction, maillogconvert.pl's
cleaning and codes, every MTA but Postfix), so it is a floor, not a design.

  cargo build --release --example lean_parse
  docs/experiments/zstd-budget.py [--rounds 7] [BINARY]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from benchlib import BIN, ROOT  # noqa: E402

SET = "/tmp/maillogconv-bench/bench-rot7-500M-zst"
LEAN = os.path.join(os.path.abspath(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")),
                    "release", "examples", "lean_parse")


def run(cmd, shell=False):
    """Wall seconds and the CPU seconds (user, system) of `cmd` and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("binary", nargs="?", default=BIN)
    a = ap.parse_args()
    if not os.path.isdir(SET):
        sys.exit("no %s: run scripts/bench --generate-only first" % SET)
    if not os.path.exists(LEAN):
        sys.exit("no %s: cargo build --release --example lean_parse" % LEAN)
    files = sorted(os.path.join(SET, f) for f in os.listdir(SET) if not f.startswith("."))
    archives = [f for f in files if f.endswith(".zst")]
    live = [f for f in files if not f.endswith(".zst")]
    half = (len(archives) + 1) // 2
    two = "(zstd -dc %s > /dev/null & zstd -dc %s > /dev/null; wait)" % (
        " ".join(archives[:half]), " ".join(archives[half:]))
    with tempfile.TemporaryDirectory(prefix="zstd-budget-") as tmp:
        text = os.path.join(tmp, "set.log")
        # Oldest first, as the tool reads a rotated set.
        with open(text, "wb") as out:
            for f in sorted(archives, key=lambda p: -int(os.path.basename(p).split(".")[1])):
                subprocess.run(["zstd", "-dc", f], stdout=out, check=True)
            for f in live:
                with open(f, "rb") as src:
                    out.write(src.read())
        print("set: %d archives + %d live file(s), %.0f MB of lines" % (
            len(archives), len(live), os.path.getsize(text) / 1e6), flush=True)
        m = {k: [] for k in ("D", "W_floor", "C", "set_wall", "set_cpu", "lean")}
        for r in range(a.rounds):
            _, u, s = run(["sh", "-c", "zstd -dc %s > /dev/null" % " ".join(archives)])
            m["D"].append(u + s)
            m["W_floor"].append(run(two, shell=True)[0])
            _, u, s = run([a.binary, "-j1", "--year", "2026", text])
            m["C"].append(u + s)
            w, u, s = run([a.binary, SET])
            m["set_wall"].append(w)
            m["set_cpu"].append(u + s)
            m["lean"].append(run([LEAN, "all", text])[1])
            print("round %d: %s" % (r + 1, ", ".join("%s %.3f" % (k, v[-1]) for k, v in m.items())), flush=True)
    med = {k: statistics.median(v) for k, v in m.items()}
    budget = 4 * med["W_floor"] - med["D"]
    print()
    print("zstd -dc, one process (D):          %.3f s CPU" % med["D"])
    print("zstd -dc two at a time (W_floor):   %.3f s wall; target 2.0x = %.3f s" % (med["W_floor"], 2 * med["W_floor"]))
    print("the bench's run on the set:         %.3f s wall (%.2fx), %.3f s CPU (D + C = %.3f)" % (
        med["set_wall"], med["set_wall"] / med["W_floor"], med["set_cpu"], med["D"] + med["C"]))
    print("conversion's budget 4 W_floor - D:  %.3f s CPU" % budget)
    print("the tool's conversion, -j1 (C):     %.3f s CPU = %.2fx the budget" % (med["C"], med["C"] / budget))
    print("lean_parse all (a floor, user CPU): %.3f s CPU = %.2fx the budget" % (med["lean"], med["lean"] / budget))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Front and back of the pipeline on their own cores (docs/PERFORMANCE.md, nineteenth session,
issue 21).

stage-affinity.patch adds three environment variables to a build of the tree:
  MLC_GROUPS=N   N groups of shards (the default is one per worker);
  MLC_STAGE=1    with two workers: worker 0 only opens, reads, parses and dates; worker 1 only
                 routes, merges and writes;
  MLC_STAGE=2    as 1, but a worker with none of its own steps takes the other's;
  MLC_STAGE=3    as 1, but worker 0 also writes (never merges) when it has nothing to read or
                 parse;
  MLC_ROOM=N     N items in flight (the default is four a worker);
  MLC_PIN=a:b:c  (with MLC_STAGE unset) the first stage (dating) only on worker a, the split
                 (routing) only on b, the second stage (writing) only on c; `-` for any.
The output is the same bytes whatever they are set to.

    git worktree add /tmp/wt-stage d359f1f && cd /tmp/wt-stage
    git apply docs/experiments/stage-affinity.patch
    CARGO_TARGET_DIR=/tmp/tgt-stage cargo build --release
    docs/experiments/stage-affinity.py /tmp/tgt-stage/release/maillogconv 8 \
        J=1 MLC_STAGE=0 MLC_STAGE=2,MLC_GROUPS=1 -- \
        -j2 --year 2026 /tmp/maillogconv-bench/bench-postfix-1G.log

Each setting is a comma list of VAR=VALUE (J=N runs `-jN` in place of the `-j` given). The
settings run in turn, in reverse order every other round; each round prints the core-to-core
latency before and after (scripts/benchlib.py's core_latency: `cargo build --release
--examples`), then each setting's wall and CPU seconds; the end, each setting's medians and its
ratios to the first setting's runs of the same round.
"""
import os
import resource
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from benchlib import core_latency  # noqa: E402

binp, rounds = sys.argv[1], int(sys.argv[2])
cut = sys.argv.index("--")
settings, args = sys.argv[3:cut], sys.argv[cut + 1:]


def run(setting):
    env = dict(os.environ)
    env.update(dict(kv.split("=", 1) for kv in setting.split(",")))
    a = list(args)
    if "J" in env:
        a = ["-j" + env["J"]] + [x for x in a if not x.startswith("-j")]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = os.times().elapsed
    subprocess.run([binp] + a, stdout=subprocess.DEVNULL, check=True, env=env)
    wall = os.times().elapsed - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


res = {s: [] for s in settings}
for r in range(rounds):
    order = settings if r % 2 == 0 else settings[::-1]
    line = ["%4.0f" % core_latency()]
    for s in order:
        w, c = run(s)
        res[s].append((w, c))
        line.append("%s %.2f/%.2f" % (s, w, c))
    line.append("%4.0f" % core_latency())
    print("round %d: %s" % (r, "  ".join(line)), flush=True)
base = settings[0]
for s in settings:
    rw = [res[s][k][0] / res[base][k][0] for k in range(rounds)]
    rc = [res[s][k][1] / res[base][k][1] for k in range(rounds)]
    print("%s: wall %.3f s, CPU %.3f s; against %s: wall %.3f, CPU %.3f" % (
        s, statistics.median(x[0] for x in res[s]), statistics.median(x[1] for x in res[s]),
        base, statistics.median(rw), statistics.median(rc)))

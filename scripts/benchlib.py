"""What the scripts share: the project root and the release binary (under CARGO_TARGET_DIR
when set), and for the benchmarks timing with peak RSS, medians, and generated inputs kept
between runs."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.path.abspath(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")), "release", "maillogconv")
GEN = os.path.join(ROOT, "scripts/gen-maillog")
# The reference script, as Debian's awstats package installs it.
PERL = "/usr/share/doc/awstats/examples/maillogconvert.pl"


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "maillogconv", "--example", "core_latency"],
                   cwd=ROOT, check=True)


def release_binary(plain=False, also=()):
    """The binary a benchmark measures: scripts/build-release's profile-guided build (what the
    Debian package ships), or with `plain` cargo's release build (BIN). `also`: more cargo
    targets (`--example NAME`) that build-release builds as it builds the binary."""
    if plain:
        return BIN
    out = subprocess.run([os.path.join(ROOT, "scripts", "build-release")] + list(also), cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, text=True)
    return out.stdout.strip().splitlines()[-1]


def core_latency():
    """Nanoseconds one cache line takes from one core to another now (examples/core_latency.rs):
    on the 2-core virtual machines it moves between ~27 and ~170 as the host moves the virtual
    CPUs, and a two-thread run's speed-up moves with it."""
    out = subprocess.run([os.path.join(ROOT, "target", "release", "examples", "core_latency")],
                         capture_output=True, text=True, check=True)
    return float(out.stdout)


def timed(cmd, shell=False, stdin=None):
    """Wall seconds, peak RSS (KiB) and stderr of one run, stdout discarded; exits on failure.
    The RSS is GNU time's (%M) of the command itself: wait4's ru_maxrss would count the memory
    of this Python process that the child shares until it execs."""
    with tempfile.NamedTemporaryFile(prefix="bench-rss-") as rss_file:
        argv = ["sh", "-c", cmd] if shell else list(cmd)
        argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + argv
        t0 = time.perf_counter()
        with open(stdin, "rb") if stdin else open(os.devnull, "rb") as fin:
            p = subprocess.run(argv, stdin=fin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0:
            sys.exit("bench: %s failed: %s" % (cmd, err))
        lines = open(rss_file.name).read().split()
        rss = int(lines[-1]) if lines else 0
    return wall, rss, err


def measure(cmd, runs, shell=False, stdin=None, warm=True, before=None):
    """Median wall seconds and the largest peak RSS (KiB) over `runs` runs (after one warm-up
    run that fills the page cache, unless `warm` is False). `before` runs, untimed, before each
    run: a dataset must be removed so, or the next run finds its input covered and writes
    nothing (what the Parquet row measured until 2026-12-02)."""
    if warm:
        if before:
            before()
        timed(cmd, shell, stdin)
    walls, rss = [], 0
    for _ in range(runs):
        if before:
            before()
        w, r, _ = timed(cmd, shell, stdin)
        walls.append(w)
        rss = max(rss, r)
    return statistics.median(walls), rss


def two_at_a_time(tool, archives):
    """A shell command decompressing `archives` with `tool` (`gzip -dc`, `zstd -dc`) as two
    processes at once, each over half of them, the output discarded: the floor the rotated sets
    are measured against (issue #13's item 4)."""
    half = (len(archives) + 1) // 2
    return "(%s %s > /dev/null & %s %s > /dev/null; wait)" % (
        tool, " ".join(archives[:half]), tool, " ".join(archives[half:]))


def generate(path, *args):
    """Runs gen-maillog with `args` unless `path` exists (kept between runs)."""
    if os.path.exists(path):
        return
    print("generating %s ..." % path, flush=True)
    subprocess.run([GEN] + list(args), check=True)


# Files under fixtures/ that are outputs or notes, not logs (tests/cli/quality.rs holds the same list).
NOT_LOGS = {"awstats", "jsonl", "csv", "parquet", "clf", "diff", "md", "conf"}


class Checks:
    """The `ok`/`FAIL` lines of an end-to-end script and their tally: `check(cond, what)`."""

    def __init__(self, name):
        self.name = name
        self.passed = self.failed = 0

    def __call__(self, cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if cond:
            self.passed += 1
        else:
            self.failed += 1

    def tally(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))

    def finish(self):
        """Prints the tally; exits 1 if a check failed, else 0."""
        self.tally()
        sys.exit(1 if self.failed else 0)


def fixture_logs():
    """Every log under fixtures/ (the corpus copies included), in name order."""
    out = []
    for d, dirs, files in os.walk(os.path.join(ROOT, "fixtures")):
        dirs[:] = sorted(x for x in dirs if x != "differential")
        for name in sorted(files):
            if name.rsplit(".", 1)[-1] not in NOT_LOGS:
                out.append(os.path.join(d, name))
    return out

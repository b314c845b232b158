#!/usr/bin/python3
"""Run several tile benchmarks interleaved in short batches (bench/tile_bench.sh).

    interleave.py [--batch B] --tool NAME OUT ERR -- CMD [ARG ...]
                              [--tool NAME OUT ERR -- CMD [ARG ...] ...]

Every --tool starts one benchmark, CMD [ARG ...], with its stdout written to
the file OUT and its stderr to the file ERR.  A command runs up to the next
argument that is exactly "--tool" (so no command may contain that word).

The VM the benchmarks run on has slow phases lasting seconds to a minute; a
tool whose whole run falls into one gets a worse figure than the others.
Interleaved, the tools take turns every B tiles (default 10), so a slow phase
hits all of them alike.  Only one tool renders at a time.

The protocol (LB_BENCH_GATE=RFD,WFD,BATCH, implemented by bench/tilebench.c and
bench/benchtiles.py): every tool gets two pipes, one it reads "go" bytes from
(fd RFD) and one it writes to (fd WFD).  A tool does its untimed set-up and
writes b"r" ("ready"); then, before each batch of BATCH consecutive tile
renders, it reads one byte, renders the batch, and writes b"b" ("batch done")
or, after its last batch, b"e" ("all done").

This coordinator starts all tools at once (their set-up runs in parallel),
waits until every one is ready, then lets them render one batch at a time:
for each tool still running, in an order rotated by one place each turn (so
no tool always follows the same other one), it writes one byte and waits for
the answer.  After a tool's b"e" it waits for that tool to exit (its report
and clean-up overlap no other tool's batch) and checks the exit code.

A tool that exits non-zero, or closes its pipe before b"e" (crashed, killed,
or not aware of LB_BENCH_GATE), fails the run: its stderr is printed, the
other tools are stopped (their "go" pipe is closed, which ends them with an
error), and this script exits with status 1.  On success it prints one line:
the tools, the number of batches of each and the wall time.
"""

import os
import subprocess
import sys
import time

PROG = "interleave"


class Tool:
    def __init__(self, name, out, err, cmd):
        self.name, self.out, self.err, self.cmd = name, out, err, cmd
        self.proc = None
        self.go = self.done = None   # our ends: we write "go" to go, read answers from done
        self.batches = 0


class Failure(Exception):
    def __init__(self, tool, msg):
        super().__init__(msg)
        self.tool = tool


def usage(msg):
    sys.exit(f"{PROG}: {msg}\nusage: interleave.py [--batch B] "
             "--tool NAME OUT ERR -- CMD [ARG ...] [--tool ...]")


def parse(argv):
    batch = 10
    i = 0
    while i < len(argv) and argv[i] != "--tool":
        if argv[i] == "--batch" and i + 1 < len(argv):
            try:
                batch = int(argv[i + 1])
            except ValueError:
                batch = 0
            if batch < 1:
                usage(f"--batch needs a positive integer, not {argv[i + 1]!r}")
            i += 2
        elif argv[i] in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        else:
            usage(f"unexpected argument {argv[i]!r}")
    tools = []
    while i < len(argv):
        # argv[i] == "--tool"
        if i + 4 >= len(argv) or argv[i + 4] != "--":
            usage("--tool needs NAME OUT ERR -- CMD")
        name, out, err = argv[i + 1:i + 4]
        j = i + 5
        while j < len(argv) and argv[j] != "--tool":
            j += 1
        if j == i + 5:
            usage(f"tool {name}: no command after --")
        if any(t.name == name for t in tools):
            usage(f"tool name {name!r} given twice")
        tools.append(Tool(name, out, err, argv[i + 5:j]))
        i = j
    if not tools:
        usage("no --tool given")
    return batch, tools


def start(tool, batch):
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    env = dict(os.environ, LB_BENCH_GATE=f"{go_r},{done_w},{batch}")
    try:
        with open(tool.out, "wb") as out, open(tool.err, "wb") as err:
            tool.proc = subprocess.Popen(tool.cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, pass_fds=(go_r, done_w), env=env)
    except OSError as e:
        for fd in (go_r, go_w, done_r, done_w):
            os.close(fd)
        raise Failure(None, f"{tool.name}: cannot start {tool.cmd[0]}: {e.strerror}") from None
    # only the child holds these ends now: its exit closes the pipe we read
    os.close(go_r)
    os.close(done_w)
    tool.go, tool.done = go_w, done_r


def answer(tool, phase):
    """One byte from the tool; Failure when it quit instead."""
    b = os.read(tool.done, 1)
    if b:
        return b
    rc = tool.proc.wait()
    why = f"exit code {rc}" if rc >= 0 else f"killed by signal {-rc}"
    if rc == 0:
        why += "; it does not seem to speak LB_BENCH_GATE"
    raise Failure(tool, f"{tool.name} ended {phase} ({why})")


def go(tool):
    try:
        os.write(tool.go, b"g")
    except BrokenPipeError:
        pass  # it has quit; answer() reads the EOF and says how


def run(batch, tools):
    for t in tools:
        start(t, batch)
    for t in tools:
        b = answer(t, "during its set-up")
        if b != b"r":
            raise Failure(t, f"{t.name}: expected the ready byte, got {b!r}")
    t0 = time.monotonic()
    active = list(tools)
    turn = 0
    while active:
        r = turn % len(active)
        for t in active[r:] + active[:r]:
            go(t)
            b = answer(t, f"in its batch {t.batches + 1}")
            t.batches += 1
            if b == b"e":
                os.close(t.go)
                t.go = None
                rc = t.proc.wait()
                if rc != 0:
                    raise Failure(t, f"{t.name} rendered all its tiles but exited with {rc}")
                active.remove(t)
            elif b != b"b":
                raise Failure(t, f"{t.name}: expected a batch byte, got {b!r}")
        turn += 1
    return time.monotonic() - t0


def stop(tools):
    """After a failure: end the other tools (EOF on their go pipe), kill the stubborn."""
    for t in tools:
        if t.go is not None:
            os.close(t.go)
            t.go = None
    for t in tools:
        if t.proc is None:
            continue
        try:
            t.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            t.proc.kill()
            t.proc.wait()


def main(argv):
    batch, tools = parse(argv)
    try:
        wall = run(batch, tools)
    except Failure as f:
        print(f"{PROG}: {f}", file=sys.stderr)
        t = f.tool
        if t is not None:
            print(f"{PROG}: stderr of {t.name} ({t.err}):", file=sys.stderr)
            try:
                with open(t.err, encoding="utf-8", errors="replace") as e:
                    sys.stderr.write("".join(f"   {l}" for l in e) or "   (empty)\n")
            except OSError as e:
                print(f"   (cannot read: {e.strerror})", file=sys.stderr)
        stop(tools)
        return 1
    print(f"{PROG}: {len(tools)} tools in batches of {batch} tiles, one at a time: " +
          ", ".join(f"{t.name} {t.batches}" for t in tools) + f" batches; {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

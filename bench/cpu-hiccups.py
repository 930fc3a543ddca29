#!/usr/bin/env python3
"""How often a machine stops running a program that wants the CPU: one busy loop per core, each pinned
to its core, notes every gap of more than 2 ms between two of its clock readings. On an idle node any
such gap is time the core was given to something else (a kernel thread, the hypervisor, another
tenant), and a request in flight on that core waits as long. A 20 ms budget cannot absorb a 15 ms gap.

    python3 bench/cpu-hiccups.py [SECONDS]      (default 20; run it on an otherwise idle machine)

Prints per core: gaps over 2 ms, over 10 ms, the longest, and their sum (docs/benchmarks.md, fourteenth run).
"""
import os, sys, time

def loop(core, seconds, out):
    os.sched_setaffinity(0, {core})
    end = time.perf_counter() + seconds
    last = time.perf_counter()
    gaps = []
    while last < end:
        now = time.perf_counter()
        if now - last > 0.002:
            gaps.append(now - last)
        last = now
    os.write(out, (f"core {core}: {len(gaps)} gaps over 2 ms, {sum(g > 0.01 for g in gaps)} over 10 ms, "
                   f"longest {max(gaps, default=0) * 1000:.1f} ms, {sum(gaps) * 1000:.0f} ms in all of {seconds:.0f} s\n").encode())

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20
children = []
for core in sorted(os.sched_getaffinity(0)):
    pid = os.fork()
    if pid == 0:
        loop(core, seconds, sys.stdout.fileno())
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)

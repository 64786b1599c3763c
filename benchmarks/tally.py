"""Benchmark: parse + tally of the shared pabulib files, ours against pabutools.

Run with ``make bench`` (installs the ``bench`` extra). Each measurement runs in a fresh
subprocess so peak memory (maximum resident set size of that process, interpreter included) and
time (parse + tally, imports included) are per run. pabutools runs get a time cap
(``--cap``, 60 s by default); slower runs are killed and reported as "skipped > cap".

    python benchmarks/tally.py [--cap 60] [--only ours|pabutools] [--files GLOB] [--rules r1,r2]
                               [--jobs N]

add1 rules are timed twice: in one process, and with ``jobs=N`` (the add1 search spread over N
forked worker processes; their CPU time is added to ours and the larger peak RSS is shown).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data" / "pabulib").resolve()
RULES = ["greedy", "mes", "mes-add1"]

OURS = r"""
import json, resource, sys, time
t = time.perf_counter()
from portal.core.pabulib import read_pb
from portal.core.rules import tally
inst = read_pb(sys.argv[1])
res = tally(inst, sys.argv[2], jobs=int(sys.argv[3]))
dt = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
ch = resource.getrusage(resource.RUSAGE_CHILDREN)  # add1's worker processes, if any
peak = max(ru.ru_maxrss, ch.ru_maxrss) * 1024
cpu = ru.ru_utime + ru.ru_stime + ch.ru_utime + ch.ru_stime
print(json.dumps({"time": dt, "cpu": cpu, "peak": peak, "n": len(res.selected),
                  "cost": int(res.total_cost)}))
"""

PABUTOOLS = r"""
import json, resource, sys, time
t = time.perf_counter()
from pabutools.election import parse_pabulib, Cost_Sat
from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares
from pabutools.rules import exhaustion_by_budget_increase
inst, prof = parse_pabulib(sys.argv[1])
rule = sys.argv[2]
if rule == "greedy":
    out = greedy_utilitarian_welfare(inst, prof, sat_class=Cost_Sat)  # sat/cost = approvals
elif rule == "mes":
    out = method_of_equal_shares(inst, prof, sat_class=Cost_Sat)
else:
    out = exhaustion_by_budget_increase(inst, prof, method_of_equal_shares,
                                        {"sat_class": Cost_Sat},
                                        budget_step=inst.budget_limit * 0 + prof.num_ballots())
dt = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
peak = ru.ru_maxrss * 1024
cpu = ru.ru_utime + ru.ru_stime
print(json.dumps({"time": dt, "cpu": cpu, "peak": peak, "n": len(out),
                  "cost": int(sum(p.cost for p in out))}))
"""


def run(code: str, path: Path, rule: str, cap: float | None, *extra: str) -> dict:
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, str(path), rule, *extra],
            capture_output=True,
            text=True,
            timeout=cap,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"skipped": True}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def cell(r: dict | None, cap: float | None) -> str:
    if r is None:
        return "—"
    if r.get("skipped"):
        return f"skipped > {cap:g} s"
    if "error" in r:
        return "error"
    return (
        f"{r['time']:.2f} s ({r['cpu']:.2f} s CPU), {r['peak'] / 2**20:.0f} MiB "
        f"({r['n']} / {r['cost']:,})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cap", type=float, default=60.0)
    ap.add_argument("--only", choices=["ours", "pabutools"])
    ap.add_argument("--files", default="*.pb")
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="processes for the second column of add1 rules (default: the CPUs available)",
    )
    args = ap.parse_args()
    rules = args.rules.split(",")
    try:  # the engine's add1 search uses NumPy where it is installed (pure Python otherwise)
        from importlib.metadata import version

        numpy = f"NumPy {version('numpy')}"
    except Exception:  # noqa: BLE001 - any failure means it is not there
        numpy = "no NumPy"
    print(
        f"# {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {numpy}; pabutools cap {args.cap:g} s per run"
    )
    print(
        "| file | rule | ours, 1 process: wall (CPU), peak RSS (projects / cost) | "
        f"ours, --jobs {args.jobs} | pabutools (cap {args.cap:g} s) |"
    )
    print("|---|---|---|---|---|")
    for path in sorted(DATA.glob(args.files)):
        for rule in rules:
            ours = spread = None
            if args.only != "pabutools":
                ours = run(OURS, path, rule, None, "1")
                if "add1" in rule and args.jobs > 1:
                    spread = run(OURS, path, rule, None, str(args.jobs))
            theirs = None if args.only == "ours" else run(PABUTOOLS, path, rule, args.cap)
            print(
                f"| {path.name} | {rule} | {cell(ours, None)} | {cell(spread, None)} | "
                f"{cell(theirs, args.cap)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

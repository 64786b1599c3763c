"""CPU time per page of the vote flow, in process (no HTTP server, no other load).

    python benchmarks/pages.py                       # SQLite in a temp folder
    python benchmarks/pages.py --database-url postgresql+psycopg://...   # that database is wiped
    python benchmarks/pages.py --profile round       # cProfile one step, top functions

It builds the same round as `voteday.py`, then sends --flows distinct voters through the flow with
Flask's test client, one at a time, and prints the process CPU time and the SQL statements of
each step (median over the flows). With the machine shared, CPU time of the process is steadier
than wall time; it is the figure to compare before and after a change.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from voteday import CSRF_RE, STEPS, birth, build_database, flow_plan, make_rut  # noqa: E402


def timed(owner: Any, name: str, parts: dict[str, float], key: str) -> None:
    """Add the CPU time spent in owner.name (outermost calls only) to parts[key]."""
    original = getattr(owner, name)
    depth = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        depth["n"] += 1
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            depth["n"] -= 1
            if depth["n"] == 0:
                parts[key] += time.process_time() - started

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--voters", type=int, default=1000)
    parser.add_argument("--flows", type=int, default=300)
    parser.add_argument(
        "--profile", choices=[*STEPS, "all"], default=None, help="cProfile this step (or all)"
    )
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--callers", default="", help="also print the callers of this function")
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="pages-")
    url = args.database_url or f"sqlite:///{instance}/pages.sqlite3"
    info = build_database(url, instance, args.voters)

    import flask.templating
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from portal import create_app
    from portal.extensions import db

    app = create_app()
    counts: dict[str, list[int]] = {s: [] for s in STEPS}
    cpu: dict[str, list[float]] = {s: [] for s in STEPS}
    statements = {"n": 0}

    def before(*_args: Any) -> None:
        statements["n"] += 1

    # Where the CPU goes: time spent inside template rendering and inside SQLAlchemy's execute.
    parts = {"render": 0.0, "sql": 0.0}
    render_ms: dict[str, list[float]] = {s: [] for s in STEPS}
    sql_ms: dict[str, list[float]] = {s: [] for s in STEPS}
    timed(flask.templating, "_render", parts, "render")
    timed(Session, "_execute_internal", parts, "sql")

    profiler = cProfile.Profile(time.process_time) if args.profile else None
    base = f"/{info['slug']}/rondas/{info['round_id']}"
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", before)
    for n in range(1, min(args.flows, args.voters - 1) + 1):
        client = app.test_client()
        project = info["projects"][n % len(info["projects"])]
        token = ""
        plan = flow_plan(base)
        for name, method, path, kind in plan:
            data = None
            if kind == "check":
                data = {"csrf_token": token, "rut": make_rut(n), "birth_date": birth(n).isoformat()}
            elif kind == "ballot":
                data = {"csrf_token": token, "comuna-p": str(project)}
            statements["n"] = 0
            profiling = profiler is not None and args.profile in (name, "all") and n > 5
            if profiling:
                profiler.enable()  # type: ignore[union-attr]
            parts["render"] = parts["sql"] = 0.0
            started = time.process_time()
            response = client.open(path, method=method, data=data)
            spent = time.process_time() - started
            if profiling:
                profiler.disable()  # type: ignore[union-attr]
            body = response.get_data(as_text=True)
            if response.status_code not in (200, 302):
                raise SystemExit(f"{name}: {response.status_code}")
            if n > 5:  # warm-up: the first flows compile templates and fill caches
                cpu[name].append(spent)
                render_ms[name].append(parts["render"])
                sql_ms[name].append(parts["sql"])
                counts[name].append(statements["n"])
            match = CSRF_RE.search(body)
            if match:
                token = match.group(1)
    figures = {
        "backend": url.split(":", 1)[0],
        "flows": len(cpu["home"]),
        "cpu_ms_median": {s: round(statistics.median(v) * 1000, 2) for s, v in cpu.items()},
        "cpu_ms_flow": round(sum(statistics.median(v) for v in cpu.values()) * 1000, 1),
        "render_ms_median": {
            s: round(statistics.median(v) * 1000, 2) for s, v in render_ms.items()
        },
        "sqlalchemy_execute_ms_median": {
            s: round(statistics.median(v) * 1000, 2) for s, v in sql_ms.items()
        },
        "statements": {s: statistics.median(v) for s, v in counts.items()},
    }
    print(json.dumps(figures, indent=2))
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
        if args.callers:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_callers(args.callers)
            print(out.getvalue())
    os.environ.pop("PORTAL_DATABASE_URL", None)


if __name__ == "__main__":
    main()

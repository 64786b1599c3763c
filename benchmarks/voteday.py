"""Vote day load benchmark: the whole vote flow against gunicorn on loopback.

    python benchmarks/voteday.py --backend sqlite
    python benchmarks/voteday.py --backend postgresql --database-url postgresql+psycopg://...
    python benchmarks/voteday.py --backend postgresql --kill-worker   # SIGKILL a worker mid-run

It builds a round open for voting with a census of --voters residents (through the services),
serves the portal with gunicorn on 127.0.0.1, and runs distinct voters through
home → round → eligibility check → ballot page → submit → confirmation from several processes.
It prints ballots per second, p50/p95/p99 per step, errors, CPU and memory per worker, queries
per page, and two ceilings measured in the same run: a static file, and a bare psycopg insert
transaction (PostgreSQL only). At the end every receipt shown on a confirmation page is looked up
in the ballots table, and ballots are checked against participations (one per voter).
Only loopback is ever targeted. The database named by --database-url is wiped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SECRET = "voteday-secret-key"
RUT_KEY = "voteday-rut-key"
CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
RECEIPT_RE = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")
STEPS = ["home", "round", "check_page", "check", "ballot_page", "submit", "confirmation"]


def make_rut(n: int) -> str:
    from stdnum.cl import rut as stdnum_rut

    body = str(12_000_000 + n)
    return body + "-" + stdnum_rut.calc_check_digit(body)


def birth(n: int) -> date:
    return date(1950 + n % 50, 1 + n % 12, 1 + n % 28)


# ----------------------------------------------------------------------------- set-up


def server_env(database_url: str, instance: str, extra: dict[str, str] | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "PORTAL_ENV": "development",
            "PORTAL_SECRET_KEY": SECRET,
            "PORTAL_RUT_HASH_KEY": RUT_KEY,
            "PORTAL_DATABASE_URL": database_url,
            "PORTAL_INSTANCE_PATH": instance,
            # All traffic comes from 127.0.0.1: lift the per-address eligibility limit.
            "PORTAL_ELIGIBILITY_IP_RATE_LIMIT": "1000000 per minute",
            "PORTAL_ELIGIBILITY_RATE_LIMIT": "1000 per minute",
        }
    )
    env.update(extra or {})
    return env


def build_database(database_url: str, instance: str, voters: int) -> dict[str, Any]:
    """Migrate, load the geography, and build a round in its voting phase with a census."""
    os.environ.update(server_env(database_url, instance))
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    if database_url.startswith("postgresql"):
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    from portal import create_app
    from portal.budgeting.census import CensusRow, replace_census
    from portal.extensions import db
    from portal.geo.services import load_geography
    from portal.rut import keyed_hash
    from tests.conftest import Factory

    app = create_app()
    with app.app_context():
        upgrade()
        load_geography(db.session)
        db.session.commit()
        factory = Factory(db)
        municipality = factory.municipality("05101")
        author = factory.user("autora@example.cl")
        round_ = factory.round(
            municipality,
            phase="voting",
            method="approval",
            min_selections=1,
            max_selections=2,
        )
        projects = [
            factory.proposal(
                round_, author, title=f"Proyecto {i}", status="feasible", final_cost=1_000_000
            ).id
            for i in range(6)
        ]
        rows = [
            CensusRow(keyed_hash(make_rut(n).replace("-", ""), "rut"), birth(n), None, None)
            for n in range(voters)
        ]
        replace_census(db.session, round_, rows)
        db.session.commit()
        info = {"slug": municipality.slug, "round_id": round_.id, "projects": projects}
        info["queries"] = count_queries(app, info)
        db.engine.dispose()
    return info


def count_queries(app: Any, info: dict[str, Any]) -> dict[str, int]:
    """Count the SQL statements of each step of one vote flow (test client, in process)."""
    from sqlalchemy import event

    from portal.extensions import db

    counts: dict[str, int] = {}
    current = {"n": 0}

    def before(*_args: Any) -> None:
        current["n"] += 1

    event.listen(db.engine, "before_cursor_execute", before)
    client = app.test_client()
    base = f"/{info['slug']}/rondas/{info['round_id']}"
    n = 10**6  # a voter outside the load's range
    from portal.budgeting.census import CensusRow, replace_census  # noqa: F401

    def step(name: str, method: str, path: str, data: dict | None = None) -> str:
        current["n"] = 0
        response = client.open(path, method=method, data=data)
        counts[name] = current["n"]
        return response.get_data(as_text=True)

    step("home", "GET", "/")
    step("round", "GET", base)
    page = step("check_page", "GET", f"{base}/votar")
    token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
    # The census holds voters 0..N-1; voter 0 is used here and again by the load (a change).
    step(
        "check",
        "POST",
        f"{base}/votar",
        {"csrf_token": token, "rut": make_rut(0), "birth_date": birth(0).isoformat()},
    )
    step("ballot_page", "GET", f"{base}/papeleta")
    step(
        "submit",
        "POST",
        f"{base}/papeleta",
        {"csrf_token": token, "comuna-p": str(info["projects"][0])},
    )
    step("confirmation", "GET", f"{base}/voto-registrado")
    event.remove(db.engine, "before_cursor_execute", before)
    del n
    return counts


# ----------------------------------------------------------------------------- the server


def start_gunicorn(env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    command = [
        str(REPO / ".venv/bin/gunicorn"),
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", str(threads),
        "--bind", f"127.0.0.1:{port}",
        "--keep-alive", "5",
        "--log-level", "warning",
        "wsgi:app",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env=env)
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/salud")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ----------------------------------------------------------------------------- the voters


class Browser:
    """One keep-alive connection and a cookie: what a phone keeps between pages."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 1:
                    return 0, "", ""
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, response.getheader("Location") or "", text


def vote_flow(port: int, info: dict, n: int, record: Any) -> str | None:
    """Run one voter through the flow; return the receipt shown, or None."""
    browser = Browser(port)
    base = f"/{info['slug']}/rondas/{info['round_id']}"
    expect = {"home": 200, "round": 200, "check_page": 200, "check": 302,
              "ballot_page": 200, "submit": 302, "confirmation": 200}  # fmt: skip
    project = info["projects"][n % len(info["projects"])]
    plan = [
        ("home", "GET", "/", None),
        ("round", "GET", base, None),
        ("check_page", "GET", f"{base}/votar", None),
        ("check", "POST", f"{base}/votar", "check"),
        ("ballot_page", "GET", f"{base}/papeleta", None),
        ("submit", "POST", f"{base}/papeleta", "ballot"),
        ("confirmation", "GET", f"{base}/voto-registrado", None),
    ]
    token = ""
    receipt = None
    for name, method, path, form_kind in plan:
        form = None
        if form_kind == "check":
            form = {"csrf_token": token, "rut": make_rut(n), "birth_date": birth(n).isoformat()}
        elif form_kind == "ballot":
            form = {"csrf_token": token, "comuna-p": str(project)}
        started = time.perf_counter()
        status, _location, text = browser.request(method, path, form)
        record(name, time.perf_counter() - started, status == expect[name], status)
        if status != expect[name]:
            browser.conn.close()
            return None
        match = CSRF_RE.search(text)
        if match:
            token = match.group(1)
        if name == "confirmation":
            found = RECEIPT_RE.search(text)
            receipt = found.group(1) if found else None
    browser.conn.close()
    return receipt


def load_process(port: int, info: dict, voters: list[int], threads: int, until: float, out: Any):
    """One load process: threads take voters from a list until the time is up."""
    lock = threading.Lock()
    samples: dict[str, list[float]] = {s: [] for s in STEPS}
    errors: dict[str, int] = {}
    receipts: list[str] = []
    flows = {"done": 0, "ended": []}
    queue = list(voters)

    def record(step: str, seconds: float, ok: bool, status: int) -> None:
        with lock:
            samples[step].append(seconds)
            if not ok:
                errors[f"{step}:{status}"] = errors.get(f"{step}:{status}", 0) + 1

    def run() -> None:
        while time.time() < until:
            with lock:
                if not queue:
                    return
                n = queue.pop()
            receipt = vote_flow(port, info, n, record)
            with lock:
                if receipt:
                    receipts.append(receipt)
                    flows["done"] += 1
                    flows["ended"].append(time.time())

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put({"samples": samples, "errors": errors, "receipts": receipts, "ended": flows["ended"]})


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# ----------------------------------------------------------------------------- ceilings


def static_ceiling(port: int, seconds: float, threads: int) -> float:
    counts = [0] * threads
    until = time.time() + seconds

    def run(i: int) -> None:
        browser = Browser(port)
        while time.time() < until:
            status, _l, _t = browser.request("GET", "/static/css/portal.css")
            if status == 200:
                counts[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / seconds


def insert_ceiling(database_url: str, seconds: float, threads: int) -> float | None:
    """Bare psycopg: one INSERT per committed transaction, from several connections."""
    if not database_url.startswith("postgresql"):
        return None
    import psycopg

    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_insert")
        conn.execute("CREATE TABLE bench_insert (id bigserial primary key, v text)")
    counts = [0] * threads
    until = time.time() + seconds

    def run(i: int) -> None:
        with psycopg.connect(dsn) as conn:
            while time.time() < until:
                with conn.transaction():
                    conn.execute("INSERT INTO bench_insert (v) VALUES (%s)", ("x" * 40,))
                counts[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_insert")
    return sum(counts) / seconds


# ----------------------------------------------------------------------------- checking


def check_receipts(database_url: str, instance: str, info: dict, receipts: list[str]) -> dict:
    os.environ.update(server_env(database_url, instance))
    from sqlalchemy import func, select

    from portal import create_app
    from portal.budgeting.models import Ballot, Participation
    from portal.extensions import db

    app = create_app()
    with app.app_context():
        stored = set(
            db.session.scalars(
                select(Ballot.receipt_code).where(Ballot.round_id == info["round_id"])
            )
        )
        ballots = db.session.scalar(select(func.count()).select_from(Ballot))
        participations = db.session.scalar(select(func.count()).select_from(Participation))
        linked = db.session.scalar(select(func.count(func.distinct(Participation.ballot_id))))
        db.engine.dispose()
    missing = [r for r in receipts if r not in stored]
    return {
        "receipts_shown": len(receipts),
        "receipts_missing": len(missing),
        "ballots": ballots,
        "participations": participations,
        "participations_linked_to_distinct_ballots": linked,
    }


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--voters", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="concurrent voters per process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server-threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--kill-worker", action="store_true", help="SIGKILL a worker halfway")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="voteday-")
    if args.backend == "sqlite":
        url = f"sqlite:///{instance}/voteday.sqlite3"
    else:
        url = args.database_url or os.environ.get("PORTAL_BENCH_DATABASE_URL", "")
        if not url:
            raise SystemExit("--database-url (or PORTAL_BENCH_DATABASE_URL) is needed")
    print(f"== building a round with {args.voters} census voters on {args.backend}", flush=True)
    info = build_database(url, instance, args.voters)
    print("queries per step of one flow:", json.dumps(info["queries"]), flush=True)

    server = start_gunicorn(server_env(url, instance), args.port, args.workers, args.server_threads)
    try:
        pids = worker_pids(server.pid)
        cpu_before = {pid: cpu_seconds(pid) for pid in pids}
        print("== static ceiling", flush=True)
        static_rps = static_ceiling(args.port, 5, args.processes * args.threads)
        insert_tps = insert_ceiling(url, 5, args.processes * args.threads)

        pids = worker_pids(server.pid)
        cpu_before = {pid: cpu_seconds(pid) for pid in pids}
        voters = list(range(1, args.voters))
        chunks = [voters[i :: args.processes] for i in range(args.processes)]
        until = time.time() + args.seconds
        out: Any = mp.Queue()
        started = time.time()
        print(
            f"== load: {args.processes}×{args.threads} voters for {args.seconds:.0f} s", flush=True
        )
        procs = [
            mp.Process(target=load_process, args=(args.port, info, chunk, args.threads, until, out))
            for chunk in chunks
        ]
        for p in procs:
            p.start()
        killed = None
        if args.kill_worker:
            time.sleep(args.seconds / 2)
            victims = worker_pids(server.pid)
            if victims:
                killed = victims[0]
                os.kill(killed, signal.SIGKILL)
                print(f"   SIGKILL worker {killed}", flush=True)
        results = [out.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = time.time() - started
        rss = {pid: rss_mb(pid) for pid in worker_pids(server.pid)}
        cpu = {
            pid: (cpu_seconds(pid) - cpu_before.get(pid, 0.0)) / elapsed
            for pid in worker_pids(server.pid)
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    samples: dict[str, list[float]] = {s: [] for s in STEPS}
    errors: dict[str, int] = {}
    receipts: list[str] = []
    ended: list[float] = []
    for r in results:
        for step, values in r["samples"].items():
            samples[step].extend(values)
        for key, count in r["errors"].items():
            errors[key] = errors.get(key, 0) + count
        receipts.extend(r["receipts"])
        ended.extend(r["ended"])
    # Sustained rate: flows completed in the middle 80 % of the run (no warm-up, no tail).
    window = (started + 0.1 * args.seconds, started + 0.9 * args.seconds)
    sustained = sum(1 for t in ended if window[0] <= t <= window[1]) / (0.8 * args.seconds)
    figures = {
        "backend": args.backend,
        "workers": args.workers,
        "server_threads": args.server_threads,
        "concurrent_voters": args.processes * args.threads,
        "seconds": round(elapsed, 1),
        "flows_completed": len(receipts),
        "flows_per_second_sustained": round(sustained, 1),
        "submissions_per_second": round(len(samples["submit"]) / elapsed, 1),
        "requests_per_second": round(sum(len(v) for v in samples.values()) / elapsed, 1),
        "latency_ms": {
            step: {
                "p50": round(percentile(v, 50) * 1000, 1),
                "p95": round(percentile(v, 95) * 1000, 1),
                "p99": round(percentile(v, 99) * 1000, 1),
                "mean": round(statistics.fmean(v) * 1000, 1) if v else None,
            }
            for step, v in samples.items()
        },
        "errors": errors,
        "worker_cpu_cores": {str(k): round(v, 2) for k, v in cpu.items()},
        "worker_rss_mb": {str(k): round(v, 1) for k, v in rss.items()},
        "queries_per_step": info["queries"],
        "ceiling_static_rps": round(static_rps, 1),
        "ceiling_bare_insert_tps": round(insert_tps, 1) if insert_tps else None,
        "killed_worker": killed,
    }
    figures["integrity"] = check_receipts(url, instance, info, receipts)
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    integrity = figures["integrity"]
    if integrity["receipts_missing"] or integrity["ballots"] != integrity["participations"]:
        raise SystemExit("INTEGRITY FAILURE: a confirmed ballot is missing or counted twice")


if __name__ == "__main__":
    main()

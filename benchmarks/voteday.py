"""Vote day load benchmark: the whole vote flow against gunicorn on loopback.

    python benchmarks/voteday.py --backend sqlite
    python benchmarks/voteday.py --backend postgresql --database-url postgresql+psycopg://...
    python benchmarks/voteday.py --backend postgresql --kill-worker   # SIGKILL a worker mid-run
    python benchmarks/voteday.py --backend postgresql --two-instances --redis-url redis://127.0.0.1:6390/0
    python benchmarks/voteday.py --own-postgres --kill-master        # whole gunicorn SIGKILLed, restarted
    python benchmarks/voteday.py --own-postgres --restart-postgres    # pg_ctl restart mid-run

It builds a round open for voting with a census of --voters residents (through the services),
serves the portal with gunicorn on 127.0.0.1, and runs distinct voters through
home → round → eligibility check → ballot page → submit → confirmation from several processes.
It prints ballots per second, p50/p95/p99 per step, errors, CPU and memory per worker, queries
per page, and two ceilings measured in the same run: a static file, and a bare psycopg insert
transaction (PostgreSQL only). At the end every receipt shown on a confirmation page is looked up
in the ballots table, and ballots are checked against participations (one per voter).
Only loopback (or a Unix socket) is ever targeted. The database named by --database-url is wiped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import re
import shutil
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
from urllib.parse import urlencode, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SECRET = "voteday-secret-key"
RUT_KEY = "voteday-rut-key"
CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
RECEIPT_RE = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")
STEPS = ["home", "round", "check", "ballot_page", "submit", "confirmation"]


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
    # Outside the set-up's app context: each request gets a session of its own, as when served.
    info["queries_first"] = count_queries(app, info, 0)
    info["queries"] = count_queries(app, info, 1)
    with app.app_context():
        db.engine.dispose()
    return info


def count_queries(app: Any, info: dict[str, Any], voter: int) -> dict[str, int]:
    """Count the SQL statements of each step of one vote flow (test client, in process). The
    first flow of a process also reads what it then keeps (the round, the ballot's projects,
    the database's clock); the next flow shows what the load costs."""
    from sqlalchemy import event

    from portal.extensions import db

    counts: dict[str, int] = {}
    current = {"n": 0}

    def before(*_args: Any) -> None:
        current["n"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    client = app.test_client()
    base = f"/{info['slug']}/rondas/{info['round_id']}"

    def step(name: str, method: str, path: str, data: dict | None = None) -> str:
        current["n"] = 0
        response = client.open(path, method=method, data=data)
        counts[name] = current["n"]
        return response.get_data(as_text=True)

    step("home", "GET", "/")
    page = step("round", "GET", base)  # the round's page holds the eligibility form
    token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
    # The pages as kept for the next anonymous visitor (PORTAL_PUBLIC_PAGE_CACHE_SECONDS).
    for name, path in (("home", "/"), ("round", base)):
        current["n"] = 0
        app.test_client().get(path)
        counts[f"{name} (kept)"] = current["n"]
    # The census holds voters 0..N-1; these voters vote again in the load (a change).
    step(
        "check",
        "POST",
        f"{base}/votar",
        {"csrf_token": token, "rut": make_rut(voter), "birth_date": birth(voter).isoformat()},
    )
    step("ballot_page", "GET", f"{base}/papeleta")
    step(
        "submit",
        "POST",
        f"{base}/papeleta",
        {"csrf_token": token, "comuna-p": str(info["projects"][0])},
    )
    step("confirmation", "GET", f"{base}/voto-registrado")
    event.remove(engine, "before_cursor_execute", before)
    return counts


# ----------------------------------------------------------------------------- the server


def gunicorn_command(port: int, workers: int, threads: int) -> list[str]:
    return [
        str(REPO / ".venv/bin/gunicorn"),
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", str(threads),
        "--bind", f"127.0.0.1:{port}",
        "--keep-alive", "5",
        "--log-level", "warning",
        "wsgi:app",
    ]  # fmt: skip


def healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/salud")
        return conn.getresponse().status == 200
    except OSError:
        return False


class Server:
    """One portal instance: a gunicorn master of its own (own process group, own folder)."""

    def __init__(self, env: dict, port: int, workers: int, threads: int) -> None:
        self.env, self.port, self.workers, self.threads = env, port, workers, threads
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        command = gunicorn_command(self.port, self.workers, self.threads)
        self.process = subprocess.Popen(command, cwd=REPO, env=self.env, start_new_session=True)
        for _ in range(300):
            if healthy(self.port):
                return
            time.sleep(0.05)
        self.process.kill()
        raise SystemExit(f"gunicorn did not start on port {self.port}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill_all(self) -> None:
        """SIGKILL the master and its workers at once, as a crash of the whole instance."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


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


class OwnPostgres:
    """A PostgreSQL cluster of the benchmark's own, so that it may restart it."""

    def __init__(self, port: int) -> None:
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)[
            -1
        ]
        self.dir = Path(tempfile.mkdtemp(prefix="voteday-pg-"))
        self.port = port
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.run("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust")
        self.pg_ctl("start")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / tool), *args], check=True, capture_output=True
        )

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        self.run(
            "pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
            "-o", options, *extra, action,
        )  # fmt: skip

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------- the voters


class Connection:
    """Raw HTTP/1.1 keep-alive over asyncio streams: cheap enough to load two workers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def _exchange(self, head: bytes) -> tuple[int, dict[str, Any], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(head)
        # The status line and headers in one read (a readline each cost the generator CPU that
        # the portal then lacks: it shares the machine).
        try:
            block = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as cut:
            if not cut.partial:
                raise ConnectionError("closed") from cut
            raise
        lines = block.decode("latin-1").split("\r\n")
        status = int(lines[0].split(None, 2)[1])
        headers: dict[str, Any] = {"set-cookie": []}
        for line in lines[1:]:
            if not line:
                continue
            key, _, value = line.partition(":")
            key, value = key.strip().lower(), value.strip()
            if key == "set-cookie":
                headers["set-cookie"].append(value)
            else:
                headers[key] = value
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    async def request(
        self, method: str, path: str, cookie: str, body: bytes | None = None
    ) -> tuple[int, dict[str, Any], bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        if body is not None:
            lines.append("Content-Type: application/x-www-form-urlencoded")
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        # A keep-alive connection the server closed meanwhile is retried once, as browsers do.
        for attempt in range(2):
            try:
                return await asyncio.wait_for(self._exchange(head), 30)
            except (
                OSError,
                ConnectionError,
                asyncio.IncompleteReadError,
                TimeoutError,
                ValueError,
            ):
                self.close()
                if attempt == 1:
                    return 0, {}, b""
        raise AssertionError("unreachable")


CSRF_B = re.compile(rb'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
RECEIPT_B = re.compile(rb"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")
EXPECT = {"home": 200, "round": 200, "check": 302,
          "ballot_page": 200, "submit": 302, "confirmation": 200}  # fmt: skip
OUTAGE_STATUSES = {0, 502, 503}


class Stats:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {s: [] for s in STEPS}
        self.errors: dict[str, int] = {}
        self.outage: dict[str, int] = {}  # answers during a fault, retried like a reload
        self.outage_503_translated = 0
        self.receipts: list[str] = []
        self.ended: list[float] = []
        self.requests = 0


def flow_plan(base: str) -> list[tuple[str, str, str, str | None]]:
    """The vote flow: (step, method, path, form to send) for a round at ``base``."""
    return [
        ("home", "GET", "/", None),
        ("round", "GET", base, None),  # its eligibility form is sent next
        ("check", "POST", f"{base}/votar", "check"),
        ("ballot_page", "GET", f"{base}/papeleta", None),
        ("submit", "POST", f"{base}/papeleta", "ballot"),
        ("confirmation", "GET", f"{base}/voto-registrado", None),
    ]


async def vote_flow(ports: list[int], info: dict, n: int, stats: Stats, patience: float) -> None:
    """One voter through the flow; each request goes to the next instance in turn."""
    connections = [Connection(p) for p in ports]
    jar: dict[str, str] = {}
    base = f"/{info['slug']}/rondas/{info['round_id']}"
    project = info["projects"][n % len(info["projects"])]
    plan = flow_plan(base)
    token = ""
    try:
        for i, (name, method, path, form_kind) in enumerate(plan):
            body = None
            if form_kind == "check":
                rut, born = make_rut(n), birth(n).isoformat()
                body = urlencode({"csrf_token": token, "rut": rut, "birth_date": born}).encode()
            elif form_kind == "ballot":
                body = urlencode({"csrf_token": token, "comuna-p": str(project)}).encode()
            connection = connections[(n + i) % len(connections)]
            deadline = time.monotonic() + patience
            while True:
                cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
                started = time.perf_counter()
                status, headers, text = await connection.request(method, path, cookie, body)
                seconds = time.perf_counter() - started
                stats.requests += 1
                for value in headers.get("set-cookie", []):
                    key, _, rest = value.partition("=")
                    jar[key] = rest.split(";", 1)[0]
                if status == EXPECT[name]:
                    stats.samples[name].append(seconds)
                    break
                if patience and status in OUTAGE_STATUSES and time.monotonic() < deadline:
                    key = f"{name}:{status}"
                    stats.outage[key] = stats.outage.get(key, 0) + 1
                    if status == 503 and b"Servicio no disponible" in text:
                        stats.outage_503_translated += 1
                    await asyncio.sleep(0.2)
                    continue
                key = f"{name}:{status}"
                stats.errors[key] = stats.errors.get(key, 0) + 1
                return
            match = CSRF_B.search(text)
            if match:
                token = match.group(1).decode()
            if name == "confirmation":
                found = RECEIPT_B.search(text)
                if found:
                    stats.receipts.append(found.group(1).decode())
                    stats.ended.append(time.time())
    finally:
        for c in connections:
            c.close()


async def run_voters(
    ports: list[int], info: dict, voters: list[int], concurrency: int, until: float, patience: float
) -> Stats:
    stats = Stats()
    queue = list(reversed(voters))

    async def voter_slot() -> None:
        while time.time() < until and queue:
            await vote_flow(ports, info, queue.pop(), stats, patience)

    await asyncio.gather(*(voter_slot() for _ in range(concurrency)))
    return stats


def load_process(
    ports: list[int], info: dict, voters: list[int], concurrency: int, until: float,
    patience: float, out: Any,
) -> None:  # fmt: skip
    """One load process: an asyncio loop with `concurrency` voters at a time."""
    import resource

    stats = asyncio.run(run_voters(ports, info, voters, concurrency, until, patience))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(
        {
            "samples": stats.samples,
            "errors": stats.errors,
            "outage": stats.outage,
            "outage_503_translated": stats.outage_503_translated,
            "receipts": stats.receipts,
            "ended": stats.ended,
            "requests": stats.requests,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
    )


async def checked_voter(port: int, info: dict, n: int) -> tuple[str, str] | None:
    """Pass voter n's eligibility check (untimed); return their cookie and CSRF token."""
    connection = Connection(port)
    jar: dict[str, str] = {}
    base = f"/{info['slug']}/rondas/{info['round_id']}"
    try:
        token = ""
        form = {"rut": make_rut(n), "birth_date": birth(n).isoformat()}
        for method, path, expect in (("GET", f"{base}/votar", 200), ("POST", f"{base}/votar", 302)):
            body = urlencode({"csrf_token": token, **form}).encode() if method == "POST" else None
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            status, headers, text = await connection.request(method, path, cookie, body)
            for value in headers.get("set-cookie", []):
                key, _, rest = value.partition("=")
                jar[key] = rest.split(";", 1)[0]
            if status != expect:
                return None
            match = CSRF_B.search(text)
            if match:
                token = match.group(1).decode()
        return "; ".join(f"{k}={v}" for k, v in jar.items()), token
    finally:
        connection.close()


async def submit_ballots(
    port: int, info: dict, voters: list[int], concurrency: int, sync: Any, seconds: float
) -> dict[str, Any]:
    """Check every voter first, then, timed, only send each one's ballot (one POST each)."""
    checked: list[tuple[int, tuple[str, str]]] = []
    queue = list(reversed(voters))

    async def check_slot() -> None:
        while queue:
            n = queue.pop()
            found = await checked_voter(port, info, n)
            if found is not None:
                checked.append((n, found))

    await asyncio.gather(*(check_slot() for _ in range(concurrency)))
    ready, go = sync
    ready.put(len(checked))
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    started = time.time()
    cpu_started = time.process_time()
    until = started + seconds
    samples: list[float] = []
    ended: list[float] = []
    errors: dict[str, int] = {}
    base = f"/{info['slug']}/rondas/{info['round_id']}"
    pending = list(reversed(checked))

    async def submit_slot() -> None:
        while pending and time.time() < until:
            n, (cookie, token) = pending.pop()
            project = info["projects"][n % len(info["projects"])]
            body = urlencode({"csrf_token": token, "comuna-p": str(project)}).encode()
            # Each voter sends from their own browser: a connection of their own (timed with
            # its opening). Shared keep-alive connections, all opened at once, would all be
            # accepted by one gunicorn worker and leave the other idle.
            connection = Connection(port)
            t0 = time.perf_counter()
            status, _headers, _text = await connection.request(
                "POST", f"{base}/papeleta", cookie, body
            )
            connection.close()
            if status == 302:
                samples.append(time.perf_counter() - t0)
                ended.append(time.time())
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1

    await asyncio.gather(*(submit_slot() for _ in range(concurrency)))
    return {
        "cpu_submitting": time.process_time() - cpu_started,
        "checked": len(checked),
        "samples": samples,
        "ended": ended,
        "errors": errors,
        "started": started,
        "finished": time.time(),
    }


def submit_process(
    port: int, info: dict, voters: list[int], concurrency: int, sync: Any, seconds: float, out: Any
) -> None:
    out.put(asyncio.run(submit_ballots(port, info, voters, concurrency, sync, seconds)))


def run_submit_only(args: Any, url: str, instance: str) -> None:
    """--submit-only: the ballot submission alone, for voters whose check already passed."""
    print(f"== building a round with {args.voters} census voters on {args.backend}", flush=True)
    info = build_database(url, instance, args.voters)
    extra = {"PORTAL_INSTANCE_PATH": f"{instance}/instance-0"}
    if args.redis_url:
        extra["PORTAL_RATELIMIT_STORAGE_URL"] = args.redis_url
    server = Server(server_env(url, instance, extra), args.port, args.workers, args.server_threads)
    try:
        voters = list(range(1, args.voters))
        chunks = [voters[i :: args.processes] for i in range(args.processes)]
        per_process = max(1, args.concurrency // args.processes)
        ready: Any = mp.Queue()
        go: Any = mp.Event()
        out: Any = mp.Queue()
        print(f"== checking {len(voters)} voters (not timed)", flush=True)
        procs = [
            mp.Process(
                target=submit_process,
                args=(args.port, info, chunk, per_process, (ready, go), args.seconds, out),
            )
            for chunk in chunks
        ]
        for p in procs:
            p.start()
        # Every process checks its voters, then all submit together once the parent says go.
        checked = sum(ready.get() for _ in procs)
        print(f"   {checked} voters checked", flush=True)
        time.sleep(1.0)  # let the server settle
        workers = worker_pids(server.pid)
        cpu_before = {pid: cpu_seconds(pid) for pid in workers}
        print(f"== submitting: {args.concurrency} at a time for up to {args.seconds:.0f} s")
        started = time.time()
        go.set()
        results = [out.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = max(r["finished"] for r in results) - started
        cpu = {pid: (cpu_seconds(pid) - cpu_before[pid]) / elapsed for pid in workers}
    finally:
        server.stop()
    samples = [v for r in results for v in r["samples"]]
    ended = sorted(t for r in results for t in r["ended"])
    errors: dict[str, int] = {}
    for r in results:
        for key, count in r["errors"].items():
            errors[key] = errors.get(key, 0) + count
    # Sustained rate over the middle 80 % of the time ballots were being sent.
    span = (ended[-1] - started) if ended else 0.0
    window = (started + 0.1 * span, started + 0.9 * span)
    sustained = sum(1 for t in ended if window[0] <= t <= window[1]) / (0.8 * span) if span else 0
    figures = {
        "mode": "submit-only",
        "backend": args.backend,
        "workers": args.workers,
        "server_threads": args.server_threads,
        "concurrent_voters": args.concurrency,
        "voters_checked": sum(r["checked"] for r in results),
        "ballots_submitted": len(samples),
        "seconds": round(elapsed, 1),
        "submissions_per_second_sustained": round(sustained, 1),
        "submissions_per_second": round(len(samples) / elapsed, 1) if elapsed else None,
        "submit_ms": {
            "p50": round(percentile(samples, 50) * 1000, 1),
            "p95": round(percentile(samples, 95) * 1000, 1),
            "p99": round(percentile(samples, 99) * 1000, 1),
        },
        "errors": errors,
        "worker_cpu_cores": {str(k): round(v, 2) for k, v in cpu.items()},
        "generator_cpu_cores": round(sum(r["cpu_submitting"] for r in results) / elapsed, 2),
    }
    figures["integrity"] = check_receipts(url, instance, info, [])
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    integrity = figures["integrity"]
    # Voter 0 voted once while the statements were counted; every 302 above is one ballot more.
    if (
        integrity["ballots"] != integrity["participations"]
        or integrity["ballots"] != len(samples) + 1
    ):
        raise SystemExit("INTEGRITY FAILURE: ballots, participations and submissions differ")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def failed_check_probe(ports: list[int], info: dict, tries: int) -> list[int]:
    """One browser sends wrong answers in turn to each instance: the shared limit must hold."""

    async def probe() -> list[int]:
        connections = [Connection(p) for p in ports]
        jar: dict[str, str] = {}
        base = f"/{info['slug']}/rondas/{info['round_id']}"
        statuses = []
        for i in range(tries):
            connection = connections[i % len(connections)]
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            _s, headers, page = await connection.request("GET", f"{base}/votar", cookie)
            for value in headers.get("set-cookie", []):
                key, _, rest = value.partition("=")
                jar[key] = rest.split(";", 1)[0]
            match = CSRF_B.search(page)
            token = match.group(1).decode() if match else ""
            form = {"csrf_token": token, "rut": make_rut(2_000_000 + os.getpid() % 1000),
                    "birth_date": "1900-01-01"}  # fmt: skip
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            status, headers, _p = await connection.request(
                "POST", f"{base}/votar", cookie, urlencode(form).encode()
            )
            for value in headers.get("set-cookie", []):
                key, _, rest = value.partition("=")
                jar[key] = rest.split(";", 1)[0]
            statuses.append(status)
        for c in connections:
            c.close()
        return statuses

    return asyncio.run(probe())


# ----------------------------------------------------------------------------- ceilings


def static_ceiling(port: int, seconds: float, concurrency: int, per_connection: int = 20) -> float:
    """Static-file requests per second, each connection sending ``per_connection`` requests
    and then giving way to a new one, as the voters' connections do. Connections opened all at
    once and kept for the whole run all went to the gunicorn worker that woke first, so the
    figure used to be one worker's (about 1 050 requests/s, against about 2 400 for two)."""

    async def run() -> int:
        until = time.time() + seconds
        count = 0

        async def one() -> None:
            nonlocal count
            while time.time() < until:
                connection = Connection(port)
                for _ in range(per_connection):
                    if time.time() >= until:
                        break
                    status, _h, _b = await connection.request("GET", "/static/css/portal.css", "")
                    count += status == 200
                connection.close()

        await asyncio.gather(*(one() for _ in range(concurrency)))
        return count

    return asyncio.run(run()) / seconds


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
    parser.add_argument(
        "--own-postgres", action="store_true", help="start a PostgreSQL of its own (temp cluster)"
    )
    parser.add_argument("--pg-port", type=int, default=54399, help="port of --own-postgres")
    parser.add_argument("--voters", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--processes", type=int, default=1, help="load generator processes")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent voters in all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server-threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--two-instances",
        action="store_true",
        help="two gunicorn masters (--port and --port+1) sharing the database and Redis; "
        "each voter's requests alternate between them",
    )
    parser.add_argument("--redis-url", default=os.environ.get("PORTAL_BENCH_REDIS_URL", ""))
    parser.add_argument("--kill-worker", action="store_true", help="SIGKILL a worker halfway")
    parser.add_argument(
        "--kill-master",
        action="store_true",
        help="SIGKILL the whole gunicorn (master and workers) halfway, restart it after --outage",
    )
    parser.add_argument(
        "--restart-postgres", action="store_true", help="pg_ctl restart halfway (--own-postgres)"
    )
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the portal stays dead")
    parser.add_argument(
        "--submit-only",
        action="store_true",
        help="check every voter first (not timed), then time only the ballot submissions",
    )
    parser.add_argument("--no-ceilings", action="store_true")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()

    faults = args.kill_worker or args.kill_master or args.restart_postgres
    if args.restart_postgres and not args.own_postgres:
        raise SystemExit("--restart-postgres restarts only a server of its own: add --own-postgres")
    if args.two_instances and not args.redis_url:
        raise SystemExit("--two-instances needs --redis-url (or PORTAL_BENCH_REDIS_URL)")
    for url_ in (args.database_url, args.redis_url):
        host = urlsplit(url_).hostname if url_ else "127.0.0.1"
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise SystemExit(f"only loopback may be targeted, not {host}")

    instance = tempfile.mkdtemp(prefix="voteday-")
    own_pg = None
    if args.own_postgres:
        args.backend = "postgresql"
        own_pg = OwnPostgres(args.pg_port)
    try:
        if own_pg is not None:
            url = own_pg.url
        elif args.backend == "sqlite":
            url = f"sqlite:///{instance}/voteday.sqlite3"
        else:
            url = args.database_url or os.environ.get("PORTAL_BENCH_DATABASE_URL", "")
            if not url:
                raise SystemExit("--database-url (or PORTAL_BENCH_DATABASE_URL) is needed")
        if args.submit_only:
            run_submit_only(args, url, instance)
        else:
            run(args, url, instance, own_pg, faults)
    finally:
        if own_pg is not None:
            own_pg.stop()


def run(args: Any, url: str, instance: str, own_pg: OwnPostgres | None, faults: bool) -> None:
    print(f"== building a round with {args.voters} census voters on {args.backend}", flush=True)
    info = build_database(url, instance, args.voters)
    print("queries per step of one flow:", json.dumps(info["queries"]), flush=True)
    print("the first flow of a process:", json.dumps(info["queries_first"]), flush=True)

    ports = [args.port, args.port + 1] if args.two_instances else [args.port]
    servers = []
    for i, port in enumerate(ports):
        extra = {"PORTAL_INSTANCE_PATH": f"{instance}/instance-{i}"}
        if args.redis_url:
            extra["PORTAL_RATELIMIT_STORAGE_URL"] = args.redis_url
        if args.two_instances:
            # The per-session and per-RUT limit stays at its default: the probe tests it.
            extra["PORTAL_ELIGIBILITY_RATE_LIMIT"] = "8 per 15 minutes"
        servers.append(
            Server(server_env(url, instance, extra), port, args.workers, args.server_threads)
        )
    events: dict[str, Any] = {}
    try:
        static_rps = insert_tps = None
        if not args.no_ceilings:
            print("== ceilings", flush=True)
            static_rps = static_ceiling(ports[0], 5, args.concurrency)
            insert_tps = insert_ceiling(url, 5, args.concurrency)

        all_workers = [pid for s in servers for pid in worker_pids(s.pid)]
        cpu_before = {pid: cpu_seconds(pid) for pid in all_workers}
        voters = list(range(1, args.voters))
        chunks = [voters[i :: args.processes] for i in range(args.processes)]
        per_process = max(1, args.concurrency // args.processes)
        patience = 90.0 if faults else 0.0
        until = time.time() + args.seconds
        out: Any = mp.Queue()
        started = time.time()
        print(
            f"== load: {args.concurrency} voters at a time on {len(ports)} instance(s) "
            f"for {args.seconds:.0f} s",
            flush=True,
        )
        procs = [
            mp.Process(
                target=load_process,
                args=(ports, info, chunk, per_process, until, patience, out),
            )
            for chunk in chunks
        ]
        for p in procs:
            p.start()
        if faults:
            time.sleep(args.seconds / 2)
            events["fault_at_s"] = round(time.time() - started, 2)
            if args.kill_worker:
                victims = worker_pids(servers[0].pid)
                os.kill(victims[0], signal.SIGKILL)
                events["killed_worker"] = victims[0]
                print(f"   SIGKILL worker {victims[0]}", flush=True)
            if args.kill_master:
                events["killed_master"] = servers[0].pid
                servers[0].kill_all()
                print(
                    f"   SIGKILL gunicorn master {events['killed_master']} and workers", flush=True
                )
                time.sleep(args.outage)
                servers[0].start()
                events["restarted_master"] = servers[0].pid
            if args.restart_postgres:
                assert own_pg is not None
                before = {s.pid: sorted(worker_pids(s.pid)) for s in servers}
                t0 = time.time()
                print("   pg_ctl restart -m fast", flush=True)
                own_pg.restart()
                events["postgres_restart_s"] = round(time.time() - t0, 2)
                after = {s.pid: sorted(worker_pids(s.pid)) for s in servers}
                events["portal_processes_unchanged"] = before == after
            events["recovered_at_s"] = round(time.time() - started, 2)
        results = [out.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = time.time() - started
        all_workers = [pid for s in servers for pid in worker_pids(s.pid)]
        rss = {pid: rss_mb(pid) for pid in all_workers}
        cpu = {pid: (cpu_seconds(pid) - cpu_before.get(pid, 0.0)) / elapsed for pid in all_workers}
        probe = None
        if args.two_instances:
            probe = failed_check_probe(ports, info, 10)
    finally:
        for s in servers:
            s.stop()

    samples: dict[str, list[float]] = {s: [] for s in STEPS}
    errors: dict[str, int] = {}
    outage: dict[str, int] = {}
    receipts: list[str] = []
    ended: list[float] = []
    requests = 0
    generator_cpu = 0.0
    translated = 0
    for r in results:
        for step, values in r["samples"].items():
            samples[step].extend(values)
        for key, count in r["errors"].items():
            errors[key] = errors.get(key, 0) + count
        for key, count in r["outage"].items():
            outage[key] = outage.get(key, 0) + count
        receipts.extend(r["receipts"])
        ended.extend(r["ended"])
        requests += r["requests"]
        generator_cpu += r["cpu"]
        translated += r["outage_503_translated"]
    # Sustained rate: flows completed in the middle 80 % of the run (no warm-up, no tail).
    window = (started + 0.1 * args.seconds, started + 0.9 * args.seconds)
    sustained = sum(1 for t in ended if window[0] <= t <= window[1]) / (0.8 * args.seconds)
    all_steps = [v for values in samples.values() for v in values]
    figures: dict[str, Any] = {
        "backend": args.backend,
        "instances": len(ports),
        "workers": args.workers,
        "server_threads": args.server_threads,
        "concurrent_voters": args.concurrency,
        "seconds": round(elapsed, 1),
        "flows_completed": len(receipts),
        "flows_per_second_sustained": round(sustained, 1),
        "submissions_per_second": round(len(samples["submit"]) / elapsed, 1),
        "requests_per_second": round(requests / elapsed, 1),
        "latency_ms": {
            step: {
                "p50": round(percentile(v, 50) * 1000, 1),
                "p95": round(percentile(v, 95) * 1000, 1),
                "p99": round(percentile(v, 99) * 1000, 1),
                "mean": round(statistics.fmean(v) * 1000, 1) if v else None,
            }
            for step, v in samples.items()
        },
        "p95_all_steps_ms": round(percentile(all_steps, 95) * 1000, 1),
        "errors": errors,
        "worker_cpu_cores": {str(k): round(v, 2) for k, v in cpu.items()},
        "worker_rss_mb": {str(k): round(v, 1) for k, v in rss.items()},
        "generator_cpu_cores": round(generator_cpu / elapsed, 2),
        "generator_cpu_us_per_request": round(generator_cpu / max(requests, 1) * 1e6),
        "queries_per_step": info["queries"],
        "queries_per_step_first_flow": info["queries_first"],
        "ceiling_static_rps": round(static_rps, 1) if static_rps else None,
        "ceiling_bare_insert_tps": round(insert_tps, 1) if insert_tps else None,
    }
    if faults:
        recovered = started + events["recovered_at_s"]
        figures["fault"] = {
            **events,
            "answers_during_outage_retried": outage,
            "of_them_503_translated_pages": translated,
            "flows_completed_after_recovery": sum(1 for t in ended if t > recovered),
        }
    if probe is not None:
        figures["failed_check_probe_alternating_instances"] = probe
    figures["integrity"] = check_receipts(url, instance, info, receipts)
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    integrity = figures["integrity"]
    if integrity["receipts_missing"] or integrity["ballots"] != integrity["participations"]:
        raise SystemExit("INTEGRITY FAILURE: a confirmed ballot is missing or counted twice")
    if (
        probe is not None
        and probe[:8] != [200] * 8
        or probe is not None
        and probe[8:] != [429, 429]
    ):
        raise SystemExit(f"SHARED LIMIT FAILURE: failed checks across instances gave {probe}")


if __name__ == "__main__":
    main()

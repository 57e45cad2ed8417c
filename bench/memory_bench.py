"""Shared-memory benchmark: store throughput and get/search latency through the HTTP API at 100k entries, against
the database's own full-text engine queried directly (the floor), in one run.

    .venv/bin/python bench/memory_bench.py --backend sqlite
    .venv/bin/python bench/memory_bench.py --backend postgresql [--database-url postgresql+psycopg://…/test]

What it does:

1. A fresh database (SQLite file in a temp dir, or schema `stellarflow_memory_bench` in PostgreSQL, dropped and
   re-created), the admin and CLI key that `stellarflow up` bootstraps (Enterprise tier: no rate limit or quota).
2. Loads `--entries` entries (default 100,000; deterministic synthetic text over 50 namespaces and 30 tags, with
   topic words at known frequencies: 0.1 %, 1 %, 10 %) through `MemoryService.bulk_import`: the same tables,
   triggers (SQLite FTS5) and generated columns/GIN index (PostgreSQL) as every other write.
3. Starts the real API under uvicorn in its own process (as `stellarflow up` does) and measures, serially over
   keep-alive HTTP: `GET /api/memory/{key}` of random keys, `GET /api/memory/query` for a fixed set of queries
   (rare, medium and common words, AND, a phrase, a prefix, a namespace filter, a tag filter), and
   `POST /api/memory` latency; then store throughput with `--concurrency` clients.
4. Runs the same search queries directly against the engine, through the same indexes — SQLite: the API's FTS5
   `MATCH` expression (namespace and tags as exact `filter_terms` tokens) ranked by `bm25(…)` `ORDER BY … LIMIT 20`
   through `sqlite3`, each hit joined to its row; PostgreSQL: `@@ … ORDER BY ts_rank … LIMIT 20` through `psycopg`
   with the namespace by its B-tree and tags by the `filter_terms` GIN index, planned per query as the API does —
   and prints the ratio HTTP / floor for p50 and p99. The floor has no visibility filter, no `total`, no snippets,
   no credential check and no HTTP.

Targets (issue 5): search p99 ≤ 25 ms over HTTP at 100k entries on SQLite, and ≤ 2× the raw FTS floor.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "stellarflow_memory_bench"
TOPICS = {  # word -> share of entries that mention it
    "kubernetes": 0.001, "terraform": 0.001,
    "authentication": 0.01, "migration": 0.01, "rolling": 0.01, "upgrade": 0.01, "deployment": 0.01,
    "database": 0.10, "cache": 0.10, "security": 0.10,
}
QUERIES: list[tuple[str, str, dict[str, Any]]] = [  # (label, query, filters)
    ("rare word", "kubernetes", {}),
    ("medium word", "authentication", {}),
    ("common word", "database", {}),
    ("two words", "database migration", {}),
    ("phrase", '"rolling upgrade"', {}),
    ("prefix", "deploy*", {}),
    ("namespace filter", "cache", {"namespace": "ns-7"}),
    ("tag filter", "security", {"tags": ["backend"]}),
]
LIMIT = 20


def pctl(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(pctl(values, 0.5), 3), "p99": round(pctl(values, 0.99), 3),
            "mean": round(statistics.fmean(values), 3)}


def corpus(count: int, seed: int = 5) -> list[dict[str, Any]]:
    """Deterministic entries: pseudo-words with a Zipf-like distribution plus topic words at known shares."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ra", "ten", "vu", "so", "pe", "dri", "no", "zal", "qu", "ber", "an", "tio", "gel"]
    vocabulary = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(8000)})
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    tags = [f"tag{n}" for n in range(29)] + ["backend"]
    items = []
    for index in range(count):
        words = rng.choices(vocabulary, cum_weights=cumulative, k=30)
        for topic, share in TOPICS.items():
            if rng.random() < share:
                words.insert(rng.randrange(len(words)), topic)
        if rng.random() < 0.01:  # the phrase, in order
            position = rng.randrange(len(words))
            words[position:position] = ["rolling", "upgrade"]
        items.append({
            "namespace": f"ns-{index % 50}",
            "key": f"doc/{index:06d}",
            "tags": rng.sample(tags, 2),
            "value": {"title": " ".join(rng.choices(vocabulary, cum_weights=cumulative, k=4)),
                      "summary": " ".join(words), "priority": rng.randint(1, 5),
                      "owner": f"team-{rng.randint(1, 20)}"},
        })
    return items


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_postgres(url: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        connection.execute(f"CREATE SCHEMA {PG_SCHEMA}")
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{PG_SCHEMA}"


# ---- the floor: the same queries straight at the engine ---------------------------------------------------------


def floor_runner(backend: str, url: str):
    from core.memory.query import parse, to_tsquery_sql
    from core.memory.tables import PG_TS_CONFIG, tag_term

    def filters_sql(filters: dict[str, Any]) -> tuple[str, list[Any]]:
        """PostgreSQL: the namespace through its B-tree index, tags as exact tokens through the `filter_terms` GIN
        index, as the API does (core/memory/search.py)."""
        clauses, params = [], []
        if "namespace" in filters:
            clauses.append("e.namespace = %s")
            params.append(filters["namespace"])
        if filters.get("tags"):
            clauses.append(f"to_tsvector('{PG_TS_CONFIG}', e.filter_terms) @@ to_tsquery('{PG_TS_CONFIG}', %s)")
            params.append(" & ".join(tag_term(tag) for tag in filters["tags"]))
        return "".join(f" AND {c}" for c in clauses), params

    if backend == "sqlite":
        from core.memory.search import FTS5_SCORE, fts5_match

        connection = sqlite3.connect(url.split("///", 1)[1])

        def run(query: str, filters: dict[str, Any]) -> int:
            # The same index and MATCH expression as the API (namespace and tags are exact tokens in the index),
            # the fastest top-k form (SQLite's sorter over bm25; FTS5's `ORDER BY rank` is slower), each hit's row.
            match = fts5_match(parse(query), filters.get("namespace"), filters.get("tags"))
            sql = (f"SELECT e.pk, top.score FROM (SELECT rowid, {FTS5_SCORE} AS score FROM memory_fts "
                   f"WHERE memory_fts MATCH ? ORDER BY score, rowid LIMIT {LIMIT}) AS top "
                   "JOIN memory_entries e ON e.pk = top.rowid ORDER BY top.score, e.pk")
            return len(connection.execute(sql, [match]).fetchall())
        return run

    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    connection = psycopg.connect(conninfo, autocommit=True)
    # As the API does for its searches (core/memory/service.py): no generic plan for a prepared full-text query.
    connection.execute("SET plan_cache_mode = force_custom_plan")

    def run(query: str, filters: dict[str, Any]) -> int:
        named: dict[str, str] = {}
        tsquery = to_tsquery_sql(parse(query), PG_TS_CONFIG, named)
        for name in sorted(named, key=len, reverse=True):  # :q10 before :q1
            tsquery = tsquery.replace(f":{name}", "%s", 1) if tsquery.count(f":{name}") == 1 else tsquery
        values = [named[name] for name in sorted(named, key=lambda n: int(n[1:]))]
        where, params = filters_sql(filters)
        sql = (f"SELECT e.pk, ts_rank(e.search_vector, q.query, 32) AS score FROM memory_entries e, "
               f"(SELECT {tsquery} AS query) q WHERE e.search_vector @@ q.query{where} "
               f"ORDER BY score DESC, e.pk LIMIT {LIMIT}")
        return len(connection.execute(sql, [*values, *params]).fetchall())
    return run


# ---- the run ----------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", help=f"PostgreSQL URL (default {PG_DEFAULT}; a schema of its own is used)")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--gets", type=int, default=2000, help="serial GETs measured")
    parser.add_argument("--rounds", type=int, default=60, help="measured rounds of the query set (HTTP and floor)")
    parser.add_argument("--stores", type=int, default=500, help="serial stores measured (latency)")
    parser.add_argument("--throughput-stores", type=int, default=2000, help="stores sent with --concurrency clients")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="stellarflow-memory-bench-"))
    os.environ["STELLARFLOW_DATA_DIR"] = str(tmp / "data")
    os.environ["STELLARFLOW_DEFINITIONS_DIR"] = str(tmp / "definitions")
    (tmp / "definitions").mkdir()
    if args.backend == "postgresql":
        url = prepare_postgres(args.database_url or PG_DEFAULT)
        os.environ["DATABASE_URL"] = url
    else:
        os.environ.pop("DATABASE_URL", None)
        url = f"sqlite:///{(tmp / 'data' / 'stellarflow.db').resolve()}"
    os.environ.pop("STELLARFLOW_DATABASE_URL", None)

    import httpx

    from core.auth.bootstrap import bootstrap
    from core.memory.service import service_for
    from core.settings import get_settings

    settings = get_settings()
    bootstrap(settings)
    headers = {"Authorization": f"Bearer {settings.cli_key_file.read_text().strip()}"}
    service = service_for(url)
    results: dict[str, Any] = {"backend": args.backend, "entries": args.entries, "python": sys.version.split()[0]}

    started = time.perf_counter()
    items = corpus(args.entries)
    generated = time.perf_counter()
    for offset in range(0, len(items), 5000):
        service.bulk_import("bench-loader", items[offset:offset + 5000])
    loaded = time.perf_counter()
    if args.backend == "sqlite":
        with service.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO memory_fts(memory_fts) VALUES ('optimize')")
            connection.exec_driver_sql("ANALYZE")
        with service.engine.connect() as connection:  # start the API with an empty WAL, as after a quiet night
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with service.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    results["load"] = {"generate_s": round(generated - started, 2), "bulk_import_s": round(loaded - generated, 2),
                       "entries_per_s": round(len(items) / (loaded - generated)),
                       "optimize_analyze_s": round(time.perf_counter() - loaded, 2)}
    print(f"loaded {len(items)} entries in {loaded - generated:.1f} s "
          f"({results['load']['entries_per_s']}/s) on {args.backend}", flush=True)

    port = free_port()
    log = open(tmp / "api.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=os.environ.copy(),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/api/memory/stats").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start; see {tmp / 'api.log'}")
            time.sleep(0.1)
        rng = random.Random(11)

        def timed(call) -> float:
            begin = time.perf_counter()
            response = call()
            elapsed = (time.perf_counter() - begin) * 1000
            if response.status_code >= 300:
                raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} "
                                   f"{response.text[:300]}")
            return elapsed

        # warm-up: connections, caches, the query plans
        for _ in range(50):
            index = rng.randrange(args.entries)
            http.get(f"/api/memory/doc/{index:06d}", params={"namespace": f"ns-{index % 50}"})
        for _, query, filters in QUERIES:
            http.get("/api/memory/query", params={"pattern": query, "limit": LIMIT, **filters})

        gets = []
        for _ in range(args.gets):
            index = rng.randrange(args.entries)
            gets.append(timed(lambda i=index: http.get(f"/api/memory/doc/{i:06d}",
                                                       params={"namespace": f"ns-{i % 50}"})))
        results["get_http_ms"] = summary(gets)

        floor = floor_runner(args.backend, url)
        for _, query, filters in QUERIES:
            floor(query, filters)
        http_times: dict[str, list[float]] = {label: [] for label, _, _ in QUERIES}
        floor_times: dict[str, list[float]] = {label: [] for label, _, _ in QUERIES}
        totals: dict[str, int] = {}
        for _ in range(args.rounds):  # interleaved, so both sides see the same machine state
            for label, query, filters in QUERIES:
                params = {"pattern": query, "limit": LIMIT, **filters}
                begin = time.perf_counter()
                response = http.get("/api/memory/query", params=params)
                http_times[label].append((time.perf_counter() - begin) * 1000)
                assert response.status_code == 200, response.text
                totals[label] = response.json()["total"]
                begin = time.perf_counter()
                floor(query, filters)
                floor_times[label].append((time.perf_counter() - begin) * 1000)
        all_http = [t for times in http_times.values() for t in times]
        all_floor = [t for times in floor_times.values() for t in times]
        results["search_http_ms"] = summary(all_http)
        results["search_floor_ms"] = summary(all_floor)
        results["search_ratio"] = {"p50": round(pctl(all_http, 0.5) / pctl(all_floor, 0.5), 2),
                                   "p99": round(pctl(all_http, 0.99) / pctl(all_floor, 0.99), 2)}
        results["search_by_query"] = {
            label: {"query": query, **filters, "matches": totals[label],
                    "http_p50": round(pctl(http_times[label], 0.5), 2),
                    "http_p99": round(pctl(http_times[label], 0.99), 2),
                    "floor_p50": round(pctl(floor_times[label], 0.5), 2),
                    "floor_p99": round(pctl(floor_times[label], 0.99), 2)}
            for label, query, filters in QUERIES}

        stores = []
        for n in range(args.stores):
            body = {"namespace": "bench-serial", "key": f"s/{n}", "value": {"n": n, "text": "serial store latency"},
                    "tags": ["bench"]}
            stores.append(timed(lambda b=body: http.post("/api/memory", json=b)))
        results["store_http_ms"] = summary(stores)

        async def throughput() -> float:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
                queue = list(range(args.throughput_stores))

                async def writer() -> None:
                    while queue:
                        n = queue.pop()
                        response = await client.post("/api/memory", json={
                            "namespace": "bench-throughput", "key": f"t/{n}", "value": {"n": n, "note": "throughput"},
                            "tags": ["bench"]})
                        if response.status_code != 201:
                            raise RuntimeError(response.text)

                begin = time.perf_counter()
                await asyncio.gather(*[writer() for _ in range(args.concurrency)])
                return time.perf_counter() - begin

        elapsed = asyncio.run(throughput())
        results["store_throughput"] = {"stores": args.throughput_stores, "concurrency": args.concurrency,
                                       "seconds": round(elapsed, 2),
                                       "per_second": round(args.throughput_stores / elapsed, 1)}
        results["stats"] = http.get("/api/memory/stats").json()
        http.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")

    print(f"\n== memory bench on {args.backend}, {args.entries} entries ==")
    print(f"load (bulk, same tables/indexes): {results['load']}")
    print(f"GET /api/memory/{{key}}        ms: {results['get_http_ms']}")
    print(f"POST /api/memory (serial)     ms: {results['store_http_ms']}")
    print(f"store throughput: {results['store_throughput']['per_second']}/s with {args.concurrency} clients")
    print(f"search over HTTP              ms: {results['search_http_ms']}")
    print(f"search, raw FTS floor         ms: {results['search_floor_ms']}")
    print(f"ratio HTTP / floor: p50 {results['search_ratio']['p50']}x, p99 {results['search_ratio']['p99']}x "
          "(target <= 2x)")
    p99 = results["search_http_ms"]["p99"]
    print(f"search p99 over HTTP: {p99} ms (target <= 25 ms on SQLite)")
    print("per query (matches, http p50/p99, floor p50/p99 ms):")
    for label, row in results["search_by_query"].items():
        print(f"  {label:17} {row['matches']:>6}  {row['http_p50']:7.2f} {row['http_p99']:7.2f}   "
              f"{row['floor_p50']:7.2f} {row['floor_p99']:7.2f}")
    print(f"cache: {results['stats']['cache_hits']} hits, {results['stats']['cache_misses']} misses "
          "(the API process)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load benchmark for `tactful serve`: N concurrent clients POST /v1/drafts for D seconds against a local server
that this script starts (127.0.0.1, a free port) and stops. Prints p50/p95/p99 latency, throughput and the error
count. Targets (template backend): zero errors, p95 ≤ 1 s with 20 clients.

    .venv/bin/python bench/bench_load.py                       # 20 clients, 60 s, a pool of 48 messages
    .venv/bin/python bench/bench_load.py --clients 5 --duration 20 --pool 0   # every message new (worst case)

The messages come from eval/suites/core.jsonl (ten languages). With ``--pool N`` clients cycle through N of them,
as agents see the same questions again (the embedder's query cache answers repeats); ``--pool 0`` makes every
message unique, so every draft embeds its text afresh. Loopback only; every loop is bounded by the duration and a
per-request timeout.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TACTFUL_BACKEND": "template"}
    env.pop("TACTFUL_API_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--host", HOST, "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server was not ready after {timeout:.0f} s")


def messages(pool: int, total_hint: int) -> list[dict]:
    cases = [json.loads(line) for line in (ROOT / "eval/suites/core.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    bodies = [{"message": c["message"], "locale": c.get("locale"),
               "customer": {k: v for k, v in (c.get("customer") or {}).items() if k in ("name", "title")}}
              for c in cases]
    if pool > 0:
        step = max(1, len(bodies) // pool)  # spread over the languages
        return bodies[::step][:pool]
    return [{**bodies[i % len(bodies)], "message": f"{bodies[i % len(bodies)]['message']} (Ref. {100000 + i})"}
            for i in range(total_hint)]


async def client(n: int, url: str, bodies: list[dict], deadline: float, timeout: float,
                 latencies: list[float], errors: list[str], counter: list[int]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as http:
        while time.monotonic() < deadline:
            i = counter[0]
            counter[0] += 1
            body = bodies[i % len(bodies)]
            start = time.perf_counter()
            try:
                r = await http.post("/v1/drafts", json=body)
                elapsed = time.perf_counter() - start
                if r.status_code == 200 and r.json().get("reply"):
                    latencies.append(elapsed)
                else:
                    errors.append(f"HTTP {r.status_code}: {r.text[:120]}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")


async def run_load(url: str, bodies: list[dict], clients: int, duration: float,
                   timeout: float) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    counter = [0]
    start = time.monotonic()
    deadline = start + duration
    await asyncio.gather(*(client(n, url, bodies, deadline, timeout, latencies, errors, counter)
                           for n in range(clients)))
    return latencies, errors, time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--pool", type=int, default=48, help="distinct messages clients cycle through (0 = all unique)")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request timeout (s)")
    ap.add_argument("--ready-timeout", type=float, default=900.0)
    args = ap.parse_args()
    if not (1 <= args.clients <= 200 and 1 <= args.duration <= 3600):
        raise SystemExit("--clients 1..200, --duration 1..3600")

    port = free_port()
    url = f"http://{HOST}:{port}"
    log = ROOT / "test-artifacts" / "bench_load_server.log"
    log.parent.mkdir(exist_ok=True)
    proc = start_server(port, log)
    try:
        ready_s = wait_ready(url, proc, args.ready_timeout)
        bodies = messages(args.pool, total_hint=int(args.clients * args.duration * 10))
        warm = bodies if args.pool > 0 else bodies[:5]
        with httpx.Client(base_url=url, timeout=120) as http:  # warm-up: one pass, not measured
            for body in warm:
                http.post("/v1/drafts", json=body).raise_for_status()
        if args.pool <= 0:
            bodies = bodies[5:]
        latencies, errors, wall = asyncio.run(run_load(url, bodies, args.clients, args.duration, args.timeout))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server we started, and only it
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
    ms = np.asarray(latencies) * 1000.0
    n = len(latencies)
    print(f"server ready in {ready_s:.1f} s; load: {args.clients} clients × {args.duration:.0f} s, "
          f"{'pool of ' + str(args.pool) + ' messages' if args.pool > 0 else 'every message unique'}, template backend")
    if n:
        print(f"requests ok: {n}  ({n / wall:.1f}/s)   errors: {len(errors)}")
        print(f"latency ms: p50 {np.percentile(ms, 50):.0f}   p95 {np.percentile(ms, 95):.0f}   "
              f"p99 {np.percentile(ms, 99):.0f}   max {ms.max():.0f}   mean {statistics.fmean(ms):.0f}")
    else:
        print(f"requests ok: 0   errors: {len(errors)}")
    for e in sorted(set(errors))[:5]:
        print(f"  error: {e}")
    p95 = float(np.percentile(ms, 95)) if n else float("inf")
    verdict = "PASS" if not errors and p95 <= 1000 else "FAIL"
    print(f"target (0 errors, p95 ≤ 1000 ms): {verdict}")


if __name__ == "__main__":
    main()

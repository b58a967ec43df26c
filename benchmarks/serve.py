"""Serving throughput: ``sentvec serve`` under N concurrent clients vs in-process ``model.encode``, loopback only.

    .venv/bin/python benchmarks/serve.py [--clients 32] [--seconds 30] [--texts-per-request 4]

Starts ``sentvec serve --model all-MiniLM-L6-v2`` in a subprocess on a free 127.0.0.1 port, then runs
``--clients`` concurrent clients (asyncio, in this process) for ``--seconds``, each posting small
``/v1/embeddings`` requests of consecutive STSb-en test sentences on its own keep-alive connection.
``--client raw`` (default) is a minimal HTTP/1.1 load generator in the spirit of wrk: request bodies built
before the clock starts, responses checked by status and row count without decoding the vectors, so the
clients take little of the CPU that the server needs; ``--client httpx`` uses a full client (checks the JSON)
and shows what a heavy load generator on the same two cores costs. Reported: texts/s, p50/p99 request latency,
errors (non-200, transport errors, wrong row counts), the server's micro-batch sizes (from ``/metrics``), then
the in-process throughput of ``model.encode`` on the same texts (run after the server has stopped, so the two
never compete for the CPU), their ratio, and the CPU seconds the server and the clients used while under load
(the clients share the machine's cores with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
STSB_TEST = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-test.csv"
MODEL_NAME = "all-MiniLM-L6-v2"
HOST = "127.0.0.1"


def read_sentences(path: Path) -> list[str]:
    """Both sentences of every STSb pair, first occurrence order, no duplicates."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return list(dict.fromkeys(s for r in rows for s in r[:2]))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "sentvec.cli.main", "serve", "--model", args.model, "--host", HOST]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log", "--max-wait-ms", str(args.max_wait_ms)]
    cmd += ["--max-batch-tokens", str(args.max_batch_tokens)]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        **dict(e.split("=", 1) for e in args.server_env),
    }
    return subprocess.Popen(cmd, cwd=REPO, env=env)


def wait_ready(proc: subprocess.Popen[bytes], base: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {proc.returncode}")
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"the server did not answer /health within {timeout:.0f} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Load:
    """Shared state of the clients: the next text, the counts and the latencies."""

    def __init__(self, texts: list[str], per_request: int, encoding_format: str = "base64") -> None:
        self.texts = texts
        self.per_request = per_request
        self.encoding_format = encoding_format
        self.cursor = 0
        self.done_texts = 0
        self.errors = 0
        self.latencies: list[float] = []

    def next_request(self) -> list[str]:
        n = len(self.texts)
        chunk = [self.texts[(self.cursor + i) % n] for i in range(self.per_request)]
        self.cursor += self.per_request
        return chunk


async def client_loop(client: httpx.AsyncClient, load: Load, deadline: float) -> None:
    while time.perf_counter() < deadline:
        texts = load.next_request()
        t0 = time.perf_counter()
        try:
            body = {"input": texts, "model": MODEL_NAME, "encoding_format": load.encoding_format}
            response = await client.post("/v1/embeddings", json=body)
            ok = response.status_code == 200 and len(response.json()["data"]) == len(texts)
        except (httpx.HTTPError, ValueError, KeyError):
            ok = False
        if ok:
            load.latencies.append(time.perf_counter() - t0)
            load.done_texts += len(texts)
        else:
            load.errors += 1


class RawConnection:
    """One keep-alive HTTP/1.1 connection that POSTs prepared JSON bodies and reads whole responses."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        self.writer.write(head + body)
        status = int((await self.reader.readline()).split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        parts = []
        while size := int((await self.reader.readline()).strip(), 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return status, b"".join(parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def raw_client_loop(conn: RawConnection, load: Load, bodies: list[tuple[bytes, int]], deadline: float) -> None:
    while time.perf_counter() < deadline:
        body, n = bodies[load.cursor % len(bodies)]
        load.cursor += 1
        t0 = time.perf_counter()
        try:
            status, payload = await conn.post("/v1/embeddings", body)
            ok = status == 200 and payload.count(b'"object":"embedding"') == n
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            ok = False
            conn.close()
            conn.writer = None
        if ok:
            load.latencies.append(time.perf_counter() - t0)
            load.done_texts += n
        else:
            load.errors += 1


def prepared_bodies(load: Load) -> list[tuple[bytes, int]]:
    """Every request of one pass over the texts, serialized before the clock starts."""
    requests = -(-len(load.texts) // load.per_request)
    probe = Load(load.texts, load.per_request, load.encoding_format)
    bodies = []
    for _ in range(requests):
        texts = probe.next_request()
        body = {"input": texts, "model": MODEL_NAME, "encoding_format": load.encoding_format}
        bodies.append((json.dumps(body).encode("utf-8"), len(texts)))
    return bodies


async def run_raw_clients(host: str, port: int, load: Load, clients: int, seconds: float) -> float:
    bodies = prepared_bodies(load)
    conns = [RawConnection(host, port) for _ in range(clients)]
    try:
        warm = Load(load.texts, load.per_request, load.encoding_format)
        await asyncio.gather(*(raw_client_loop(c, warm, bodies, time.perf_counter() + 1.0) for c in conns))
        start = time.perf_counter()
        await asyncio.gather(*(raw_client_loop(c, load, bodies, start + seconds) for c in conns))
        return time.perf_counter() - start
    finally:
        for c in conns:
            c.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_clients(base: str, load: Load, clients: int, seconds: float) -> float:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=60, limits=limits) as client:
        warm = Load(load.texts, load.per_request, load.encoding_format)
        await asyncio.gather(*(client_loop(client, warm, time.perf_counter() + 1.0) for _ in range(clients)))
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(client, load, start + seconds) for _ in range(clients)))
        return time.perf_counter() - start


def batch_stats(base: str) -> str:
    """Mean texts and requests per micro-batch, from the server's /metrics."""
    text = httpx.get(f"{base}/metrics", trust_env=False).text

    def value(name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    batches = value("sentvec_batch_texts_count")
    if not batches:
        return "no batches recorded"
    texts, requests = value("sentvec_batch_texts_sum"), value("sentvec_batch_requests_sum")
    return f"{batches:.0f} micro-batches, mean {texts / batches:.1f} texts from {requests / batches:.1f} requests"


def in_process(model_name: str, texts: list[str], budget_s: float, chunk: int = 256) -> tuple[int, float]:
    """Texts encoded and seconds taken by ``model.encode`` (normalized, like the server), chunk by chunk."""
    import sentvec

    model = sentvec.load(model_name)
    model.encode(texts[:64], normalize_embeddings=True)  # warm-up
    done, start = 0, time.perf_counter()
    while done < len(texts) and time.perf_counter() - start < budget_s:
        batch = texts[done : done + chunk]
        emb = model.encode(batch, normalize_embeddings=True, show_progress_bar=False)
        assert np.isfinite(emb).all()
        done += len(batch)
    return done, time.perf_counter() - start


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) * 1000 if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--texts-per-request", type=int, default=4)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-batch-tokens", type=int, default=8192)
    parser.add_argument("--model", default=MODEL_NAME)
    parser.add_argument(
        "--micro-batches",
        default="",
        metavar="N,M",
        help="also time in-process encode on chunks of N and M texts (the micro-batch sizes a server forms)",
    )
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="load generator (see above)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE", help="extra server env")
    parser.add_argument(
        "--encoding-format",
        choices=["base64", "float"],
        default="base64",
        help="base64 is what the openai client sends",
    )
    args = parser.parse_args()
    sentences = read_sentences(STSB_TEST)
    port = free_port()
    base = f"http://{HOST}:{port}"
    proc = start_server(args, port)
    try:
        wait_ready(proc, base)
        load = Load(sentences, args.texts_per_request, args.encoding_format)
        server_cpu0, client_cpu0 = cpu_seconds(proc.pid), time.process_time()
        if args.client == "raw":
            elapsed = asyncio.run(run_raw_clients(HOST, port, load, args.clients, args.seconds))
        else:
            elapsed = asyncio.run(run_clients(base, load, args.clients, args.seconds))
        server_cpu, client_cpu = cpu_seconds(proc.pid) - server_cpu0, time.process_time() - client_cpu0
        batches = batch_stats(base)
    finally:
        stop_server(proc)
    served = [sentences[i % len(sentences)] for i in range(load.done_texts)]
    local_n, local_s = in_process(args.model, served, budget_s=args.seconds)
    server_tps, local_tps = load.done_texts / elapsed, local_n / local_s
    p50, p99 = percentile_ms(load.latencies, 50), percentile_ms(load.latencies, 99)
    setup = f"{args.clients} {args.client} clients x {args.texts_per_request} texts/request"
    print(f"\n{args.model}: {setup}, {base}, {os.cpu_count()} CPUs")
    print(f"{'':<22}{'texts':>8}{'seconds':>9}{'texts/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    print(f"{'server':<22}{load.done_texts:>8}{elapsed:>9.1f}{server_tps:>10.1f}{p50:>9.1f}{p99:>9.1f}{load.errors:>8}")
    print(f"{'in-process encode':<22}{local_n:>8}{local_s:>9.1f}{local_tps:>10.1f}{'-':>9}{'-':>9}{'-':>8}")
    mean_ms = statistics.fmean(load.latencies or [0]) * 1000
    print(f"server: {batches}; {len(load.latencies)} requests, mean latency {mean_ms:.1f} ms")
    print(
        f"CPU under load (incl. 1 s warm-up for the clients): server {server_cpu:.1f} s, "
        f"clients {client_cpu:.1f} s, over {elapsed:.1f} s x {os.cpu_count()} cores"
    )
    print(f"throughput ratio server/in-process: {server_tps / local_tps:.2f}")
    chunks = [int(c) for c in args.micro_batches.split(",") if c]
    first_rate = 0.0
    for chunk in chunks:
        n, s = in_process(args.model, served, budget_s=args.seconds, chunk=chunk)
        rate = n / s
        first_rate = first_rate or rate
        print(
            f"in-process encode in chunks of {chunk} texts: {rate:.1f} texts/s "
            f"({rate / first_rate:.2f}x chunks of {chunks[0]}, {rate / local_tps:.2f}x chunks of 256)"
        )
    return 1 if load.errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""The load generator: a separate process that drives the served app over loopback.

It builds and signs every request before a phase starts (signing is the sender's cost, not ours),
then replays the raw HTTP/1.1 bytes over keep-alive sockets from several threads, one connection
each. The client is a few lines of socket code rather than http.client so that its own CPU (on the
same two cores as the server and Postgres) stays small and is the same for the product and the
bare-view ceiling. Prints one JSON document with every phase's figures.

    python -m bench.loadgen ingest --port P --source-id ID --secret whsec_… [--batches N …]
    python -m bench.loadgen bare --port P [--singles N …]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook

from bench import cpu

HOST = "127.0.0.1"


# --- the events -----------------------------------------------------------------------------


def make_event(tag: str, index: int, *, contract: str, outcome_type: str, occurred_at: str) -> dict[str, Any]:
    """One outcome event, deterministic in (tag, index): the same call gives the same body (a resend)."""
    return {
        "id": f"evt_{tag}_{index}",
        "kind": "outcome.claimed",
        "contract": contract,
        "outcome_type": outcome_type,
        "natural_key": f"T-{tag}-{index}",
        "parent_key": f"conv-{index % 997}",
        "occurred_at": occurred_at,
        "value": {"amount_minor": 1000 + index % 5000, "currency": "USD"},
        "evidence": {"ticket_status": "solved", "csat": 5, "transcript_sha256": f"{index:064x}"},
    }


# --- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------


class Connection:
    """One keep-alive connection: send prebuilt request bytes, read one response."""

    def __init__(self, port: int, timeout: float | None = None) -> None:
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def request(self, data: bytes) -> tuple[int, bytes]:
        try:
            return self._request(data)
        except (ConnectionError, TimeoutError):
            # The server closed an idle keep-alive connection: resend on a fresh one. A resend
            # of a webhook is safe by design (same webhook-id, same answer).
            self.close()
            return self._request(data)

    def _request(self, data: bytes) -> tuple[int, bytes]:
        sock = self.sock or self._connect()
        sock.sendall(data)
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(262144)
            if not chunk:
                raise ConnectionError("connection closed before the response")
            buffer += chunk
        head, rest = buffer[:end].lower(), buffer[end + 4 :]
        status = int(head[9:12])
        close = b"\r\nconnection: close" in head
        start = head.find(b"\r\ncontent-length:")
        if start >= 0:
            stop = head.find(b"\r\n", start + 2)
            length = int(head[start + 17 : stop if stop > 0 else None])
            while len(rest) < length:
                chunk = sock.recv(262144)
                if not chunk:
                    raise ConnectionError("connection closed mid-body")
                rest += chunk
            body, self.buffer = rest[:length], rest[length:]
        else:  # no length: the body runs to the end of the connection
            while chunk := sock.recv(262144):
                rest += chunk
            body, close = rest, True
        if close:
            self.close()
        return status, body


@dataclass
class PhaseResult:
    requests: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


DATABASE = ""  # the bench database's name, to tell its Postgres backends from others (bench.cpu)


def run_phase(port: int, requests: Sequence[bytes], concurrency: int, seconds: float) -> PhaseResult:
    """Send every request (or until `seconds` pass), `concurrency` connections at a time."""
    counter = itertools.count()
    results: list[list[tuple[int, bytes, float]]] = [[] for _ in range(concurrency)]
    start_line = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def worker(slot: int) -> None:
        connection = Connection(port)
        out = results[slot]
        start_line.wait()
        while (index := next(counter)) < len(requests) and time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            status, body = connection.request(requests[index])
            out.append((status, body, time.perf_counter() - began))
        connection.close()

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu_before = cpu.snapshot(DATABASE, port)
    began = time.perf_counter()
    deadline[0] = began + seconds
    start_line.wait()
    for thread in threads:
        thread.join()
    result = PhaseResult(elapsed=time.perf_counter() - began)
    result.cpu = cpu.used(cpu_before, cpu.snapshot(DATABASE, port))
    for out in results:
        for status, body, latency in out:
            result.requests += 1
            result.latencies.append(latency)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.bodies.append(body)
    return result


# --- requests -------------------------------------------------------------------------------


def http_request(port: int, path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Signer:
    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.now = dt.datetime.now(dt.UTC)

    def headers(self, msg_id: str, body: bytes, at: dt.datetime | None = None) -> dict[str, str]:
        """Signed at `at` (default: when the signer was made, as for requests built ahead of a phase)."""
        at = at or self.now
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self.webhook.sign(msg_id, at, body.decode()),
        }


@dataclass
class Target:
    port: int
    source_id: str
    secret: str
    contract: str
    outcome_type: str
    run: str

    @property
    def path(self) -> str:
        return f"/webhooks/v1/sources/{self.source_id}/events"

    def occurred_at(self) -> str:
        return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")

    def events(self, tag: str, indices: range | list[int], occurred_at: str) -> list[dict[str, Any]]:
        return [
            make_event(
                f"{self.run}{tag}",
                i,
                contract=self.contract,
                outcome_type=self.outcome_type,
                occurred_at=occurred_at,
            )
            for i in indices
        ]

    def batch_requests(self, tag: str, batches: int, size: int, occurred_at: str) -> list[bytes]:
        signer, requests = Signer(self.secret), []
        for b in range(batches):
            body = orjson.dumps({"events": self.events(tag, range(b * size, (b + 1) * size), occurred_at)})
            msg_id = f"msg_{self.run}{tag}_{b}"
            requests.append(http_request(self.port, self.path, body, signer.headers(msg_id, body)))
        return requests

    def dedup_requests(
        self, batches: int, size: int, dup_share: float, stored_events: int, stored_at: str
    ) -> list[bytes]:
        """Batches of new events mixed with resends (same bodies) of events the batched phase stored."""
        signer, occurred_at = Signer(self.secret), self.occurred_at()
        dups = round(size * dup_share)
        requests = []
        for b in range(batches):
            fresh = self.events("d", range(b * (size - dups), (b + 1) * (size - dups)), occurred_at)
            resent = self.events("b", [(b * dups + i) % stored_events for i in range(dups)], stored_at)
            body = orjson.dumps({"events": fresh + resent})
            msg_id = f"msg_{self.run}d_{b}"
            requests.append(http_request(self.port, self.path, body, signer.headers(msg_id, body)))
        return requests

    def single_requests(self, tag: str, count: int) -> list[bytes]:
        signer, occurred_at = Signer(self.secret), self.occurred_at()
        requests = []
        for i, event in enumerate(self.events(tag, range(count), occurred_at)):
            body = orjson.dumps(event)
            msg_id = f"msg_{self.run}{tag}_{i}"
            requests.append(http_request(self.port, self.path, body, signer.headers(msg_id, body)))
        return requests


def summarize_ingest(result: PhaseResult) -> dict[str, Any]:
    accepted = duplicates = rejected = 0
    for body in result.bodies:
        document = orjson.loads(body)
        accepted += document.get("accepted", 0)
        duplicates += document.get("duplicates", 0)
        rejected += document.get("rejected", 0)
    return {
        "requests": result.requests,
        "elapsed": result.elapsed,
        "statuses": result.statuses,
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected,
        "p50": result.percentile(0.50),
        "p99": result.percentile(0.99),
        "cpu": result.cpu,
    }


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    target = Target(args.port, args.source_id, args.secret, args.contract, args.outcome_type, args.run)
    report: dict[str, Any] = {}

    # Warm-up: every worker process imports, connects and fills its caches before the clock runs.
    warm = target.batch_requests("w", args.warmup, args.batch_size, target.occurred_at())
    warm += target.single_requests("ws", args.warmup * 10)
    report["warmup"] = summarize_ingest(run_phase(args.port, warm, args.batch_concurrency, args.seconds))

    prepared = time.perf_counter()
    batched_at = target.occurred_at()
    batched = target.batch_requests("b", args.batches, args.batch_size, batched_at)
    report["prepare_batched_seconds"] = time.perf_counter() - prepared
    report["batched"] = summarize_ingest(run_phase(args.port, batched, args.batch_concurrency, args.seconds))
    del batched

    stored = report["batched"]["accepted"]
    dedup = target.dedup_requests(args.dup_batches, args.batch_size, args.dup_share, stored, batched_at)
    report["dedup"] = summarize_ingest(run_phase(args.port, dedup, args.batch_concurrency, args.seconds))
    report["dedup"]["expected_duplicates"] = report["dedup"]["requests"] * round(
        args.batch_size * args.dup_share
    )
    del dedup

    singles = target.single_requests("s", args.singles)
    report["single"] = summarize_ingest(run_phase(args.port, singles, args.single_concurrency, args.seconds))
    return report


def bare(args: argparse.Namespace) -> dict[str, Any]:
    occurred_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    requests = [
        http_request(
            args.port,
            "/bare",
            orjson.dumps(make_event("bare", i, contract="CTR", outcome_type="x", occurred_at=occurred_at)),
            {},
        )
        for i in range(args.singles + args.warmup * 10)
    ]
    run_phase(args.port, requests[: args.warmup * 10], args.single_concurrency, args.seconds)
    result = run_phase(args.port, requests[args.warmup * 10 :], args.single_concurrency, args.seconds)
    return {
        "single": {
            "requests": result.requests,
            "elapsed": result.elapsed,
            "statuses": result.statuses,
            "p50": result.percentile(0.50),
            "p99": result.percentile(0.99),
            "cpu": result.cpu,
        }
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["ingest", "bare"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source-id", default="")
    parser.add_argument("--secret", default="")
    parser.add_argument("--contract", default="CTR-bench")
    parser.add_argument("--outcome-type", default="ticket.resolved")
    parser.add_argument("--run", default="r", help="a tag making this run's event ids unique")
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--dup-batches", type=int, default=30)
    parser.add_argument("--dup-share", type=float, default=0.2)
    parser.add_argument("--singles", type=int, default=20000)
    parser.add_argument("--single-concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="cap on each timed phase")
    parser.add_argument("--db-name", default="", help="the bench database (to attribute Postgres CPU)")
    args = parser.parse_args(argv)
    global DATABASE
    DATABASE = args.db_name
    report = ingest(args) if args.mode == "ingest" else bare(args)
    sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_NON_STR_KEYS) + b"\n")


if __name__ == "__main__":
    main()

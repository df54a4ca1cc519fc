"""A counting HTTP proxy in front of Azurite, for the benchmarks only: every Table Storage request the worker makes
passes through it and is counted (by method and table; a `$batch` with the number of operations it holds).

Why a proxy and not a counter inside the app: the app must not carry benchmark code, and the figure must be the
requests that really reached the service, whatever SDK version or retry made them. The proxy runs in the bench's own
process, so its CPU is not the worker's. It understands just enough HTTP/1.1 to find where a request ends
(Content-Length or chunked bodies, keep-alive connections); answers flow back untouched.
"""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

_INNER = re.compile(rb"^(GET|POST|PUT|PATCH|MERGE|DELETE) (\S+) HTTP/1\.1", re.MULTILINE)
_TABLE = re.compile(r"^/[^/]+/([A-Za-z][A-Za-z0-9]*)")
_PARTITION = re.compile(r"PartitionKey eq '([^']*)'")
_PREFIX = re.compile(r"^[a-z][0-9a-z]*?(?=[A-Z])")  # a test prefix before the table's name


@dataclass
class TableCounts:
    """What the proxy saw since the last `reset()`."""

    requests: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # e.g. "GET Couplings", "$batch", "DELETE SyncErrors"
    by_partition: Counter[str] = field(default_factory=Counter)  # reads by table and partition (BENCH_DETAIL)
    batch_operations: Counter[int] = field(default_factory=Counter)  # operations per $batch -> how many batches
    batch_shapes: Counter[str] = field(default_factory=Counter)  # "<table> <methods> x<operations>" -> batches

    def as_dict(self) -> dict[str, Any]:
        largest = max(self.batch_operations, default=0)
        batches = sum(self.batch_operations.values())
        operations = sum(n * c for n, c in self.batch_operations.items())
        return {
            "requests": self.requests,
            "batches": batches,
            "operations_per_batch_mean": round(operations / batches, 1) if batches else 0,
            "operations_per_batch_max": largest,
            "by_kind": dict(self.by_kind.most_common()),
            "reads_by_partition": dict(self.by_partition.most_common(12)),
            "batches_by_shape": dict(self.batch_shapes.most_common(12)),
        }


class TableCounter:
    """`start()` listens on a free loopback port and forwards to `upstream_port`; `connection_string()` is the one to
    hand the worker instead of Azurite's."""

    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream = (host, upstream_port)
        self._lock = threading.Lock()
        self._counts = TableCounts()
        counter = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                counter._serve(self.request)

        self._server = socketserver.ThreadingTCPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])

    def start(self) -> TableCounter:
        threading.Thread(target=self._server.serve_forever, daemon=True, name="table-counter").start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._counts = TableCounts()

    def restore(self, counts: TableCounts) -> None:
        with self._lock:
            self._counts = counts

    def read(self) -> TableCounts:
        with self._lock:
            counts = self._counts
            return TableCounts(
                requests=counts.requests,
                by_kind=Counter(counts.by_kind),
                by_partition=Counter(counts.by_partition),
                batch_operations=Counter(counts.batch_operations),
                batch_shapes=Counter(counts.batch_shapes),
            )

    # -- the proxy -------------------------------------------------------------------------------------------------
    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream)
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        reader = client.makefile("rb")
        try:
            while True:
                head = _read_head(reader)
                if head is None:
                    break
                body = _read_body(reader, head)
                self._count(head, body)
                upstream.sendall(head + body)
        except OSError:
            pass
        finally:
            for sock in (upstream, client):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            upstream.close()

    def _count(self, head: bytes, body: bytes) -> None:
        method, target = head.split(b" ", 2)[:2]
        path = unquote(urlsplit(target.decode("latin-1")).path)
        kind: str
        operations = 0
        batch_shape = ""
        if path.endswith("$batch"):
            kind = "$batch"
            inner = _INNER.findall(body)
            operations = len(inner)
            tables = sorted({_table_of(url) for _, url in inner})
            methods = "+".join(sorted({m.decode() for m, _ in inner}))
            batch_shape = f"{','.join(tables)} {methods} x{operations}"
        else:
            match = _TABLE.match(path)
            table = _PREFIX.sub("", match.group(1).split("(")[0]) if match else "?"
            kind = f"{method.decode()} {table}"
        partition = _PARTITION.search(unquote(target.decode("latin-1")))
        shape = "range" if "RowKey ge" in unquote(target.decode("latin-1")) else "keys/scan"
        with self._lock:
            self._counts.requests += 1
            self._counts.by_kind[kind] += 1
            if method == b"GET" and partition:
                self._counts.by_partition[f"{kind} {partition.group(1)} {shape}"] += 1
            if kind == "$batch":
                self._counts.batch_operations[operations] += 1
                self._counts.batch_shapes[batch_shape] += 1


def _table_of(url: bytes) -> str:
    """The table an operation of a `$batch` names (its URL is absolute: http://host/account/Table(keys))."""
    path = unquote(urlsplit(url.decode("latin-1")).path)
    match = _TABLE.match(path)
    return _PREFIX.sub("", match.group(1).split("(")[0]) if match else "?"


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def _read_head(reader: Any) -> bytes | None:
    lines: list[bytes] = []
    while True:
        line = reader.readline(65537)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _read_body(reader: Any, head: bytes) -> bytes:
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts: list[bytes] = []
        while True:
            size_line = reader.readline()
            parts.append(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            data = reader.read(size + 2)  # the chunk and its CRLF
            parts.append(data)
            if size == 0:
                return b"".join(parts)
    length = int(headers.get(b"content-length", b"0") or 0)
    return bytes(reader.read(length)) if length else b""

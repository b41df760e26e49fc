"""Readiness probes for the local stack, standard library only (runs before any venv exists).

`probe.py kafka HOST:PORT` exits 0 when the broker answers a Metadata request listing at least
one live broker (KRaft has elected itself and the broker is unfenced). `probe.py redis HOST:PORT`
exits 0 when Redis answers PING. Anything else exits 1 with the reason on stderr.
"""

from __future__ import annotations

import socket
import struct
import sys

_TIMEOUT_S = 2.0


def _read_exact(sock: socket.socket, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        buf += chunk
    return buf


def kafka_ready(host: str, port: int) -> int:
    """Metadata v4 (the oldest a Kafka 4 broker accepts) for all topics; returns live brokers."""
    client_id = b"v2v-probe"
    header = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id
    body = struct.pack(">ib", -1, 0)
    request = header + body
    with socket.create_connection((host, port), timeout=_TIMEOUT_S) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _read_exact(sock, 4))
        payload = _read_exact(sock, size)
    correlation_id, _throttle, brokers = struct.unpack_from(">iii", payload, 0)
    if correlation_id != 1:
        raise ConnectionError(f"unexpected correlation id {correlation_id}")
    return brokers


def redis_ready(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=_TIMEOUT_S) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in {"kafka", "redis"}:
        print("usage: probe.py kafka|redis HOST:PORT", file=sys.stderr)
        return 2
    host, _, port = argv[2].rpartition(":")
    try:
        if argv[1] == "kafka":
            brokers = kafka_ready(host, int(port))
            if brokers < 1:
                print("kafka: answered, no live broker yet", file=sys.stderr)
                return 1
        elif not redis_ready(host, int(port)):
            print("redis: no PONG", file=sys.stderr)
            return 1
    except (OSError, ConnectionError, struct.error) as exc:
        print(f"{argv[1]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

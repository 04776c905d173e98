"""The one outbound HTTP client: POST a JSON body to a URL someone typed, safely, and say what happened.

How the address check is made to hold (DNS rebinding): the host name is resolved once, every
address is checked (policy.py), and the connection goes to a checked address. A second lookup by
the HTTP library could get a different answer (a name with a short TTL that first says 203.0.113.9,
then 127.0.0.1), so the library must never resolve the name itself.

We use httpcore, the engine under httpx (installed with it), directly: its ConnectionPool takes a
`network_backend`, a documented hook whose `connect_tcp(host, port)` we answer by dialling the
checked address instead. Everything above the socket still sees the URL's host name, so the Host
header, TLS SNI and certificate verification are for that name, as with any request. httpx's own
transport does not expose that hook in 0.28 (the other way, an IP in the URL plus the
`sni_hostname` extension and a Host header, works too, but spreads the trick over three places).
httpcore also never follows redirects, never reads proxy variables and keeps no cookies, so there
is nothing to switch off. The same hook makes the timeout an overall deadline: every socket
operation gets at most the time left, so a server that drips one byte at a time cannot hold a
worker for longer than `timeout`.
"""
from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import httpcore

from incidents.outbound.policy import IPAddress, OutboundPolicy, Refused, Target, check_addresses, parse_target

USER_AGENT = "DataLossTracker-Webhooks/1.0"
DEFAULT_TIMEOUT = 10.0
MAX_BODY = 64 * 1024
# These describe the message itself; the client sets them from the URL and the body.
_OWN_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}

Resolver = Callable[[str, int], Iterable[str]]


@dataclass(frozen=True)
class Delivery:
    """What happened to one request: the answer, or the reason there was none."""

    status: int | None  # the HTTP status, None when no answer came
    elapsed_ms: int
    body: str = ""  # the start of the answer (at most max_body bytes), as text
    error: str | None = None  # None when the server answered and was not a redirect
    address: str | None = None  # the address connected to

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses as the operating system resolves them, in its order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def post_json(url: str, body: bytes, headers: Mapping[str, str] | None = None, *,
              policy: OutboundPolicy | None = None, timeout: float = DEFAULT_TIMEOUT, max_body: int = MAX_BODY,
              resolve: Resolver = system_resolver, ssl_context: ssl.SSLContext | None = None) -> Delivery:
    """POST body to url as JSON; never raises for a refused URL or a network problem.

    `resolve` and `ssl_context` are for tests and private CAs (None: the certifi bundle, like httpx).
    """
    policy = policy or OutboundPolicy()
    started = time.monotonic()
    deadline = started + timeout

    def outcome(**fields) -> Delivery:
        return Delivery(elapsed_ms=round((time.monotonic() - started) * 1000), **fields)

    try:
        target = parse_target(url, policy)
        addresses = _checked_addresses(target, policy, resolve)
    except Refused as exc:
        return outcome(status=None, error=f"refused: {exc}")
    except OSError as exc:  # socket.gaierror: no such name, or no DNS
        return outcome(status=None, error=f"could not resolve {target.host}: {exc.strerror or exc}")

    request_headers = _request_headers(target, headers or {})
    backend = _PinnedBackend(addresses, deadline)
    every_phase = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    origin = httpcore.URL(scheme=target.scheme, host=target.host, port=target.port, target=target.target)
    try:
        with httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend, max_connections=1) as pool, \
                pool.stream("POST", origin, headers=request_headers, content=body,
                            extensions={"timeout": every_phase}) as response:
            text = _read_capped(response, max_body)
            address = backend.connected_to
            location = next((value for name, value in response.headers if name.lower() == b"location"), None)
            if 300 <= response.status < 400:
                where = location.decode("latin-1")[:200] if location else "nowhere"
                return outcome(status=response.status, body=text, address=address,
                               error=f"redirect not followed ({response.status} to {where})")
            return outcome(status=response.status, body=text, address=address)
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
        return outcome(status=None, address=backend.connected_to, error=_describe(exc, timeout))


def _checked_addresses(target: Target, policy: OutboundPolicy, resolve: Resolver) -> list[IPAddress]:
    if target.ip is not None:
        return check_addresses(target.host, [target.host], policy)
    return check_addresses(target.host, resolve(target.host, target.port), policy)


def _request_headers(target: Target, headers: Mapping[str, str]) -> list[tuple[str, str]]:
    own = [name for name in headers if name.lower() in _OWN_HEADERS]
    if own:
        raise ValueError(f"post_json sets {', '.join(own)} itself")
    merged = {"user-agent": ("User-Agent", USER_AGENT), "content-type": ("Content-Type", "application/json"),
              # A compressed answer could unpack to far more than max_body; ask for none.
              "accept-encoding": ("Accept-Encoding", "identity")}
    merged |= {name.lower(): (name, value) for name, value in headers.items()}
    return [("Host", target.host_header), *merged.values(), ("Connection", "close")]


def _read_capped(response: httpcore.Response, max_body: int) -> str:
    """The start of the answer; stops reading (and drops the connection) after max_body bytes."""
    data = bytearray()
    for chunk in response.iter_stream():
        data += chunk
        if len(data) >= max_body:
            break
    return bytes(data[:max_body]).decode("utf-8", errors="replace")


def _describe(exc: Exception, timeout: float) -> str:
    """A network failure in words."""
    if isinstance(exc, httpcore.TimeoutException | socket.timeout):
        return f"timed out after {timeout:g} s"
    cause = exc.__cause__ or exc.__context__ or exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS error: certificate not accepted ({cause.verify_message})"
    if isinstance(cause, ssl.SSLError):
        return f"TLS error: {cause.reason or cause}"
    if isinstance(exc, httpcore.RemoteProtocolError):
        return f"the server did not answer in HTTP ({exc})"
    if isinstance(exc, httpcore.ConnectError):
        return f"could not connect: {getattr(cause, 'strerror', None) or cause}"
    return f"connection failed: {getattr(cause, 'strerror', None) or cause}"


class _Deadline:
    def __init__(self, at: float) -> None:
        self.at = at

    def clamp(self, timeout: float | None, expired: type[Exception]) -> float:
        """The timeout for one socket operation: at most the time left before the deadline."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise expired("the overall deadline passed")
        return left if timeout is None else min(timeout, left)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked addresses, whatever host name httpcore asks for."""

    def __init__(self, addresses: list[IPAddress], deadline: float) -> None:
        self._addresses = addresses
        self._deadline = _Deadline(deadline)
        self._system = httpcore.SyncBackend()
        self.connected_to: str | None = None

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        failure: Exception | None = None
        for address in self._addresses:  # all checked; try them in the resolver's order
            try:
                limit = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
                stream = self._system.connect_tcp(str(address), port, limit, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            self.connected_to = str(address)
            return _DeadlineStream(stream, self._deadline)
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not for outbound requests")


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes, timeout=None):
        return self._stream.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer, timeout=None):
        self._stream.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self):
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        limit = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        tls = self._stream.start_tls(ssl_context, server_hostname, limit)
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info):
        return self._stream.get_extra_info(info)

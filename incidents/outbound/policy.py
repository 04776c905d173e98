"""What the outbound client may contact: the URL rules, the address rules and the admin's allow-list.

Webhook URLs are typed by users and admins, so a URL is a request to make our server connect
somewhere. Without these rules anyone who can save a webhook could reach the database, the cloud
metadata service (169.254.169.254) or an admin page on the intranet (SSRF).
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_PRIVATE_KEY = "OUTBOUND_ALLOW_PRIVATE"
ALLOW_HTTP_KEY = "OUTBOUND_ALLOW_HTTP"

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: neither public nor "private" to ipaddress
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv6 spelling of an IPv4 address on IPv6-only networks
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}

# Parsers disagree about these (a backslash is "/" to browsers, a space may end the URL), and a
# URL that means two things to two parsers is how checks get bypassed: refuse them outright.
_AMBIGUOUS = re.compile(r"[\x00-\x20\x7f\\]")
# URL parsers (and inet_aton) read a host whose last label is a number as IPv4 in any of its odd
# spellings: 2130706433, 0x7f.1, 127.1, 0177.0.0.1. Only the plain dotted quad is accepted.
_NUMERIC_LAST_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
# Characters left as they are when the path and query are put on the wire.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class Refused(Exception):
    """The URL or one of its addresses is not allowed; the message says why, in words."""


@dataclass(frozen=True)
class OutboundPolicy:
    """Exceptions to the default rules (https only, public addresses only), set by an admin."""

    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, allow_private: str | Iterable[str] = "", *, allow_http: bool = False) -> OutboundPolicy:
        """Build a policy from comma-separated CIDRs and host names; ValueError names a bad entry."""
        entries = allow_private.split(",") if isinstance(allow_private, str) else allow_private
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            if "/" in entry or ":" in entry or _NUMERIC_LAST_LABEL.fullmatch(entry.rsplit(".", 1)[-1].lower()):
                try:
                    networks.append(ipaddress.ip_network(entry))
                except ValueError as exc:
                    raise ValueError(f"{ALLOW_PRIVATE_KEY}: {entry!r} is not a network ({exc})") from None
            elif _HOST_NAME.fullmatch(entry.lower()):
                hosts.add(entry.lower())
            else:
                raise ValueError(f"{ALLOW_PRIVATE_KEY}: {entry!r} is neither a network (10.0.0.0/8) "
                                 "nor an ASCII host name (hooks.intranet.example)")
        return cls(allow_http=allow_http, allowed_networks=tuple(networks), allowed_hosts=frozenset(hosts))

    def allows(self, host: str, ip: IPAddress) -> bool:
        """Whether the admin allowed this host name or this address although it is not public."""
        return host in self.allowed_hosts or any(ip in network for network in self.allowed_networks)


def policy_from_config(config: Mapping[str, Any]) -> OutboundPolicy:
    """The policy set by OUTBOUND_ALLOW_PRIVATE and OUTBOUND_ALLOW_HTTP in an app's config."""
    allow_http = config.get(ALLOW_HTTP_KEY, False)
    if isinstance(allow_http, str):
        allow_http = allow_http.strip().lower() in ("1", "true", "yes", "on")
    return OutboundPolicy.parse(config.get(ALLOW_PRIVATE_KEY) or "", allow_http=bool(allow_http))


@dataclass(frozen=True)
class Target:
    """A checked URL, split into what the connection needs."""

    scheme: str
    host: str  # lower-case ASCII (IDNA), or an IP address without brackets
    port: int
    target: str  # path and query, as sent on the request line
    ip: IPAddress | None  # set when the URL names an address instead of a host name

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if self.ip is not None and self.ip.version == 6 else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_target(url: str, policy: OutboundPolicy) -> Target:
    """Split a URL into scheme, host, port and target, or raise Refused saying what is wrong."""
    if _AMBIGUOUS.search(url):
        raise Refused("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("this is not a valid URL (check the host name and the port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise Refused(f"only https:// URLs are allowed, not {scheme + ':' if scheme else 'this'}")
    if scheme == "http" and not policy.allow_http:
        raise Refused("only https:// URLs are allowed (http:// would send the data unencrypted)")
    if "@" in parts.netloc:
        raise Refused("the URL contains a user name or password; send credentials in a header instead")
    if port == 0:
        raise Refused("port 0 is not a port")
    host, ip = _parse_host(parts.hostname or "")
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), target, ip)


def _parse_host(host: str) -> tuple[str, IPAddress | None]:
    if not host:
        raise Refused("the URL has no host name")
    if host.endswith("."):
        # "localhost." and "127.0.0.1." slip past name and address comparisons; nobody needs the dot.
        raise Refused(f"write the host name without the trailing dot ({host.rstrip('.')})")
    if ":" in host:  # urlsplit removed the brackets of an IPv6 address
        try:
            ip = ipaddress.IPv6Address(host)
        except ValueError:
            raise Refused(f"{host} is not a valid IPv6 address") from None
        if ip.scope_id:
            raise Refused(f"{host} names a network interface; use a public address")
        return str(ip), ip
    if _NUMERIC_LAST_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        try:
            ip4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise Refused(f"{host} is an address in an unusual form; write it as four decimal numbers "
                          "(a.b.c.d) or use the host name") from None
        return str(ip4), ip4
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused(f"{host} is not a valid host name") from None
    if not _HOST_NAME.fullmatch(ascii_host):
        raise Refused(f"{host} is not a valid host name")
    return ascii_host, None


def address_problem(ip: IPAddress) -> str | None:
    """Why this address is not a public one ("a private address"), or None when it is public."""
    if ip.version == 6:
        # An IPv6 address that carries an IPv4 one reaches that IPv4 host: judge that one.
        carried = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
                                                     if ip in _NAT64 else None)
        if carried is not None and (problem := address_problem(carried)):
            return f"{problem} ({carried} written as IPv6)"
        if ip.ipv4_mapped is not None or ip in _NAT64:
            return None  # a public IPv4 address; the IPv6 ranges themselves count as "reserved"
    if ip in _METADATA:
        return "the cloud metadata address"
    for is_it, what in ((ip.is_unspecified, "an unspecified address"), (ip.is_loopback, "a loopback address"),
                        (ip.is_link_local, "a link-local address"), (ip.is_multicast, "a multicast address"),
                        (ip in _SHARED, "a shared (carrier-grade NAT) address"), (ip.is_reserved, "a reserved address"),
                        (ip.is_private, "a private address"), (not ip.is_global, "not a public address")):
        if is_it:
            return what
    return None


def check_addresses(host: str, addresses: Iterable[str], policy: OutboundPolicy) -> list[IPAddress]:
    """Every address of the host, checked; Refused if any one is not public and not allowed."""
    checked: list[IPAddress] = []
    for text in addresses:
        ip = ipaddress.ip_address(text)
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # one spelling per host, so the allow-list and the connection agree
        problem = address_problem(ip)
        if problem and not policy.allows(host, ip):
            # ANY bad address refuses: a name that resolves to a public and a private address
            # would otherwise reach the private one whenever the client happens to pick it.
            subject = f"{ip} is" if text == host else f"{host} resolves to {ip},"
            raise Refused(f"{subject} {problem} (an admin may allow it in {ALLOW_PRIVATE_KEY})")
        checked.append(ip)
    if not checked:
        raise Refused(f"{host} has no address")
    return checked

"""The SSRF guard: which network addresses monitor may reach.

Feed URLs, the redirects they answer with and webhook URLs all come from
outside.  Without a guard, a feed (or a redirect) pointing at
``http://169.254.169.254/`` reads cloud credentials, and one pointing at
``http://127.0.0.1:6379/`` talks to services that trust the local machine.

Two layers:

* :meth:`NetGuard.check_url` — a pre-flight check of a URL: only http/https,
  and an IP literal in any notation (``2130706433``, ``0x7f000001``,
  ``0177.0.0.1``, ``127.1``, ``::ffff:127.0.0.1``) is normalised the way
  libc ``inet_aton`` and the WHATWG URL standard do, then checked.
* :class:`GuardedTransport` — the check that counts.  Its network backend
  resolves the host *once*, checks every resolved address and connects to the
  checked IP itself, so DNS rebinding (a name that answers a public address to
  the check and 127.0.0.1 to the connect) cannot get through.  TLS SNI and the
  Host header still carry the host name: httpcore takes them from the URL, not
  from the address we connect to.

Blocked unless allowed: loopback, RFC 1918 private, link-local (with the
cloud metadata address), shared 100.64.0.0/10, unique-local, multicast,
unspecified, documentation/benchmark/reserved ranges, and IPv6 forms that
embed a blocked IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo).  Anything
Python's :mod:`ipaddress` does not call global is blocked as well.

``[network] allow = ["10.0.0.0/8", "intranet.example"]`` lets chosen ranges or
host names through (``*.example`` allows every sub-domain).

The transport also enforces a *total* deadline: :func:`io_deadline` sets one
for the calling thread, and every connect, read and write is bounded by the
time left (httpx's own timeouts are per operation, so a server dripping a
byte every few seconds would otherwise never time out).

Webhooks reuse all of this: ``guarded_client(guard, timeout=10)``.
"""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from monitor.errors import BlockedAddress, ConfigError, FetchError

log = logging.getLogger("monitor.netguard")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host, port -> IP address strings, in the order to try them
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = frozenset({"http", "https"})



def _blocked(url: str, reason: str) -> BlockedAddress:
    """A BlockedAddress that keeps its bare reason, so a caller that knows the
    full URL (the fetcher) can re-raise it naming that URL."""
    err = BlockedAddress(url, reason)
    err.reason = reason  # type: ignore[attr-defined]
    return err


def _how_to_allow(addr: IPAddress, host: str | None = None) -> str:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    cidr = f"{addr}/{addr.max_prefixlen}"
    if host:
        return (
            f'to allow it, add the host or the address to `[network] allow = [...]` in the config: '
            f'allow = ["{host}"] or allow = ["{cidr}"]'
        )
    return f'to allow it, add its range to `[network] allow = [...]` in the config, e.g. allow = ["{cidr}"]'

# ------------------------------------------------------------ address classes

_N = ipaddress.ip_network

#: (range, class) checked in order; the first match names the class.  Sources:
#: the IANA special-purpose registries (RFC 6890) for IPv4 and IPv6.
_V4_BLOCKED: tuple[tuple[IPNetwork, str], ...] = (
    (_N("0.0.0.0/8"), "unspecified ('this network', RFC 1122)"),
    (_N("10.0.0.0/8"), "private (RFC 1918)"),
    (_N("100.64.0.0/10"), "shared address space / carrier-grade NAT (RFC 6598)"),
    (_N("127.0.0.0/8"), "loopback"),
    (_N("169.254.0.0/16"), "link-local (RFC 3927; includes cloud metadata 169.254.169.254)"),
    (_N("172.16.0.0/12"), "private (RFC 1918)"),
    (_N("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"),
    (_N("192.0.2.0/24"), "documentation (RFC 5737)"),
    (_N("192.88.99.0/24"), "6to4 relay anycast (RFC 7526)"),
    (_N("192.168.0.0/16"), "private (RFC 1918)"),
    (_N("198.18.0.0/15"), "benchmarking (RFC 2544)"),
    (_N("198.51.100.0/24"), "documentation (RFC 5737)"),
    (_N("203.0.113.0/24"), "documentation (RFC 5737)"),
    (_N("224.0.0.0/4"), "multicast"),
    (_N("240.0.0.0/4"), "reserved (includes broadcast 255.255.255.255)"),
)

_V6_BLOCKED: tuple[tuple[IPNetwork, str], ...] = (
    (_N("::/128"), "unspecified"),
    (_N("::1/128"), "loopback"),
    (_N("::/96"), "IPv4-compatible IPv6 (deprecated, RFC 4291)"),
    (_N("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"),
    (_N("100::/64"), "discard-only (RFC 6666)"),
    (_N("2001:db8::/32"), "documentation (RFC 3849)"),
    (_N("2001:10::/28"), "ORCHID (deprecated, RFC 4843)"),
    (_N("fc00::/7"), "unique-local (RFC 4193)"),
    (_N("fe80::/10"), "link-local"),
    (_N("fec0::/10"), "site-local (deprecated, RFC 3879)"),
    (_N("ff00::/8"), "multicast"),
)

_NAT64 = _N("64:ff9b::/96")  # RFC 6052: the low 32 bits are an IPv4 address


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """IPv4 addresses an IPv6 address carries, with the name of the form."""
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.ipv4_mapped is not None:
        found.append(("IPv4-mapped", ip.ipv4_mapped))
    if ip in _NAT64:
        found.append(("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    return found


def address_class(ip: IPAddress) -> str | None:
    """The class of a non-public address ("loopback", "private (RFC 1918)"...),
    or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        for form, v4 in _embedded_v4(ip):
            inner = address_class(v4)
            if inner is not None:
                return f"{form} form of {v4}, {inner}"
        if ip.ipv4_mapped is not None:
            return None  # a mapped public IPv4 address is that public address
        table = _V6_BLOCKED
    else:
        table = _V4_BLOCKED
    for net, name in table:
        if ip in net:
            return name
    if not ip.is_global:
        return "reserved (not globally routable)"
    return None


# ------------------------------------------------------------- IP literals


_DIGITS = {8: frozenset("01234567"), 10: frozenset("0123456789"), 16: frozenset("0123456789abcdefABCDEF")}


def _parse_ipv4_number(part: str) -> int | None:
    """One inet_aton component: 0x.. hex, 0.. octal, else decimal."""
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
        if digits == "":
            return 0  # WHATWG: "0x" alone is zero
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or any(c not in _DIGITS[base] for c in digits):
        return None
    return int(digits, base)


def parse_ipv4_loose(host: str) -> ipaddress.IPv4Address | None:
    """Parse an IPv4 address the way libc ``inet_aton`` does (and browsers, per
    the WHATWG URL standard): 1 to 4 parts, each decimal, octal (leading 0) or
    hex (0x); the last part fills the remaining bytes.  ``127.1`` is
    127.0.0.1, ``2130706433`` and ``0x7f000001`` too.  None if not IPv4."""
    if host.endswith("."):
        host = host[:-1]  # WHATWG allows one trailing dot
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(p == "" for p in parts):
        return None
    numbers = [_parse_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = numbers  # type: ignore[misc]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def parse_ip_host(host: str) -> IPAddress | None:
    """An IP literal from a URL host (brackets and zone id allowed), or None
    for a host name."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return parse_ipv4_loose(host)


# ---------------------------------------------------------------- resolution


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (getaddrinfo), keeping its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for family, _type, _proto, _canon, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


# getaddrinfo has no timeout of its own; running it on a small pool lets the
# total deadline hold while DNS hangs.  The lookup thread finishes on its own
# (resolv.conf bounds it); 8 threads because lookups are rare with keep-alive.
_resolve_pool: ThreadPoolExecutor | None = None
_resolve_pool_lock = threading.Lock()


def _resolve_with_timeout(resolver: Resolver, host: str, port: int, timeout: float | None) -> Sequence[str]:
    global _resolve_pool
    if timeout is None:
        return resolver(host, port)
    with _resolve_pool_lock:
        if _resolve_pool is None:
            _resolve_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="monitor-dns")
    future = _resolve_pool.submit(resolver, host, port)
    try:
        return future.result(timeout=max(timeout, 0.0))
    except FutureTimeout:
        future.cancel()
        raise httpcore.ConnectTimeout(f"DNS lookup of {host} took longer than {timeout:.1f}s") from None


# --------------------------------------------------------------------- guard


def _normalise_name(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


class NetGuard:
    """Decides which addresses monitor may reach.

    ``allow`` holds CIDR ranges (``127.0.0.1/32``, ``::1/128``, ``10.0.0.0/8``)
    or host names (``intranet.example``; ``*.corp.example`` for sub-domains).
    An allowed host name may resolve to anything.  ``resolver`` maps
    ``(host, port)`` to IP strings; tests inject one to play DNS tricks.
    """

    def __init__(self, allow: Iterable[str] = (), *, resolver: Resolver | None = None):
        self.allow: tuple[str, ...] = tuple(allow)
        self._networks: list[IPNetwork] = []
        self._names: set[str] = set()
        self._suffixes: list[str] = []
        for entry in self.allow:
            self._add_allowed(entry)
        self._resolver: Resolver = resolver or system_resolver

    def _add_allowed(self, entry: str) -> None:
        text = entry.strip()
        if not text:
            raise ConfigError("config: [network] allow: an entry is empty; give a CIDR range or a host name")
        if ":" in text or text[0].isdigit():
            try:
                self._networks.append(ipaddress.ip_network(text, strict=False))
                return
            except ValueError:
                pass
        name = _normalise_name(text)
        label = name[2:] if name.startswith("*.") else name
        if not label or not all(c.isalnum() or c in "-." for c in label):
            raise ConfigError(
                f"config: [network] allow: {entry!r} is neither a CIDR range (e.g. 10.0.0.0/8, ::1/128) "
                "nor a host name (e.g. intranet.example, *.corp.example)"
            )
        if name.startswith("*."):
            self._suffixes.append(label)
        else:
            self._names.add(name)

    # -- decisions

    def host_allowed_by_name(self, host: str) -> bool:
        name = _normalise_name(host)
        return name in self._names or any(name == s or name.endswith("." + s) for s in self._suffixes)

    def address_allowed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)  # allowing 127.0.0.1 allows ::ffff:127.0.0.1
        return any(c.version == net.version and c in net for c in candidates for net in self._networks)

    def blocked_reason(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be reached, or None if it may."""
        if self.address_allowed(ip):
            return None
        return address_class(ip)

    def check_address(self, ip: IPAddress | str, *, url: str) -> None:
        """Raise :class:`BlockedAddress` unless ``ip`` may be reached
        (``url`` names the resource in the message, redacted)."""
        addr = ip if not isinstance(ip, str) else parse_ip_host(ip)
        if addr is None:
            raise _blocked(redact_url(url), f"{ip!r} is not an IP address")
        reason = self.blocked_reason(addr)
        if reason is not None:
            raise _blocked(
                redact_url(url),
                f"address {addr} is {reason}; monitor does not reach such addresses by default "
                f"(SSRF guard); " + _how_to_allow(addr),
            )

    def check_url(self, url: str | httpx.URL, *, resolve: bool = True) -> None:
        """Pre-flight check of a URL; raises :class:`BlockedAddress`.

        Only http and https pass.  An IP literal is checked at once; a host
        name is resolved and every address checked when ``resolve`` is true
        (the fetcher passes False and lets the transport check at connect
        time, which is the check DNS rebinding cannot dodge).
        """
        text = str(url)
        if isinstance(url, httpx.URL):
            parsed = url
        else:
            try:
                parsed = httpx.URL(url)
            except (httpx.InvalidURL, TypeError, ValueError) as e:
                # httpx refuses some notations libc accepts (0177.0.0.1); name
                # the address when there is one, so the message says what was meant
                loose = _loose_host(text)
                if loose is not None:
                    self.check_address(loose, url=text)
                raise FetchError(redact_url(text), f"invalid URL: {e}", temporary=False) from e
        if parsed.scheme not in ALLOWED_SCHEMES:
            scheme = parsed.scheme or "(none)"
            raise _blocked(
                redact_url(text), f"scheme {scheme!r} refused: only http and https URLs may be fetched remotely"
            )
        host = parsed.raw_host.decode("ascii", "replace")
        if not host:
            raise _blocked(redact_url(text), "URL has no host")
        ip = parse_ip_host(host)
        if ip is not None:
            self.check_address(ip, url=text)
            return
        if not resolve or self.host_allowed_by_name(host):
            return
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            self.resolve(host, port, url=text)
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
            raise FetchError(redact_url(text), str(e), temporary=True) from e

    def resolve(self, host: str, port: int, *, url: str | None = None, timeout: float | None = None) -> list[str]:
        """Resolve ``host`` once and return its addresses, every one checked.

        One blocked address blocks the host: a name that answers both a public
        and a private address is a rebinding attempt or a misconfiguration.
        """
        shown = redact_url(url) if url else f"{host}:{port}"
        ip = parse_ip_host(host)
        if ip is not None:
            self.check_address(ip, url=shown)
            return [str(ip)]
        by_name = self.host_allowed_by_name(host)
        try:
            answers = list(_resolve_with_timeout(self._resolver, host, port, timeout))
        except OSError as e:
            raise httpcore.ConnectError(f"could not resolve host {host}: {e}") from e
        if not answers:
            raise httpcore.ConnectError(f"could not resolve host {host}: no addresses")
        checked: list[str] = []
        for answer in answers:
            addr = parse_ip_host(answer)
            if addr is None:
                raise _blocked(shown, f"resolver answered {answer!r} for {host}, which is not an IP address")
            if not by_name:
                reason = self.blocked_reason(addr)
                if reason is not None:
                    raise _blocked(
                        shown,
                        f"host {host} resolves to {addr}, which is {reason}; monitor does not reach such "
                        "addresses by default (SSRF guard); "
                        + _how_to_allow(addr, host),
                    )
            checked.append(str(addr))
        return checked

    # -- HTTP plumbing

    def transport(self, **kwargs: Any) -> GuardedTransport:
        """An httpx transport that checks every address at connect time."""
        return GuardedTransport(self, **kwargs)


def _loose_host(url: str) -> IPAddress | None:
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return parse_ip_host(host) if host else None


def redact_url(url: str) -> str:
    """A URL fit for logs and error messages: userinfo becomes ``***``, every
    query value becomes ``***`` (keys stay, they help debugging), the fragment
    goes.  Tokens hide in all of these (``?api_key=``, ``user:pass@``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme and not parts.netloc:
        return parts.path  # a local path
    if ":" in host:
        host = f"[{host}]"
    userinfo = "***@" if "@" in parts.netloc else ""
    query = ""
    if parts.query:
        keys = [pair.split("=", 1)[0] for pair in parts.query.split("&") if pair]
        query = "?" + "&".join(f"{k}=***" for k in keys)
    return f"{parts.scheme}://{userinfo}{host}{port}{parts.path}{query}"


# -------------------------------------------------------------- total deadline

_deadline = threading.local()


@contextmanager
def io_deadline(deadline: float | None) -> Iterator[None]:
    """Bound every connect/read/write this thread does through a guarded
    transport by ``deadline`` (a :func:`time.monotonic` value)."""
    previous = getattr(_deadline, "value", None)
    _deadline.value = deadline
    try:
        yield
    finally:
        _deadline.value = previous


def _time_left(timeout: float | None, exc: type[Exception]) -> float | None:
    """``timeout`` clamped to the thread's deadline; raise ``exc`` if passed."""
    deadline = getattr(_deadline, "value", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise exc("total deadline exceeded")
    return left if timeout is None else min(timeout, left)


def _timeout_message(what: str) -> str:
    deadline = getattr(_deadline, "value", None)
    if deadline is not None and time.monotonic() >= deadline - 0.01:
        return "total deadline exceeded"
    return f"{what} timed out"


def _socket_readable(sock: socket.socket) -> bool:
    """What httpcore asks before reusing a kept-alive connection: readable
    means the server closed it (or sent junk)."""
    if sock.fileno() == -1:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation respects the thread's deadline."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        timeout = _time_left(timeout, httpcore.ReadTimeout)
        try:
            self._sock.settimeout(timeout)
            return self._sock.recv(max_bytes)
        except TimeoutError as e:
            raise httpcore.ReadTimeout(_timeout_message("read")) from e
        except OSError as e:
            raise httpcore.ReadError(str(e)) from e

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        try:
            while view:
                self._sock.settimeout(_time_left(timeout, httpcore.WriteTimeout))
                sent = self._sock.send(view)
                view = view[sent:]
        except TimeoutError as e:
            raise httpcore.WriteTimeout(_timeout_message("write")) from e
        except OSError as e:
            raise httpcore.WriteError(str(e)) from e

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        try:
            self._sock.settimeout(_time_left(timeout, httpcore.ConnectTimeout))
            wrapped = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as e:
            self.close()
            raise httpcore.ConnectTimeout(_timeout_message("TLS handshake")) from e
        except OSError as e:  # ssl.SSLError is an OSError
            self.close()
            raise httpcore.ConnectError(str(e)) from e
        return _DeadlineStream(wrapped)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock  # httpcore asks it selected_alpn_protocol()
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return _socket_readable(self._sock)
        return None


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend: resolve once, check every address, connect to
    the checked IP (never to the name, which could resolve differently)."""

    def __init__(self, guard: NetGuard):
        self.guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.guard.resolve(host, port, timeout=_time_left(timeout, httpcore.ConnectTimeout))
        source = None if local_address is None else (local_address, 0)
        last: OSError | None = None
        for ip in addresses:
            try:
                sock = socket.create_connection(
                    (ip, port), _time_left(timeout, httpcore.ConnectTimeout), source_address=source
                )
            except OSError as e:
                last = e
                continue
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as e:
                sock.close()
                raise httpcore.ConnectError(str(e)) from e
            return _DeadlineStream(sock)
        if isinstance(last, TimeoutError):
            raise httpcore.ConnectTimeout(f"{host}:{port}: {_timeout_message('connect')}") from last
        raise httpcore.ConnectError(f"could not connect to {host}:{port}: {last}") from last

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise _blocked(path, "unix sockets are never reached by the guarded transport")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _to_httpx_error(exc: httpcore.TimeoutException | Exception) -> Exception:
    """httpcore exceptions -> the httpx ones of the same name (httpx mirrors
    httpcore's tree), most specific first."""
    for cls in type(exc).__mro__:
        if cls.__module__.startswith("httpcore") and isinstance(getattr(httpx, cls.__name__, None), type):
            return getattr(httpx, cls.__name__)(str(exc))
    return exc


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]):
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except httpcore.TimeoutException as e:  # before the broader bases
            raise _to_httpx_error(e) from e
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as e:
            raise _to_httpx_error(e) from e

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


_HTTPCORE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.PoolTimeout,
)


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool whose backend is guarded.

    Built on public httpcore/httpx API only.  No proxy support on purpose: a
    proxy would make the connect address the proxy's and void the guard.
    """

    def __init__(
        self,
        guard: NetGuard,
        *,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),
        http1: bool = True,
        http2: bool = False,
        retries: int = 0,
    ):
        self.guard = guard
        if isinstance(verify, ssl.SSLContext):
            ssl_context = verify
        else:
            ssl_context = httpx.create_ssl_context(verify=verify, cert=cert)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            network_backend=GuardedBackend(guard),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except _HTTPCORE_ERRORS as e:
            raise _to_httpx_error(e) from e
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class _RedactURLs(logging.Filter):
    """httpx logs every request at INFO with the full URL ("HTTP Request: GET
    https://user:pw@host/feed?token=..."); rewrite URL arguments through
    :func:`redact_url` so no handler ever sees the secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def redact_httpx_logs() -> None:
    """Install the redacting filter on the "httpx" logger (idempotent)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactURLs) for f in logger.filters):
        logger.addFilter(_RedactURLs())


def guarded_client(guard: NetGuard, **httpx_kwargs: Any) -> httpx.Client:
    """An :class:`httpx.Client` whose every connection passes ``guard``.

    Transport options (``verify``, ``cert``, ``limits``, ``http1``, ``http2``,
    ``retries``) go to the guarded transport; the rest to the client.
    Environment proxies are ignored (``trust_env=False``): a proxy would
    connect on our behalf where the guard cannot see.  httpx's own request
    log lines get their URLs redacted (userinfo, query values).
    """
    for forbidden in ("transport", "mounts", "proxy", "trust_env"):
        if forbidden in httpx_kwargs:
            raise TypeError(f"guarded_client: {forbidden!r} would bypass the SSRF guard")
    redact_httpx_logs()
    transport_kwargs = {
        k: httpx_kwargs.pop(k) for k in ("verify", "cert", "limits", "http1", "http2", "retries") if k in httpx_kwargs
    }
    return httpx.Client(transport=guard.transport(**transport_kwargs), trust_env=False, **httpx_kwargs)

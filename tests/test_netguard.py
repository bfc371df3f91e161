"""The SSRF guard: table tests of what is blocked and what passes, the
allow-list, and the connect-time check that DNS rebinding cannot dodge.

No test sends traffic anywhere but 127.0.0.1/::1: public addresses are only
ever given to ``check_url`` (no connection) or to an injected resolver whose
second answer is loopback.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time

import httpx
import pytest

from monitor.errors import BlockedAddress, ConfigError, FetchError
from monitor.fetch import Fetcher
from monitor.netguard import (
    NetGuard,
    address_class,
    guarded_client,
    io_deadline,
    parse_ip_host,
    parse_ipv4_loose,
    redact_url,
)
from monitor.records import FeedToPoll
from tests.support.feedserver import FeedServer

pytestmark = pytest.mark.timeout(30)

LOOPBACK_ONLY = ["127.0.0.1/32", "::1/128"]


@pytest.fixture(scope="module")
def server():
    with FeedServer() as srv:
        srv.route("/feed", body=b"<rss version='2.0'><channel><title>t</title></channel></rss>")
        yield srv


# ------------------------------------------------------------ blocked literals

# (URL, words the message must contain: the address class as the user reads it)
BLOCKED = [
    # IPv4 loopback in every notation libc inet_aton and browsers accept
    ("http://127.0.0.1/", "loopback"),
    ("http://127.255.255.254/", "loopback"),
    ("http://2130706433/", "loopback"),  # one decimal number
    ("http://0x7f000001/", "loopback"),  # one hex number
    ("http://0x7F000001/", "loopback"),
    ("http://017700000001/", "loopback"),  # one octal number
    ("http://0177.0.0.1/", "loopback"),  # octal part (httpx refuses the URL; the guard still names it)
    ("http://0x7f.0.0.1/", "loopback"),  # hex part
    ("http://0x7f.0.0.01/", "loopback"),  # hex and octal mixed
    ("http://127.1/", "loopback"),  # short form: last part fills 3 bytes
    ("http://127.0.1/", "loopback"),
    ("http://0x7f.1/", "loopback"),  # short and hex
    ("http://127.0.0.1./", "loopback"),  # trailing dot
    ("http://127.0.0.1:6379/", "loopback"),
    ("https://user:pw@127.0.0.1/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    # IPv6 forms that carry an IPv4 address
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, loopback"),
    ("http://[::ffff:7f00:1]/", "IPv4-mapped form of 127.0.0.1, loopback"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped form of 169.254.169.254, link-local"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[::8.8.8.8]/", "IPv4-compatible"),  # deprecated form, blocked whatever it embeds
    ("http://[64:ff9b::7f00:1]/", "NAT64 form of 127.0.0.1"),
    ("http://[64:ff9b::a00:1]/", "NAT64 form of 10.0.0.1, private"),
    ("http://[2002:7f00:1::]/", "6to4 form of 127.0.0.1, loopback"),
    ("http://[2002:c0a8:101::1]/", "6to4 form of 192.168.1.1, private"),
    ("http://[2001:0:a00:1::3f57:fefe]/", "Teredo server form of 10.0.0.1"),
    ("http://[2001:0:808:808::3f57:fefe]/", "Teredo client form of 192.168.1.1"),
    ("http://[2001:0:808:808::f7f7:f7f7]/", "reserved"),  # Teredo with public ends: still not global
    # private, link-local, shared, unique-local
    ("http://10.0.0.1/", "private (RFC 1918)"),
    ("http://10.255.255.255/", "private (RFC 1918)"),
    ("http://172.16.0.1/", "private (RFC 1918)"),
    ("http://172.31.255.254/", "private (RFC 1918)"),
    ("http://192.168.1.1/", "private (RFC 1918)"),
    ("http://3232235777/", "private (RFC 1918)"),  # 192.168.1.1 as one number
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
    ("http://0xa9fea9fe/", "link-local"),  # the same in hex
    ("http://169.254.0.1/", "link-local"),
    ("http://100.64.0.1/", "shared address space"),
    ("http://100.127.255.254/", "shared address space"),
    ("http://[fc00::1]/", "unique-local"),
    ("http://[fd12:3456:789a::1]/", "unique-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),  # with a zone id
    ("http://[fec0::1]/", "site-local"),
    # multicast, unspecified, reserved, documentation, benchmarking
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://192.0.0.8/", "IETF protocol assignments"),
    ("http://192.0.2.1/", "documentation"),
    ("http://198.51.100.7/", "documentation"),
    ("http://203.0.113.9/", "documentation"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://[100::1]/", "discard-only"),
]


@pytest.mark.parametrize("url,words", BLOCKED, ids=[u for u, _ in BLOCKED])
def test_blocked_addresses_name_their_class_and_how_to_allow(url, words):
    with pytest.raises(BlockedAddress) as exc:
        NetGuard().check_url(url, resolve=False)
    message = str(exc.value)
    assert message.startswith("fetch: ")
    assert words in message
    assert "[network] allow" in message
    assert exc.value.temporary is False


PUBLIC = [
    "http://93.184.216.34/",
    "https://8.8.8.8/dns-query",
    "http://1.1.1.1:8080/feed",
    "http://134744072/",  # 8.8.8.8 as one number is still 8.8.8.8
    "http://[2606:4700:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",  # IPv4-mapped public: the public address
    "http://[2002:808:808::1]/",  # 6to4 of a public address
    "http://[64:ff9b::808:808]/",  # NAT64 of a public address
    "http://100.63.255.255/",  # just below the shared range
    "http://100.128.0.0/",  # just above it
    "http://172.15.255.255/",  # just below 172.16/12
    "http://172.32.0.0/",  # just above it
]


@pytest.mark.parametrize("url", PUBLIC)
def test_public_literals_pass_without_any_traffic(url):
    NetGuard().check_url(url, resolve=False)
    NetGuard().check_url(url, resolve=True)  # a literal is never looked up


REFUSED_SCHEMES = [
    ("file:///etc/passwd", "'file'"),
    ("ftp://93.184.216.34/feed.xml", "'ftp'"),
    ("gopher://93.184.216.34:70/", "'gopher'"),
    ("dict://93.184.216.34:11211/stat", "'dict'"),
    ("javascript:alert(1)", "'javascript'"),
    ("/etc/passwd", "(none)"),
]


@pytest.mark.parametrize("url,scheme", REFUSED_SCHEMES)
def test_only_http_and_https_are_fetched_remotely(url, scheme):
    with pytest.raises(BlockedAddress, match="only http and https") as exc:
        NetGuard(allow=["0.0.0.0/0"]).check_url(url)
    assert scheme in str(exc.value)


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"no test may look up {host}")


@pytest.mark.parametrize("url", ["http://news.example:http/", "http://[::1/", "http://user@:80/"])
def test_an_unparsable_url_is_a_permanent_fetch_error(url):
    with pytest.raises(FetchError, match="invalid URL|no host") as exc:
        NetGuard(resolver=no_dns).check_url(url)
    assert exc.value.temporary is False


# ------------------------------------------------------------ IP literal parsing

LOOSE_IPV4 = [
    ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0X7F000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0177.0000.0000.0001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"),  # WHATWG: a bare 0x is zero
    ("1.16777215", "1.255.255.255"),
    ("4294967295", "255.255.255.255"),
    # not IPv4: host names (or invalid), left to the resolver and the connect-time check
    ("4294967296", None),
    ("256.0.0.1", None),
    ("1.2.3.256", None),
    ("1.2.3.4.5", None),
    ("08.0.0.1", None),  # 8 is not an octal digit
    ("0x7g.0.0.1", None),
    ("1..2", None),
    ("", None),
    ("example.com", None),
    ("127.0.0.1.example.com", None),
]


@pytest.mark.parametrize("host,expected", LOOSE_IPV4)
def test_ipv4_literals_are_read_like_inet_aton(host, expected):
    parsed = parse_ipv4_loose(host)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    "host,expected",
    [
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("0x7f.1", "127.0.0.1"),
        ("news.example", None),
        ("[not:an:address]", None),
    ],
)
def test_parse_ip_host(host, expected):
    parsed = parse_ip_host(host)
    assert (str(parsed) if parsed else None) == expected


def test_address_class_is_none_only_for_public_addresses():
    assert address_class(ipaddress.ip_address("93.184.216.34")) is None
    assert address_class(ipaddress.ip_address("127.0.0.1")) == "loopback"


# ------------------------------------------------------------------ allow-list


def test_allowed_ranges_pass_and_others_stay_blocked():
    guard = NetGuard(allow=["10.0.0.0/8", "::1/128"])
    guard.check_url("http://10.1.2.3/feed")
    guard.check_url("http://0x0a010203/feed")  # the same address in hex
    guard.check_url("http://[::1]:8080/feed")
    with pytest.raises(BlockedAddress, match="192.168.1.1"):
        guard.check_url("http://192.168.1.1/")
    with pytest.raises(BlockedAddress, match="loopback"):
        guard.check_url("http://127.0.0.1/")


def test_allowing_an_ipv4_address_allows_its_ipv4_mapped_form():
    guard = NetGuard(allow=["127.0.0.1/32"])
    guard.check_url("http://[::ffff:127.0.0.1]/")
    with pytest.raises(BlockedAddress):
        guard.check_url("http://[::ffff:127.0.0.2]/")


def test_allowed_host_names_may_resolve_anywhere_and_wildcards_cover_subdomains():
    answers = {"intranet.example": ["10.0.0.5"], "feeds.corp.example": ["192.168.7.7"], "other.example": ["10.0.0.6"]}
    guard = NetGuard(allow=["Intranet.Example.", "*.corp.example"], resolver=lambda host, port: answers[host])
    guard.check_url("http://intranet.example/rss")
    guard.check_url("http://feeds.corp.example/rss")
    with pytest.raises(BlockedAddress, match=r"other\.example resolves to 10\.0\.0\.6, which is private"):
        guard.check_url("http://other.example/rss")


@pytest.mark.parametrize("entry", ["", "10.0.0.0/33", "not a host!", "http://10.0.0.1/"])
def test_bad_allow_entries_are_config_errors(entry):
    with pytest.raises(ConfigError, match=r"\[network\] allow"):
        NetGuard(allow=[entry])


# ------------------------------------------------------------------ resolution


def test_localhost_resolves_to_loopback_and_is_blocked():
    # the system resolver: localhost is 127.0.0.1 / ::1 on every machine we run on
    with pytest.raises(BlockedAddress, match=r"host localhost resolves to .*loopback") as exc:
        NetGuard().check_url("http://localhost:8080/feed")
    assert 'allow = ["localhost"]' in str(exc.value)


def test_one_blocked_answer_among_public_ones_blocks_the_host():
    guard = NetGuard(resolver=lambda host, port: ["93.184.216.34", "10.0.0.1"])
    with pytest.raises(BlockedAddress, match="10.0.0.1"):
        guard.check_url("http://mixed.example/")


def test_a_public_host_name_passes():
    calls = []

    def resolver(host, port):
        calls.append((host, port))
        return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    NetGuard(resolver=resolver).check_url("https://news.example/rss")
    assert calls == [("news.example", 443)]


def test_a_host_that_does_not_resolve_is_a_temporary_error():
    def resolver(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(FetchError, match="could not resolve host") as exc:
        NetGuard(resolver=resolver).check_url("http://gone.example/")
    assert exc.value.temporary is True


# ------------------------------------------------------------ at connect time


class Rebinder:
    """A DNS answer that changes: public for the first question, loopback after."""

    def __init__(self, first: str, then: str):
        self.answers = [first, then]
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self.lock:
            self.calls += 1
            return [self.answers[0] if self.calls == 1 else self.answers[1]]


def test_dns_rebinding_cannot_reach_the_server(server):
    rebinder = Rebinder("93.184.216.34", "127.0.0.1")
    guard = NetGuard(resolver=rebinder)
    url = f"http://rebind.test:{server.port}/feed"
    before = server.hits["/feed"]
    guard.check_url(url)  # the pre-flight check sees the public answer and passes...
    with Fetcher(guard=guard, timeout=5) as fetcher:
        with pytest.raises(BlockedAddress, match=r"rebind\.test resolves to 127\.0\.0\.1, which is loopback"):
            fetcher.fetch(FeedToPoll(id=1, name="rebind", url=url))  # ...the connect-time check does not
    assert rebinder.calls == 2
    assert server.hits["/feed"] == before  # not one request arrived


def test_the_transport_connects_to_the_checked_address_keeping_the_host_name(server):
    # "rebind.test" exists in no DNS: reaching the server proves the transport
    # connected to the address the guard checked, not to a second lookup
    guard = NetGuard(allow=LOOPBACK_ONLY, resolver=Rebinder("127.0.0.1", "127.0.0.1"))
    with guarded_client(guard, timeout=5) as client:
        response = client.get(f"http://rebind.test:{server.port}/feed")
    assert response.status_code == 200
    assert server.requests["/feed"][-1].headers["host"] == f"rebind.test:{server.port}"


def test_guarded_client_blocks_loopback_unless_allowed(server):
    before = server.hits["/feed"]
    with guarded_client(NetGuard(), timeout=5) as client:
        with pytest.raises(BlockedAddress, match="loopback"):
            client.get(server.url("/feed"))
    assert server.hits["/feed"] == before
    with guarded_client(NetGuard(allow=LOOPBACK_ONLY), timeout=5) as client:
        assert client.get(server.url("/feed")).status_code == 200
    assert server.hits["/feed"] == before + 1


def test_guarded_client_ignores_proxy_environment(server, monkeypatch):
    # a proxy would connect for us where the guard cannot look; a dead proxy
    # here would make the request fail if it were used
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    with guarded_client(NetGuard(allow=LOOPBACK_ONLY), timeout=5) as client:
        assert client.get(server.url("/feed")).status_code == 200


@pytest.mark.parametrize("kwarg", ["transport", "mounts", "proxy", "trust_env"])
def test_guarded_client_refuses_options_that_bypass_the_guard(kwarg):
    with pytest.raises(TypeError, match="bypass the SSRF guard"):
        guarded_client(NetGuard(), **{kwarg: None})


def test_io_deadline_bounds_a_slow_drip_that_per_read_timeouts_never_catch():
    with FeedServer() as srv:
        srv.route("/drip", body=b"x" * 200, drip=0.05)  # a byte every 50 ms: no single read is slow
        with guarded_client(NetGuard(allow=LOOPBACK_ONLY), timeout=10) as client:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout, match="deadline"):
                with io_deadline(time.monotonic() + 0.5):
                    client.get(srv.url("/drip"))
            assert time.monotonic() - started < 1.5


def test_ipv6_loopback_server_is_reachable_only_when_allowed():
    with FeedServer(host="::1") as srv:
        srv.route("/feed", body=b"<rss/>")
        with guarded_client(NetGuard(allow=["127.0.0.1/32"]), timeout=5) as client:
            with pytest.raises(BlockedAddress, match="::1 is loopback"):
                client.get(srv.url("/feed"))
        with guarded_client(NetGuard(allow=["::1/128"]), timeout=5) as client:
            assert client.get(srv.url("/feed")).content == b"<rss/>"
        assert srv.hits["/feed"] == 1


# ------------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def tls_server():
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("feeds.test")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with FeedServer(tls=server_context) as srv:
        srv.route("/feed", body=b"<rss/>")
        yield srv, client_context


def test_tls_through_the_pinned_address_verifies_the_host_name(tls_server):
    # the transport connects to 127.0.0.1 yet TLS still checks the
    # certificate against "feeds.test" (SNI and verification use the URL host)
    srv, client_context = tls_server
    guard = NetGuard(allow=LOOPBACK_ONLY, resolver=lambda host, port: ["127.0.0.1"])
    with Fetcher(guard=guard, verify=client_context, timeout=5) as fetcher:
        got = fetcher.fetch(FeedToPoll(id=1, name="tls", url=f"https://feeds.test:{srv.port}/feed"))
    assert got.body == b"<rss/>"
    assert srv.requests["/feed"][-1].headers["host"] == f"feeds.test:{srv.port}"


def test_tls_refuses_a_certificate_for_another_name(tls_server):
    srv, client_context = tls_server
    guard = NetGuard(allow=LOOPBACK_ONLY, resolver=lambda host, port: ["127.0.0.1"])
    before = srv.hits["/feed"]
    with Fetcher(guard=guard, verify=client_context, timeout=5) as fetcher:
        with pytest.raises(FetchError, match="could not connect.*(?i:certificate)") as exc:
            fetcher.fetch(FeedToPoll(id=1, name="tls", url=f"https://impostor.test:{srv.port}/feed"))
    assert exc.value.temporary is True
    assert srv.hits["/feed"] == before


# ------------------------------------------------------------------ redaction

REDACT = [
    (
        "https://user:secret@news.example/feed?token=abc123&page=2#frag",
        "https://***@news.example/feed?token=***&page=***",
    ),
    ("https://news.example:8443/rss", "https://news.example:8443/rss"),
    ("http://[::1]:8080/x?k", "http://[::1]:8080/x?k=***"),
    ("/srv/feeds/local.xml", "/srv/feeds/local.xml"),
    ("https://only-user@news.example/", "https://***@news.example/"),
]


@pytest.mark.parametrize("url,expected", REDACT)
def test_redact_url_hides_userinfo_and_query_values(url, expected):
    assert redact_url(url) == expected

"""The fetch adapter against a real HTTP server on 127.0.0.1 (respx only for
the status-code table, where a socket adds nothing)."""

from __future__ import annotations

import gzip
import hashlib
import logging
import socket
import time
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import respx

from monitor.errors import (
    BlockedAddress,
    FeedGone,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RateLimited,
    TooLarge,
    TooManyRedirects,
)
from monitor.fetch import Fetcher, accept_encoding, parse_http_date, parse_max_age, parse_retry_after
from monitor.netguard import NetGuard
from monitor.records import FeedToPoll, FetchStatus
from tests.support.feedserver import FeedServer, Request, Route, gzip_bomb

pytestmark = pytest.mark.timeout(30)

LOOPBACK = ["127.0.0.1/32", "::1/128"]
CAP = 1 << 20  # 1 MiB keeps the bomb and endless-body cases fast
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Ceasefire talks resume</title><link>https://news.example/1</link></item>
</channel></rss>"""
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def server():
    with FeedServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def fetcher():
    with Fetcher(guard=NetGuard(allow=LOOPBACK), timeout=5, connect_timeout=2, max_body_bytes=CAP) as f:
        yield f


def poll(url: str, **fields) -> FeedToPoll:
    return FeedToPoll(id=1, name="test", url=url, **fields)


_paths = iter(range(1_000_000))


def fresh(prefix: str = "/f") -> str:
    """A path no other test uses (the server is shared by the module)."""
    return f"{prefix}{next(_paths)}"


# ------------------------------------------------------------------- 200 / 304


def test_200_returns_body_validators_and_kept_headers(server, fetcher):
    path = fresh()
    url = server.route(
        path,
        body=FEED,
        etag='"v1"',
        last_modified="Sun, 01 Mar 2026 10:00:00 GMT",
        headers={"Content-Language": "en", "Content-Location": "/canonical.xml", "Set-Cookie": "s=1"},
    )
    got = fetcher.fetch(poll(url))
    assert got.status is FetchStatus.OK
    assert got.http_status == 200
    assert got.body == FEED
    assert got.body_hash == hashlib.sha256(FEED).hexdigest()
    assert (got.etag, got.last_modified) == ('"v1"', "Sun, 01 Mar 2026 10:00:00 GMT")
    assert got.headers["content-type"].startswith("application/rss+xml")
    assert got.headers["content-language"] == "en"
    assert got.headers["content-location"] == "/canonical.xml"
    assert "set-cookie" not in got.headers
    assert got.final_url == url and got.permanent_redirect is None
    assert 0 < got.elapsed < 5
    sent = server.requests[path][0].headers
    assert sent["user-agent"].startswith("monitor/")
    assert sent["accept-encoding"] == accept_encoding()
    assert "if-none-match" not in sent


def test_second_fetch_with_stored_etag_is_304(server, fetcher):
    url = server.route(path := fresh(), body=FEED, etag='W/"abc"')
    first = fetcher.fetch(poll(url))
    second = fetcher.fetch(poll(url, etag=first.etag, body_hash=first.body_hash))
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.http_status == 304 and second.body is None
    assert second.etag == 'W/"abc"'
    assert server.requests[path][1].headers["if-none-match"] == 'W/"abc"'


def test_second_fetch_with_stored_last_modified_is_304(server, fetcher):
    url = server.route(path := fresh(), body=FEED, last_modified="Sun, 01 Mar 2026 10:00:00 GMT")
    first = fetcher.fetch(poll(url))
    second = fetcher.fetch(poll(url, last_modified=first.last_modified))
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.last_modified == "Sun, 01 Mar 2026 10:00:00 GMT"
    assert server.requests[path][1].headers["if-modified-since"] == first.last_modified


def test_same_bytes_without_validators_is_unchanged(server, fetcher):
    url = server.route(fresh(), body=FEED)
    first = fetcher.fetch(poll(url))
    second = fetcher.fetch(poll(url, body_hash=first.body_hash))
    assert second.status is FetchStatus.UNCHANGED
    assert second.body is None and second.http_status == 200
    assert second.body_hash == first.body_hash
    server.route(url.removeprefix(server.base_url), body=FEED + b"\n")
    third = fetcher.fetch(poll(url, body_hash=first.body_hash))
    assert third.status is FetchStatus.OK and third.body == FEED + b"\n"


def test_a_feed_that_changed_since_the_stored_etag_is_fetched_again(server, fetcher):
    def publish(request: Request) -> Route:
        edition = 1 if request.hit == 1 else 2
        return Route(body=FEED + b"<!-- %d -->" % edition, etag=f'"e{edition}"')

    url = server.route(fresh(), responder=publish)
    first = fetcher.fetch(poll(url))
    second = fetcher.fetch(poll(url, etag=first.etag, body_hash=first.body_hash))
    third = fetcher.fetch(poll(url, etag=second.etag, body_hash=second.body_hash))
    assert (first.etag, second.etag) == ('"e1"', '"e2"')
    assert second.status is FetchStatus.OK and second.body.endswith(b"<!-- 2 -->")
    assert third.status is FetchStatus.NOT_MODIFIED


# ---------------------------------------------------------------- decompression

ENCODED = [
    (("gzip",), "gzip"),
    (("deflate",), "deflate"),
    (("deflate-raw",), "deflate"),  # raw deflate labelled deflate, as some servers send it
    (("gzip", "deflate"), "gzip, deflate"),
    (("gzip", "gzip"), "gzip, gzip"),
]


@pytest.mark.parametrize("codings,header", ENCODED, ids=["+".join(c) for c, _ in ENCODED])
def test_compressed_bodies_are_decoded(server, fetcher, codings, header):
    url = server.route(fresh(), body=FEED * 50, encoding=codings)
    got = fetcher.fetch(poll(url))
    assert got.body == FEED * 50
    assert got.headers["content-encoding"] == header
    assert got.body_hash == hashlib.sha256(FEED * 50).hexdigest()  # of the decoded body


def test_multi_member_gzip_is_read_whole(server, fetcher):
    url = server.route(
        fresh(), raw_body=gzip.compress(b"<rss>") + gzip.compress(b"</rss>"), headers={"Content-Encoding": "x-gzip"}
    )
    assert fetcher.fetch(poll(url)).body == b"<rss></rss>"


@pytest.mark.parametrize(
    "raw,header,expected",
    [
        (gzip.compress(b"<rss>") + gzip.compress(b"</rss>") + b"\0junk", "gzip", b"<rss></rss>"),
        (zlib.compress(b"<rss></rss>"), "deflate", b"<rss></rss>"),
        (b"\xb3)*.\xd6\xb7\x03\x00", "deflate", b"<rss/>"),  # raw deflate of <rss/>, no zlib header
    ],
    ids=["gzip-members-and-trailing-junk", "deflate", "raw-deflate"],
)
def test_decoding_survives_a_body_arriving_byte_by_byte(server, fetcher, raw, header, expected):
    # member boundaries and the two header bytes split across reads
    url = server.route(fresh(), raw_body=raw, headers={"Content-Encoding": header}, drip=0.001, drip_size=1)
    assert fetcher.fetch(poll(url)).body == expected


def test_chained_gzip_bomb_stops_at_the_cap_with_bounded_memory(server, fetcher):
    bomb = gzip_bomb(100 << 20, layers=2)  # 100 MiB of zeros
    assert len(bomb) < 1000  # a few hundred bytes on the wire
    url = server.route(fresh(), raw_body=bomb, headers={"Content-Encoding": "gzip, gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="after decompression"):
            fetcher.fetch(poll(url))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the cap (1 MiB) plus a few 64 KiB decoding steps; httpx's own decoder
    # would have made one 100 MiB chunk
    assert peak < 4 * CAP


def test_deflate_bomb_stops_at_the_cap(server, fetcher):
    raw = zlib.compress(b"\0" * (50 << 20), 9)
    url = server.route(fresh(), raw_body=raw, headers={"Content-Encoding": "deflate"})
    with pytest.raises(TooLarge):
        fetcher.fetch(poll(url))


@pytest.mark.parametrize(
    "header,raw,match",
    [
        ("zstd", b"\x28\xb5\x2f\xfd", "unsupported Content-Encoding 'zstd'"),
        ("compress", b"\x1f\x9d", "unsupported Content-Encoding 'compress'"),
        ("gzip, gzip, gzip, gzip", b"", "stacks 4 encodings"),
        ("gzip", b"this is not gzip at all", "gzip body is corrupt"),
    ],
)
def test_unknown_or_broken_encodings_are_permanent_errors(server, fetcher, header, raw, match):
    url = server.route(fresh(), raw_body=raw, headers={"Content-Encoding": header})
    with pytest.raises(FetchError, match=match) as exc:
        fetcher.fetch(poll(url))
    assert exc.value.temporary is False


def test_brotli_when_a_bounded_brotli_is_installed(server, fetcher):
    brotli = pytest.importorskip("brotli")
    if not hasattr(brotli.Decompressor, "can_accept_more_data"):
        pytest.skip("this brotli cannot limit its output, so monitor does not ask for br")
    url = server.route(fresh(), body=FEED, encoding=("br",))
    assert "br" in accept_encoding()
    assert fetcher.fetch(poll(url)).body == FEED
    bomb = server.route(
        fresh(), raw_body=brotli.compress(b"\0" * (100 << 20), quality=5), headers={"Content-Encoding": "br"}
    )
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            fetcher.fetch(poll(bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * CAP


# ------------------------------------------------------------------- size caps


def test_body_over_the_cap_is_too_large(server, fetcher):
    url = server.route(fresh(), body=b"x" * (CAP + 1))
    with pytest.raises(TooLarge, match="Content-Length") as exc:
        fetcher.fetch(poll(url))
    assert exc.value.temporary is False


def test_body_exactly_at_the_cap_is_fine(server, fetcher):
    url = server.route(fresh(), body=b"x" * CAP)
    assert len(fetcher.fetch(poll(url)).body) == CAP


def test_a_lying_small_content_length_cannot_sneak_past(server, fetcher):
    # no Content-Length pre-check can help here: the count while reading does
    url = server.route(fresh(), endless=True)
    started = time.monotonic()
    with pytest.raises(TooLarge, match="over the 1048576-byte cap"):
        fetcher.fetch(poll(url))
    assert time.monotonic() - started < 2


# ------------------------------------------------------------------- redirects


def test_redirect_chain_301_302_200(server, fetcher):
    final = server.route(fresh(), body=FEED)
    middle = server.route(fresh(), status=302, location=final)
    first = server.route(fresh(), status=301, location=middle.removeprefix(server.base_url))  # relative Location
    got = fetcher.fetch(poll(first))
    assert got.status is FetchStatus.OK and got.body == FEED
    assert got.url == first and got.final_url == final
    # the 301 moved `first` to `middle` for good; `middle` only sends us on for now
    assert got.permanent_redirect == middle


def test_a_chain_of_permanent_redirects_reports_the_final_url(server, fetcher):
    final = server.route(fresh(), body=FEED)
    middle = server.route(fresh(), status=308, location=final)
    first = server.route(fresh(), status=301, location=middle)
    assert fetcher.fetch(poll(first)).permanent_redirect == final


def test_temporary_redirects_do_not_move_the_feed(server, fetcher):
    final = server.route(fresh(), body=FEED)
    first = server.route(fresh(), status=307, location=final)
    got = fetcher.fetch(poll(first))
    assert got.final_url == final and got.permanent_redirect is None


def test_redirect_loop_is_detected(server, fetcher):
    a, b = fresh(), fresh()
    server.route(a, status=302, location=b)
    server.route(b, status=302, location=a)
    with pytest.raises(TooManyRedirects, match="redirect loop") as exc:
        fetcher.fetch(poll(server.url(a)))
    assert exc.value.temporary is False
    assert server.hits[a] == 1 and server.hits[b] == 1


def test_hop_limit(server):
    paths = [fresh() for _ in range(4)]
    for here, there in zip(paths, paths[1:]):
        server.route(here, status=302, location=there)
    server.route(paths[-1], body=FEED)
    with Fetcher(guard=NetGuard(allow=LOOPBACK), max_redirects=2) as strict:
        with pytest.raises(TooManyRedirects, match="more than 2 redirects"):
            strict.fetch(poll(server.url(paths[0])))
    with Fetcher(guard=NetGuard(allow=LOOPBACK), max_redirects=3) as enough:
        assert enough.fetch(poll(server.url(paths[0]))).body == FEED


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed", "gopher://127.0.0.1/"])
def test_redirect_to_a_non_http_scheme_is_refused(server, fetcher, target):
    url = server.route(fresh(), status=302, location=target)
    with pytest.raises(BlockedAddress, match="may only redirect to http or https"):
        fetcher.fetch(poll(url, allow_local=True))  # even a local-allowed feed: the remote side chose it


@pytest.mark.parametrize("host", ["127.0.0.2", "::1"])
def test_redirect_to_an_address_not_allowed_is_refused(host):
    # only 127.0.0.1 is allowed: the second server sits on a loopback address that is not
    with FeedServer() as first, FeedServer(host=host) as second:
        second.route("/secret", body=b"internal")
        url = first.route("/feed", status=302, location=second.url("/secret"))
        with Fetcher(guard=NetGuard(allow=["127.0.0.1/32"]), timeout=5) as fetcher:
            with pytest.raises(BlockedAddress, match="loopback") as exc:
                fetcher.fetch(poll(url))
        assert "[network] allow" in str(exc.value)
        assert first.hits["/feed"] == 1
        assert second.hits["/secret"] == 0


def test_redirect_to_a_name_resolving_to_a_blocked_address_is_refused(server):
    # the hop names a host; the transport resolves it at connect time and refuses
    answers = {"internal.test": ["10.0.0.7"]}
    guard = NetGuard(allow=LOOPBACK, resolver=lambda host, port: answers[host])
    url = server.route(fresh(), status=301, location="http://internal.test/admin")
    with Fetcher(guard=guard) as fetcher:
        with pytest.raises(BlockedAddress, match=r"internal\.test resolves to 10\.0\.0\.7, which is private"):
            fetcher.fetch(poll(url))


def test_the_first_url_is_checked_too(server):
    before = sum(server.hits.values())
    with Fetcher(guard=NetGuard()) as fetcher:
        with pytest.raises(BlockedAddress, match="127.0.0.1 is loopback"):
            fetcher.fetch(poll(server.route(fresh(), body=FEED)))
    assert sum(server.hits.values()) == before


# ---------------------------------------------------------------- status codes


def test_404_and_410_are_feed_gone(server, fetcher):
    for status in (404, 410):
        url = server.route(fresh(), status=status, body=b"gone")
        with pytest.raises(FeedGone) as exc:
            fetcher.fetch(poll(url))
        assert exc.value.status == status and exc.value.temporary is False


@pytest.mark.parametrize(
    "status,retry_after,expected",
    [
        (429, "120", timedelta(seconds=120)),
        (429, format_datetime(NOW + timedelta(minutes=5), usegmt=True), timedelta(minutes=5)),
        (503, "30", timedelta(seconds=30)),
        (503, None, None),
        (429, "soon", None),
    ],
)
def test_429_and_503_are_rate_limited_with_retry_after(server, fetcher, status, retry_after, expected):
    headers = {"Retry-After": retry_after} if retry_after else {}
    url = server.route(fresh(), status=status, headers=headers)
    with pytest.raises(RateLimited) as exc:
        fetcher.fetch(poll(url), now=NOW)
    assert exc.value.retry_after == expected
    assert exc.value.temporary is True


def test_500_is_a_temporary_http_error(server, fetcher):
    url = server.route(fresh(), status=500, body=b"oops")
    with pytest.raises(HTTPStatusError, match="HTTP 500") as exc:
        fetcher.fetch(poll(url))
    assert exc.value.status == 500 and exc.value.temporary is True


STATUS_TABLE = [
    # status, error class, temporary
    (400, HTTPStatusError, False),
    (401, HTTPStatusError, False),
    (403, HTTPStatusError, False),
    (405, HTTPStatusError, False),
    (418, HTTPStatusError, False),
    (451, HTTPStatusError, False),
    (300, HTTPStatusError, False),  # a redirect status without Location
    (302, HTTPStatusError, False),
    (502, HTTPStatusError, True),
    (504, HTTPStatusError, True),
    (520, HTTPStatusError, True),
    (404, FeedGone, False),
    (410, FeedGone, False),
    (429, RateLimited, True),
    (503, RateLimited, True),
]


@pytest.mark.parametrize("status,error,temporary", STATUS_TABLE)
def test_status_mapping(status, error, temporary):
    # feeds.test resolves to 127.0.0.1 only: were respx ever bypassed, nothing
    # would leave the machine
    guard = NetGuard(allow=LOOPBACK, resolver=lambda host, port: ["127.0.0.1"])
    with respx.mock(assert_all_called=True) as mock, Fetcher(guard=guard) as fetcher:
        mock.get("http://feeds.test/rss").respond(status)
        with pytest.raises(error) as exc:
            fetcher.fetch(poll("http://feeds.test/rss"))
    assert type(exc.value) is error
    assert exc.value.temporary is temporary
    assert str(exc.value).startswith("fetch: http://feeds.test/rss: ")


@pytest.mark.parametrize("status", [200, 203, 206])
def test_2xx_is_ok(status):
    guard = NetGuard(allow=LOOPBACK, resolver=lambda host, port: ["127.0.0.1"])
    with respx.mock() as mock, Fetcher(guard=guard) as fetcher:
        mock.get("http://feeds.test/rss").respond(status, content=FEED)
        got = fetcher.fetch(poll("http://feeds.test/rss"))
    assert got.status is FetchStatus.OK and got.http_status == status and got.body == FEED


# ------------------------------------------------------------------ cache hints


def test_cache_hints_are_parsed(server, fetcher):
    expires = NOW + timedelta(hours=1)
    url = server.route(
        fresh(),
        body=FEED,
        headers={
            "Cache-Control": "public, max-age=600",
            "Age": "100",
            "Expires": format_datetime(expires, usegmt=True),
            "Retry-After": "900",
        },
    )
    got = fetcher.fetch(poll(url), now=NOW)
    assert got.max_age == timedelta(seconds=500)
    assert got.expires == expires
    assert got.retry_after == timedelta(seconds=900)


@pytest.mark.parametrize(
    "cache_control,age,expected",
    [
        ("max-age=300", None, 300),
        ("public, max-age=300, must-revalidate", None, 300),
        ('max-age="60"', None, 60),
        ("MAX-AGE=60", "10", 50),
        ("max-age=60", "600", 0),
        ("no-cache", None, None),
        ("max-age=soon", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_parse_max_age(cache_control, age, expected):
    got = parse_max_age(cache_control, age)
    assert (got.total_seconds() if got is not None else None) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("0", timedelta(0)),
        ("3600", timedelta(hours=1)),
        (" 60 ", timedelta(minutes=1)),
        ("Sun, 01 Mar 2026 12:10:00 GMT", timedelta(minutes=10)),
        ("Sun, 01 Mar 2026 11:00:00 GMT", timedelta(0)),  # in the past: now
        ("-5", None),
        ("tomorrow", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("Sun, 01 Mar 2026 12:00:00 GMT", NOW),
        ("Sunday, 01-Mar-26 12:00:00 GMT", NOW),  # RFC 850, obsolete but allowed
        ("Sun Mar  1 12:00:00 2026", NOW),  # asctime
        ("0", None),
        ("-1", None),
        ("", None),
    ],
)
def test_parse_http_date(value, expected):
    assert parse_http_date(value) == expected


# ---------------------------------------------------------------- the deadline


def test_slow_drip_ends_at_the_total_deadline(server):
    url = server.route(fresh(), body=FEED, drip=0.05)  # every read is quick; the whole is not
    with Fetcher(guard=NetGuard(allow=LOOPBACK), timeout=1.0) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match="total deadline of 1s") as exc:
            fetcher.fetch(poll(url))
        took = time.monotonic() - started
    assert exc.value.temporary is True
    assert 0.9 < took < 2.0


def test_slow_headers_end_at_the_total_deadline(server):
    url = server.route(fresh(), body=FEED, delay=3)
    with Fetcher(guard=NetGuard(allow=LOOPBACK), timeout=0.8) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchTimeout):
            fetcher.fetch(poll(url))
        assert time.monotonic() - started < 1.8


def test_the_deadline_spans_every_redirect_hop(server):
    # each hop is quick enough alone; four together are not
    paths = [fresh() for _ in range(4)]
    for here, there in zip(paths, paths[1:]):
        server.route(here, status=302, location=there, delay=0.35)
    server.route(paths[-1], body=FEED, delay=0.35)
    with Fetcher(guard=NetGuard(allow=LOOPBACK), timeout=1.0) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchTimeout):
            fetcher.fetch(poll(server.url(paths[0])))
        assert time.monotonic() - started < 2.0
    assert server.hits[paths[-1]] <= 1


def test_endless_body_stops_at_the_cap(server, fetcher):
    url = server.route(fresh(), endless=True)
    with pytest.raises(TooLarge):
        fetcher.fetch(poll(url))


# ---------------------------------------------------------- connection errors


def test_connection_refused_is_temporary():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with Fetcher(guard=NetGuard(allow=LOOPBACK), timeout=3) as fetcher:
        with pytest.raises(FetchError, match="could not connect") as exc:
            fetcher.fetch(poll(f"http://127.0.0.1:{port}/feed"))
    assert type(exc.value) is FetchError and exc.value.temporary is True


def test_a_name_that_does_not_resolve_is_temporary():
    def resolver(host, port):
        raise socket.gaierror(-2, "Name or service not known")

    with Fetcher(guard=NetGuard(resolver=resolver)) as fetcher:
        with pytest.raises(FetchError, match="could not resolve host nowhere.test") as exc:
            fetcher.fetch(poll("http://nowhere.test/rss"))
    assert exc.value.temporary is True


def test_server_closing_mid_body_is_temporary(server, fetcher):
    url = server.route(fresh(), raw_body=b"<rss>", headers={"Content-Length": "5000"}, close=True)
    with pytest.raises(FetchError, match="connection failed") as exc:
        fetcher.fetch(poll(url))
    assert exc.value.temporary is True


# ------------------------------------------------------------------ local files


def test_local_file_needs_allow_local(tmp_path, fetcher):
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    for url in (path.as_uri(), str(path)):
        with pytest.raises(BlockedAddress, match="allow_local") as exc:
            fetcher.fetch(poll(url))
        assert exc.value.temporary is False


def test_local_file_and_plain_path_are_read_when_allowed(tmp_path, fetcher):
    path = tmp_path / "feed with space.xml"
    path.write_bytes(FEED)
    for url in (path.as_uri(), str(path)):
        got = fetcher.fetch(poll(url, allow_local=True))
        assert got.status is FetchStatus.OK and got.body == FEED and got.http_status is None
        again = fetcher.fetch(poll(url, allow_local=True, body_hash=got.body_hash))
        assert again.status is FetchStatus.UNCHANGED and again.body is None


def test_local_file_over_the_cap_and_missing_file(tmp_path, fetcher):
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * (CAP + 1))
    with pytest.raises(TooLarge):
        fetcher.fetch(poll(str(big), allow_local=True))
    with pytest.raises(FetchError, match="no such file") as exc:
        fetcher.fetch(poll(str(tmp_path / "absent.xml"), allow_local=True))
    assert exc.value.temporary is False


def test_file_url_with_a_remote_host_is_refused(fetcher):
    with pytest.raises(BlockedAddress, match="remote host"):
        fetcher.fetch(poll("file://fileserver.example/share/feed.xml", allow_local=True))


# ----------------------------------------------------------- secrets and logs


def test_credentials_reach_the_server_but_never_the_logs_or_messages(server, fetcher, caplog):
    path = fresh()
    server.route(path, status=404)
    url = f"http://reader:s3cr3t-pw@127.0.0.1:{server.port}{path}?token=t0k3n-value"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(FeedGone) as exc:
        fetcher.fetch(poll(url))
    assert server.requests[path][0].headers["authorization"].startswith("Basic ")
    texts = [str(exc.value), caplog.text]
    assert all("s3cr3t" not in t and "t0k3n" not in t for t in texts)
    assert "token=***" in str(exc.value)


def test_fetch_logs_a_redacted_line(server, fetcher, caplog):
    url = server.route(fresh(), body=FEED)
    caplog.set_level(logging.DEBUG, logger="monitor.fetch")
    fetcher.fetch(poll(url + "?key=abc"))
    assert any(r.name == "monitor.fetch" and "key=***" in r.getMessage() for r in caplog.records)
    assert "abc" not in caplog.text


# ---------------------------------------------------------------- concurrency


@pytest.mark.parametrize("clients", [1, 3])
def test_fetch_is_thread_safe(server, clients):
    paths = [fresh("/t") for _ in range(40)]
    for i, p in enumerate(paths):
        server.route(p, body=FEED + str(i).encode(), etag=f'"{i}"')
    with Fetcher(guard=NetGuard(allow=LOOPBACK), clients=clients, max_connections=8) as fetcher:
        with ThreadPoolExecutor(max_workers=8) as pool:
            first = list(pool.map(lambda p: fetcher.fetch(poll(server.url(p))), paths * 3))
            second = list(pool.map(lambda r: fetcher.fetch(poll(r.url, etag=r.etag)), first))
    assert [r.body for r in first] == [FEED + str(i).encode() for i in range(40)] * 3
    assert all(r.status is FetchStatus.NOT_MODIFIED for r in second)
    assert all(server.hits[p] == 6 for p in paths)


def test_keep_alive_reuses_connections(server, fetcher):
    url = server.route(path := fresh(), body=FEED)
    for _ in range(5):
        fetcher.fetch(poll(url))
    ports = {r.client[1] for r in server.requests[path]}
    assert len(ports) == 1

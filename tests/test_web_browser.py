"""A real browser on the served site: headless Chromium opens the digest and a
story page served by uvicorn on 127.0.0.1, and the test reads the DOM after
scripts would have run (``--dump-dom``) and takes screenshots.

The database holds a hostile entry (script tags, javascript: links, event
handlers, CSS injection, an SVG onload) whose code, if it ever ran, would set
``document.title`` to "pwned" or put ``data-pwned`` on the body.  A control
page with the same code proves the check can see it when it does run.

Skipped when no Chromium is installed, except under CI=true, where it fails:
.ci/run installs Debian's chromium.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import lxml.html
import pytest
import uvicorn
from sqlmodel import Session

from monitor.sanitize import strip_controls
from monitor.store import migrate
from monitor.store.db import make_engine
from monitor.web import create_app
from tests.support import dbfill

pytestmark = pytest.mark.browser

UTC = timezone.utc
NOW = datetime(2024, 5, 14, 5, tzinfo=UTC)  # 07:00 in Berlin: the digest of 2024-05-14 is due
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: a cold Chromium start with --dump-dom takes about 1 s here; 60 s is "hung"
BROWSER_TIMEOUT = 60


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    reason = f"no Chromium found on PATH (looked for {', '.join(CHROMIUM_NAMES)}); apt-get install chromium"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path):
    exe = find_chromium()
    profile = tmp_path / "chromium-profile"

    def run(url: str, *extra: str) -> str:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--mute-audio",
            # nothing but the test server resolves: a stray request fails instead of leaving the machine
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}", *extra, url,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=BROWSER_TIMEOUT)
        assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
        return done.stdout

    return run


@pytest.fixture
def site(tmp_path, make_settings):
    """The site over a database filled with the sample day, on a free port of 127.0.0.1."""
    settings = make_settings({
        "digest": {"timezone": "Europe/Berlin", "time": "07:00"},
        "watches": [{"name": "Homs", "priority": 5, "aliases": ["Homs"]},
                    {"name": "Tabqa Dam", "priority": 3, "aliases": ["Tabqa dam"]}],
    })
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    with Session(engine) as s:
        sample = dbfill.fill_sample(s, now=NOW)
        s.commit()
    app = create_app(engine, settings, scheduler_alive=lambda: True, clock=lambda: NOW + timedelta(minutes=5))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the OS picks a free port: no race
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", sample
    server.should_exit = True
    thread.join(10)
    sock.close()
    engine.dispose()


def assert_no_feed_script_ran(doc: lxml.html.HtmlElement, title: str) -> None:
    """``title``: what the page's own <title> says (a script would have replaced it)."""
    assert doc.findtext(".//title") == title
    assert not doc.xpath("//*[@data-pwned]"), "a feed-provided script or handler ran"
    assert not doc.xpath("//script|//iframe|//style|//form|//object|//embed")
    assert not [a for a in doc.xpath("//*/@*") if a.attrname.startswith("on")]


def png_is_a_picture(path: Path) -> tuple[int, int]:
    """Width and height of a real, non-blank PNG (checked without Pillow)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    # a blank page is a few byte values; text, bars and colours are many
    assert len(set(pixels)) > 32, "the screenshot looks blank"
    return width, height


def test_control_page_shows_that_the_check_sees_scripts_run(browser, tmp_path):
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><html><head><title>control</title></head><body>"
        f"<script>document.title='{dbfill.PWNED}';document.body.setAttribute('data-pwned','1')</script>"
        "</body></html>"
    )
    doc = lxml.html.document_fromstring(browser(control.as_uri(), "--dump-dom"))
    assert doc.findtext(".//title") == dbfill.PWNED and doc.xpath("//body[@data-pwned]")


def test_digest_page_in_a_real_browser(browser, site, tmp_path):
    base, sample = site
    doc = lxml.html.document_fromstring(browser(base + "/", "--dump-dom"))
    assert_no_feed_script_ran(doc, "Daily digest 2024-05-14: 5 stories, 3 on your watches; 1 feed failing")
    headlines = {h.text_content().strip(): h for h in doc.xpath("//h3")}
    for title in ("Government offensive near Homs", dbfill.ARABIC_TITLE, "Earthquake shakes the coast",
                  "Central bank holds rates"):
        assert title in headlines, f"{title!r} not on the page: {list(headlines)}"
    assert headlines[dbfill.ARABIC_TITLE].get("dir") == "auto"
    hostile = [t for t in headlines if "Rebels advance" in t]
    assert hostile and hostile[0].startswith("<script>")  # shown as text, not run
    assert doc.xpath("//svg[@role='img']//rect")

    shot = tmp_path / "digest.png"
    browser(base + "/", f"--screenshot={shot}", "--window-size=1200,1600", "--hide-scrollbars")
    assert png_is_a_picture(shot) == (1200, 1600)


def test_story_page_in_a_real_browser(browser, site, tmp_path):
    base, sample = site
    url = f"{base}/story/{sample.dam.story_id}"
    doc = lxml.html.document_fromstring(browser(url, "--dump-dom"))
    assert_no_feed_script_ran(doc, strip_controls(dbfill.HOSTILE_TITLE))
    assert doc.xpath("//h1")[0].text_content().startswith("<script>document.title=")
    assert "Eyewitnesses report fighting." in doc.xpath('//div[@class="content"]')[0].text_content()
    assert len(doc.xpath('//div[@id="timeline"]//circle')) == 2
    assert [a.get("href") for a in doc.xpath('//table[@id="reports"]//a')] == ["https://afp.example/dam"]

    shot = tmp_path / "story.png"
    browser(url, f"--screenshot={shot}", "--window-size=1200,1600", "--hide-scrollbars")
    assert png_is_a_picture(shot) == (1200, 1600)

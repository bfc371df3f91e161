"""Alert delivery latency on loopback: from the moment a feed document that
creates a new matching story is handed to the pipeline, to the moment a
signed webhook for it is received and verified by a real receiver.

    python -m benchmarks.alert_latency [--runs 50] [--quick]

Each run stores one document (parse, entries, dedup, story, match, outbox
row in one transaction), then runs the delivery job (claim, sign, POST,
record), as the daemon does right after a poll that queued alerts.  Prints
the median and min-max in milliseconds, split into the two halves.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.app import App  # noqa: E402
from monitor.config import settings_from_dict  # noqa: E402
from tests.support.webhook_receiver import WebhookReceiver  # noqa: E402

SECRET = "whsec_" + "bW9uaXRvci1iZW5jaG1hcmstc2VjcmV0"

def _word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4)))


def document(i: int, when: datetime) -> bytes:
    """A report of a new, distinct event that mentions Homs: invented names,
    places and words, so the clusterer starts a new story every time."""
    rng = random.Random(f"bench-{i}")  # (Random(-1) == Random(1): seed with a string)
    person, place = _word(rng).title(), _word(rng).title()
    words = " ".join(_word(rng) for _ in range(40))
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Bench</title><link>https://bench.example/</link>
<item><guid>bench-{i}</guid><link>https://bench.example/{i}</link>
<title>{person} {_word(rng)} {place} {_word(rng)} near Homs</title>
<description>{person} said in {place}, north of Homs, that {words}.</description>
<pubDate>{stamp}</pubDate></item></channel></rss>""".encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="5 runs, for a smoke test")
    args = ap.parse_args()
    runs = 5 if args.quick else args.runs

    with tempfile.TemporaryDirectory() as tmp, WebhookReceiver(secret=SECRET) as hook:
        import os

        os.environ["BENCH_HOOK_SECRET"] = SECRET
        settings = settings_from_dict(
            {
                "database": {"url": f"sqlite:///{tmp}/bench.db"},
                "network": {"allow": ["127.0.0.1/32"]},
                "actors_file": str(REPO / "config" / "actors.toml"),
                "channels": {"hook": {"type": "webhook", "url": hook.url, "secret_env": "BENCH_HOOK_SECRET"}},
                "alerts": {"default_channels": ["hook"]},
                "digest": {"enabled": False},
                "watches": [{"name": "Homs", "aliases": ["Homs", "Hims"]}],
            },
            root=Path(tmp),
        )
        app = App(settings)
        now = datetime.now(timezone.utc)
        feed = app.replay_feed("bench", Path(tmp) / "bench.xml", now)
        # warm up: gazetteer-free matcher, indexes, the HTTP connection
        app.pipeline.ingest_document(feed, document(-1, now), now=now)
        app.deliverer.run(now)
        store_ms, send_ms, total_ms = [], [], []
        for i in range(runs):
            t = now + timedelta(seconds=i + 1)
            feed = app.replay_feed("bench", Path(tmp) / "bench.xml", t)
            before = len(hook.deliveries)
            t0 = time.perf_counter()
            app.pipeline.ingest_document(feed, document(i, t), now=t)
            t1 = time.perf_counter()
            app.deliverer.run(t)
            deadline = time.monotonic() + 10
            while len(hook.deliveries) == before:  # received and verified by the receiver
                if time.monotonic() > deadline:
                    raise SystemExit(f"alert {i} never reached the receiver: see `monitor alerts`")
                time.sleep(0.0002)
            t2 = time.perf_counter()
            store_ms.append((t1 - t0) * 1000)
            send_ms.append((t2 - t1) * 1000)
            total_ms.append((t2 - t0) * 1000)
        app.close()
        ok = all(d.verified for d in hook.deliveries)

    def fmt(xs: list[float]) -> str:
        return f"{statistics.median(xs):7.2f} ms (min {min(xs):.2f}, max {max(xs):.2f})"

    print(f"alert latency on loopback over {runs} new stories (signature verified: {ok})")
    print(f"  store + dedup + match + outbox : {fmt(store_ms)}")
    print(f"  claim + sign + POST + record   : {fmt(send_ms)}")
    print(f"  story creation -> webhook      : {fmt(total_ms)}")
    print("  (in the daemon, delivery runs right after a poll that queued alerts)")


if __name__ == "__main__":
    main()

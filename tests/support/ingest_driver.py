"""Store feed documents through monitor's real store stage from a process of
its own, starting at an agreed instant: how the story-assignment test makes
two writers ingest reports of the same events at the same moment.

    python -m tests.support.ingest_driver SPEC.json

SPEC: {"config": path, "start_at": unix time, "now": ISO time,
       "documents": [[feed name, document path], ...]}

Each document goes through ``Pipeline.ingest_document`` (the store stage of a
poll: entries, dedup, story assignment, matching, alerts; one transaction per
feed), exactly as a polled body would.  Prints one JSON line per document:
{"feed": name, "status": ..., "new": n, "started": t, "finished": t} (unix times).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path


def main(spec_path: str) -> int:
    from monitor.app import App
    from monitor.config import load_config

    spec = json.loads(Path(spec_path).read_text())
    app = App(load_config(spec["config"]))
    now = datetime.fromisoformat(spec["now"])
    feeds = [(app.replay_feed(name, Path(doc), now), Path(doc)) for name, doc in spec["documents"]]
    delay = spec["start_at"] - time.time()
    if delay > 0:
        time.sleep(delay)
    try:
        for feed, doc in feeds:
            started = time.time()
            outcome = app.pipeline.ingest_document(feed, doc.read_bytes(), now=now)
            print(json.dumps({"feed": outcome.feed_name, "status": outcome.status, "new": outcome.new,
                              "started": started, "finished": time.time()}), flush=True)
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

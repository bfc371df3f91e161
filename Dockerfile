# syntax=docker/dockerfile:1
# monitor's image: the package with its PostgreSQL driver on python:3.11-slim,
# run by the unprivileged user "monitor".  `docker compose up` builds it
# (docs/deploy.md); tests/test_deploy.py replays this file's COPY and
# `pip install` steps in a plain venv, since no Docker engine runs in CI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid (10001, above the 1000+ range distributions give people) so
# files on the data volume keep one owner across rebuilds; no login shell.
RUN groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid monitor --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin monitor

# Build from a source folder of its own: at run time /app holds no copy of
# the package that could shadow the installed one.  Only what the install
# needs is copied first, so editing config or seeds does not reinstall.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install ".[postgres]"

WORKDIR /app
COPY seeds ./seeds
COPY config ./config
COPY --chmod=0755 docker/entrypoint.sh ./docker/entrypoint.sh
# The data folder is the volume: created here so a new named volume starts
# owned by monitor (Docker copies the folder's owner into an empty volume).
RUN mkdir -p /app/data && chown monitor:monitor /app/data

USER monitor
ENV MONITOR_CONFIG=/app/config/docker.toml
VOLUME ["/app/data"]
EXPOSE 8080

# /healthz answers 200 when the scheduler is alive, the database reachable and
# a poll succeeded recently, else 503 (urlopen raises: exit 1, unhealthy).
# The start period covers the seed replay that runs before the web site starts.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('MONITOR_HEALTHCHECK_URL', 'http://127.0.0.1:8080/healthz'), timeout=4)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["run"]

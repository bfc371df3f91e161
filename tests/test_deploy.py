"""Deployment files, tested without a Docker engine (none runs in CI).

* docker-compose.yml validates against the Compose Specification schema
  (tests/data/compose/, vendored: see its README) and keeps our rules: ports
  on 127.0.0.1 only, non-root monitor, config read-only, secrets from the
  environment, PostgreSQL healthy before monitor starts, a workers profile.
* The Dockerfile is replayed in a plain venv: the build context filtered by
  .dockerignore, its COPY steps into a folder standing for the image's root,
  its `pip install` step for real; then the image's entrypoint runs there.
* docker/entrypoint.sh runs for real with bash: SQLite, the PostgreSQL server
  on 127.0.0.1:5432, and a closed port for the bounded wait.
* packaging/monitor.service has its hardening and agrees with the grace period.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path, PurePosixPath

import httpx
import jsonschema
import pytest
import yaml

from monitor.config import WorkerSettings, load_config
from tests.support.deploy import (
    PublishedPort,
    build_context,
    healthcheck_command,
    interpolate,
    is_ignored,
    parse_dockerfile,
    parse_duration,
    parse_env,
    parse_port,
    parse_unit,
    read_dockerignore,
    variables,
)

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
DOCKER_CONFIG = REPO / "config" / "docker.toml"
UNIT_FILE = REPO / "packaging" / "monitor.service"
SCHEMA = REPO / "tests" / "data" / "compose" / "compose-spec.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: the secrets compose must get from the environment, never from a file in the repo
SECRETS = {"POSTGRES_PASSWORD", "MONITOR_WEB_TOKEN"}
LOOPBACK = {"127.0.0.1", "::1"}
MONITOR_SERVICES = ("monitor", "worker")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def dockerfile():
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def schema_validator():
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _bin_dir() -> Path:
    """Where this interpreter's console scripts are (`pip install -e .`)."""
    d = Path(sys.executable).parent
    if not (d / "monitor").exists():
        msg = f"no `monitor` script beside {sys.executable}: run `pip install -e '.[test]'`"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return d


def _clean_env(path_first: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any MONITOR_* setting, tools from
    ``path_first`` first on PATH, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.fixture
def ep_env(tmp_path):
    """What the container's environment holds, with a SQLite file in tmp_path."""
    return _clean_env(
        _bin_dir(),
        MONITOR_CONFIG=str(DOCKER_CONFIG),
        MONITOR_DATABASE_URL=f"sqlite:///{tmp_path / 'monitor.db'}",
        MONITOR_WEB_TOKEN="test-token-" + uuid.uuid4().hex,
    )


def run_entrypoint(args: list[str], env: dict[str, str], cwd: Path, script: Path = ENTRYPOINT, timeout: float = 120):
    start = time.monotonic()
    proc = subprocess.run(
        ["bash", str(script), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    proc.elapsed = time.monotonic() - start
    proc.output = proc.stdout + proc.stderr
    return proc


# ------------------------------------------------------------ compose file


def test_the_vendored_schema_is_the_one_its_readme_names():
    import hashlib

    readme = (SCHEMA.parent / "README.md").read_text()
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() in readme
    assert "Apache License 2.0" in readme and (SCHEMA.parent / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_compose_file_is_valid_against_the_compose_specification(compose, schema_validator):
    errors = [f"{e.json_path}: {e.message}" for e in schema_validator.iter_errors(compose)]
    assert errors == []


@pytest.mark.parametrize(
    "mutation, why",
    [
        (lambda c: c["services"]["monitor"].update(portz=["127.0.0.1:1:1"]), "unknown service key"),
        (lambda c: c["services"]["postgres"]["healthcheck"].update(interval=5), "interval must be a duration string"),
        (lambda c: c["services"]["worker"]["deploy"].update(replicaz=3), "unknown deploy key"),
        (lambda c: c["services"]["worker"].update(profiles="workers"), "profiles is a list"),
        (lambda c: c["services"]["monitor"].update(depends_on={"postgres": {"condition": "healthy"}}), "unknown condition"),
        (lambda c: c.update(volumz={}), "unknown top-level key"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_the_schema_rejects_what_compose_rejects(compose, schema_validator, mutation, why):
    """The validation is not vacuous: each broken copy of our file fails it."""
    broken = json.loads(json.dumps(compose))
    mutation(broken)
    assert list(schema_validator.iter_errors(broken)), why


def _all_services(compose: dict):
    return compose["services"].items()


def test_every_published_port_is_bound_to_loopback(compose):
    published = []
    for name, svc in _all_services(compose):
        assert svc.get("network_mode") != "host", f"{name}: host networking bypasses the port bindings"
        for entry in svc.get("ports", []):
            port = parse_port(entry)
            published.append((name, port))
            assert port.host_ip in LOOPBACK, f"{name}: {entry!r} listens on every interface of the host"
    # the two pages a user opens
    assert ("monitor", PublishedPort("127.0.0.1", "8080", "8080")) in published
    assert ("mailpit", PublishedPort("127.0.0.1", "8025", "8025")) in published
    # scaled replicas cannot share a host port, and need none
    assert "ports" not in compose["services"]["worker"]


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("127.0.0.1:8080:8080", PublishedPort("127.0.0.1", "8080", "8080")),
        ("127.0.0.1::8080", PublishedPort("127.0.0.1", None, "8080")),
        ("[::1]:53:53/udp", PublishedPort("::1", "53", "53", "udp")),
        ("8080:8080", PublishedPort(None, "8080", "8080")),
        ("8080", PublishedPort(None, None, "8080")),
        ("0.0.0.0:8000-8002:8000-8002", PublishedPort("0.0.0.0", "8000-8002", "8000-8002")),
        ({"target": 8080, "published": 80, "host_ip": "127.0.0.1"}, PublishedPort("127.0.0.1", "80", "8080")),
        ({"target": 8080, "published": "80"}, PublishedPort(None, "80", "8080")),
    ],
)
def test_port_syntax(entry, expected):
    assert parse_port(entry) == expected


def test_monitor_runs_as_the_images_non_root_user(compose, dockerfile):
    users = [i.args[0] for i in dockerfile if i.keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must end on a non-root USER"
    commands = {}
    for ins in dockerfile:
        if ins.keyword == "RUN":
            for part in " ".join(ins.args).split("&&"):
                words = part.split()
                commands[words[0]] = words
    useradd, groupadd = commands["useradd"], commands["groupadd"]
    assert useradd[-1] == users[-1], "USER names the user the image creates"
    uid, gid = useradd[useradd.index("--uid") + 1], groupadd[groupadd.index("--gid") + 1]
    assert int(uid) >= 1000 and useradd[useradd.index("--shell") + 1].endswith("nologin")
    for name in MONITOR_SERVICES:
        svc = compose["services"][name]
        assert svc["user"] == f"{uid}:{gid}", f"{name}: compose's user must be the image's monitor user"
        assert svc.get("privileged") is not True
        assert svc["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in svc["security_opt"]
        assert svc["read_only"] is True


def test_config_is_mounted_read_only_and_data_on_a_named_volume(compose, dockerfile):
    data_volume = next(i for i in dockerfile if i.keyword == "VOLUME").exec_form[0]
    container_config = parse_env(next(i for i in dockerfile if i.keyword == "ENV" and "MONITOR_CONFIG=" in i.text))
    for name in MONITOR_SERVICES:
        svc = compose["services"][name]
        mounts = {}
        for v in svc["volumes"]:
            src, dst, *mode = v.split(":")
            mounts[dst] = (src, mode)
        assert mounts["/app/config"] == ("./config", ["ro"]), f"{name}: ./config must be mounted read-only"
        src, mode = mounts[data_volume]
        assert src in compose["volumes"], f"{name}: the data folder must be a declared named volume"
        assert mode == []
        # the file MONITOR_CONFIG names is inside the read-only mount and exists in ./config
        cfg = svc["environment"]["MONITOR_CONFIG"]
        assert cfg == container_config["MONITOR_CONFIG"]
        assert (REPO / "config" / PurePosixPath(cfg).relative_to("/app/config")).is_file()


def test_named_volumes_are_declared_and_used(compose):
    used = set()
    for _, svc in _all_services(compose):
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if not src.startswith((".", "/")):
                used.add(src)
    assert used == set(compose["volumes"])


def test_postgres_is_healthy_before_monitor_starts(compose, dockerfile):
    pg = compose["services"]["postgres"]
    assert pg["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert compose["services"]["monitor"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # every service_healthy target has a healthcheck, in compose or in the image we build
    image_has_healthcheck = any(i.keyword == "HEALTHCHECK" for i in dockerfile)
    for name, svc in _all_services(compose):
        deps = svc.get("depends_on", {})
        for target, cond in (deps.items() if isinstance(deps, dict) else []):
            assert target in compose["services"], f"{name} depends on an unknown service {target!r}"
            if cond["condition"] == "service_healthy":
                t = compose["services"][target]
                assert "healthcheck" in t or ("build" in t and image_has_healthcheck), (
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
                )


def test_secrets_come_from_the_environment(compose):
    required = {name for name, op in variables(compose) if op == ":?"}
    assert required == SECRETS
    assert {name for name, _ in variables(compose)} == SECRETS, "an unexpected variable is interpolated"
    # without them compose refuses to start, naming the variable
    for missing in SECRETS:
        env = {k: "x" for k in SECRETS - {missing}}
        with pytest.raises(KeyError, match=missing):
            interpolate(compose, env)
    resolved = interpolate(compose, {"POSTGRES_PASSWORD": "pw-1", "MONITOR_WEB_TOKEN": "tok-2"})
    for name in MONITOR_SERVICES:
        env = resolved["services"][name]["environment"]
        assert env["MONITOR_DATABASE_URL"] == "postgresql+psycopg://monitor:pw-1@postgres:5432/monitor"
        assert env["MONITOR_WEB_TOKEN"] == "tok-2"
    assert resolved["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pw-1"
    docs = (REPO / "docs" / "deploy.md").read_text()
    for var in SECRETS:
        assert var in docs, f"docs/deploy.md must tell how to set {var}"


def test_the_workers_profile_scales_monitor_against_the_same_database(compose):
    monitor, worker = compose["services"]["monitor"], compose["services"]["worker"]
    assert worker["profiles"] == ["workers"]
    assert "profiles" not in monitor, "monitor itself starts with a plain `docker compose up`"
    assert worker["deploy"]["replicas"] >= 2
    assert worker["build"] == monitor["build"] and worker["image"] == monitor["image"]
    assert worker["environment"]["MONITOR_DATABASE_URL"] == monitor["environment"]["MONITOR_DATABASE_URL"]
    assert worker["environment"]["MONITOR_DATABASE_URL"].startswith("postgresql")
    assert worker["command"][0] == "run" and "--no-replay" in worker["command"]
    # the first monitor migrates and replays; replicas wait for it
    assert worker["depends_on"]["monitor"]["condition"] == "service_healthy"
    assert "container_name" not in worker, "a fixed container name forbids replicas"


def test_grace_periods_agree(compose):
    settings = load_config(DOCKER_CONFIG, env={"MONITOR_WEB_TOKEN": "t"})
    for name in MONITOR_SERVICES:
        stop = parse_duration(compose["services"][name]["stop_grace_period"])
        assert settings.workers.grace < stop, f"{name}: docker would SIGKILL monitor inside its grace period"
    unit = parse_unit(UNIT_FILE.read_text())
    timeout = parse_duration(unit.get("Service", "TimeoutStopSec"))
    assert timeout > WorkerSettings().grace, "systemd would SIGKILL monitor inside its default grace period"


# --------------------------------------------------------- config/docker.toml


def test_docker_config_takes_the_database_and_token_from_the_environment():
    url = "postgresql+psycopg://monitor:secret@postgres:5432/monitor"
    s = load_config(DOCKER_CONFIG, env={"MONITOR_DATABASE_URL": url, "MONITOR_WEB_TOKEN": "tok"})
    assert s.warnings == ()
    assert s.database_url == url
    assert s.web.enabled and s.web.host == "0.0.0.0"
    assert s.web.token is not None and s.web.token.get_secret_value() == "tok"
    mail = s.channels["mail"]
    assert (mail.type, mail.host, mail.port, mail.security) == ("email", "mailpit", 1025, "none")
    assert "mail" in s.alerts.default_channels
    assert s.logging.format == "json"
    # seeds replay on, from the folder the image ships (relative to /app)
    assert s.replay.on_start and s.resolve(s.replay.on_start).is_dir()
    for f in s.feeds:
        assert s.resolve(f.url).is_file(), f"{f.name}: {f.url} is not in seeds/"


def test_docker_config_passes_check_config(ep_env, tmp_path):
    password = "s3cret-" + uuid.uuid4().hex
    env = dict(ep_env, MONITOR_DATABASE_URL=f"postgresql+psycopg://monitor:{password}@postgres:5432/monitor")
    proc = subprocess.run(
        ["monitor", "--config", str(DOCKER_CONFIG), "check-config"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout and "postgres:5432/monitor" in proc.stdout
    assert password not in proc.stdout + proc.stderr, "the password must not be printed"
    assert ep_env["MONITOR_WEB_TOKEN"] not in proc.stdout + proc.stderr, "the token must not be printed"


# --------------------------------------------------------------- Dockerfile


def test_dockerfile_shape(dockerfile):
    assert dockerfile[0].keyword == "FROM" and dockerfile[0].args == ["python:3.11-slim"]
    pip = [i for i in dockerfile if i.keyword == "RUN" and i.args[:2] == ["pip", "install"]]
    assert len(pip) == 1 and "postgres" in pip[0].args[-1], "install the package with its postgres extra"
    health = healthcheck_command(next(i for i in dockerfile if i.keyword == "HEALTHCHECK"))
    assert health[0] == "python" and "urllib.request" in health[-1] and "/healthz" in health[-1]
    entry = next(i for i in dockerfile if i.keyword == "ENTRYPOINT").exec_form
    copied = {
        str(PurePosixPath(w) / i.args[-1]): i.args[0]
        for w, i in _with_workdir(dockerfile)
        if i.keyword == "COPY"
    }
    assert copied[entry[0]] == "docker/entrypoint.sh", "ENTRYPOINT must be the repo's docker/entrypoint.sh"
    assert next(i for i in dockerfile if i.keyword == "CMD").exec_form == ["run"]


def _with_workdir(instructions):
    workdir = PurePosixPath("/")
    for ins in instructions:
        if ins.keyword == "WORKDIR":
            workdir = workdir / ins.args[0]
        yield workdir, ins


@pytest.mark.parametrize(
    "path, ignored",
    [
        ("pyproject.toml", False),
        ("monitor/cli.py", False),
        ("monitor/store/migrations/versions/0001_initial_schema.py", False),
        ("docker/entrypoint.sh", False),
        ("config/docker.toml", False),
        ("seeds/timeline", False),
        # never sent: secrets, local state, history, caches
        (".env", True),
        ("data/monitor.db", True),
        (".git/config", True),
        ("tests/test_deploy.py", True),
        ("monitor/__pycache__/cli.cpython-311.pyc", True),
        ("monitor.egg-info/PKG-INFO", True),
        ("docker/other.sh", True),
    ],
)
def test_dockerignore_rules(path, ignored):
    assert is_ignored(path, read_dockerignore(DOCKERIGNORE.read_text())) is ignored


def test_the_build_context_holds_every_copy_source(dockerfile):
    context = build_context(REPO, read_dockerignore(DOCKERIGNORE.read_text()))
    for ins in dockerfile:
        if ins.keyword == "COPY":
            for src in ins.args[:-1]:
                assert any(p == src or p.startswith(src.rstrip("/") + "/") for p in context), (
                    f"COPY {src}: not in the build context (missing, or excluded by .dockerignore)"
                )


#: RUN steps the replay does not execute: they create the image's user and
#: folders and need root on the machine running the test; what they set up is
#: checked above (uid in compose, data volume path).
SYSTEM_RUN_COMMANDS = {"groupadd", "useradd", "mkdir", "chown"}


def _replay_dockerfile(instructions, rootfs: Path, venv: Path) -> dict[str, str]:
    """Copy the build context into ``rootfs`` the way the Dockerfile's COPY
    steps do, and run its `pip install` steps with ``venv``'s pip.  Returns
    the image's ENV."""
    context = build_context(REPO, read_dockerignore(DOCKERIGNORE.read_text()))
    image_env: dict[str, str] = {}
    for workdir, ins in _with_workdir(instructions):
        here = rootfs / workdir.relative_to("/")
        if ins.keyword == "WORKDIR":
            here.mkdir(parents=True, exist_ok=True)
        elif ins.keyword == "ENV":
            image_env.update(parse_env(ins))
        elif ins.keyword == "COPY":
            *sources, dest = ins.args
            target = rootfs / (workdir / dest).relative_to("/")
            for src in sources:
                files = [p for p in context if p == src or p.startswith(src.rstrip("/") + "/")]
                for rel in files:
                    if dest.endswith("/"):
                        out = target / Path(rel).name if rel == src else target / Path(rel).relative_to(src)
                    else:
                        out = target if rel == src else target / Path(rel).relative_to(src)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO / rel, out)
                    if ins.flags.get("chmod"):
                        out.chmod(int(ins.flags["chmod"], 8))
        elif ins.keyword == "RUN":
            words = [w for w in ins.args if w not in ("&&", "\\")]
            if ins.args[:2] == ["pip", "install"]:
                assert "&&" not in ins.args and ";" not in ins.text, "keep the pip step a single command"
                env = _clean_env(venv / "bin", **{k: v for k, v in image_env.items() if k != "PIP_NO_CACHE_DIR"})
                # the image skips pip's cache to stay small; the test may use it to stay fast
                proc = subprocess.run(
                    ["sh", "-c", ins.text], cwd=here, env=env, capture_output=True, text=True, timeout=540
                )
                if proc.returncode != 0:
                    offline = any(s in proc.stdout + proc.stderr for s in (
                        "NewConnectionError", "Temporary failure in name resolution", "Network is unreachable"))
                    if offline and not IN_CI:
                        pytest.skip(f"PyPI is not reachable: {proc.stderr.strip().splitlines()[-1]}")
                    pytest.fail(f"RUN {ins.text} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            else:
                commands = {words[0]} | {ins.args[i + 1] for i, w in enumerate(ins.args[:-1]) if w == "&&"}
                assert commands <= SYSTEM_RUN_COMMANDS, (
                    f"RUN {ins.text}: a new kind of step; replay it here or add it to SYSTEM_RUN_COMMANDS"
                )
    return image_env


@pytest.fixture(scope="module")
def image(tmp_path_factory, dockerfile):
    """The image's file system (rootfs/) and a fresh venv standing for its
    Python, built by replaying the Dockerfile."""
    base = tmp_path_factory.mktemp("image")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    start = time.monotonic()
    image_env = _replay_dockerfile(dockerfile, base / "rootfs", venv)
    return {"rootfs": base / "rootfs", "venv": venv, "env": image_env, "install_s": time.monotonic() - start}


def _in_image(image, path: str) -> Path:
    return image["rootfs"] / PurePosixPath(path).relative_to("/")


@pytest.mark.slow
def test_dockerfile_pip_install_works_in_a_plain_venv(image):
    venv, rootfs = image["venv"], image["rootfs"]
    # the package came from the copied sources, not from this checkout
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import monitor, psycopg, sys; print(monitor.__file__); print(sys.prefix)"],
        cwd=_in_image(image, "/app"), env=_clean_env(venv / "bin"), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    module_file, prefix = proc.stdout.split()
    assert Path(prefix) == venv
    assert Path(module_file).is_relative_to(venv), "monitor must be installed, not imported from a source folder"
    version = subprocess.run([str(venv / "bin" / "monitor"), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and "version" in version.stdout
    assert (rootfs / "app" / "seeds" / "timeline").is_dir()
    assert os.access(_in_image(image, "/app/docker/entrypoint.sh"), os.X_OK)


@pytest.mark.slow
def test_the_images_entrypoint_migrates_and_runs_status(image, tmp_path):
    """The container's start, minus the engine: its entrypoint, its venv, its
    config (ENV MONITOR_CONFIG), a database URL from the environment."""
    env = _clean_env(
        image["venv"] / "bin",
        MONITOR_CONFIG=str(_in_image(image, image["env"]["MONITOR_CONFIG"])),
        MONITOR_DATABASE_URL=f"sqlite:///{tmp_path / 'monitor.db'}",
        MONITOR_WEB_TOKEN="tok",
    )
    proc = run_entrypoint(["status"], env, cwd=_in_image(image, "/app"), script=_in_image(image, "/app/docker/entrypoint.sh"))
    assert proc.returncode == 0, proc.output
    assert "database at revision" in proc.stdout, "the entrypoint migrates before the command"
    assert "alert queue:" in proc.stdout
    assert (tmp_path / "monitor.db").is_file()


# ---------------------------------------------------------------- entrypoint


def test_entrypoint_check_config_needs_no_database(ep_env, tmp_path):
    proc = run_entrypoint(["check-config"], ep_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.output
    assert "OK" in proc.stdout
    assert not (tmp_path / "monitor.db").exists(), "check-config must not create or migrate a database"


def test_entrypoint_db_upgrade_then_status_on_sqlite(ep_env, tmp_path):
    first = run_entrypoint(["db", "upgrade"], ep_env, cwd=tmp_path)
    assert first.returncode == 0, first.output
    assert first.stdout.count("database at revision") == 1, "`db upgrade` is not run twice"
    assert "was empty" in first.stdout
    status = run_entrypoint(["status"], ep_env, cwd=tmp_path)
    assert status.returncode == 0, status.output
    lines = status.stdout.splitlines()
    assert lines[0].startswith("database at revision") and "was empty" not in lines[0], "migrated once only"
    assert any(line.startswith("alert queue:") for line in lines)
    assert any(line.startswith("last digest:") for line in lines)


def test_entrypoint_passes_global_options_to_every_step(ep_env, tmp_path):
    cfg = tmp_path / "config" / "other.toml"
    cfg.parent.mkdir()
    db = tmp_path / "other.db"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db}"\n')
    env = {k: v for k, v in ep_env.items() if k not in ("MONITOR_CONFIG", "MONITOR_DATABASE_URL")}
    proc = run_entrypoint(["--config", str(cfg), "-v", "status"], env, cwd=tmp_path)
    assert proc.returncode == 0, proc.output
    assert "database at revision" in proc.stdout
    assert db.is_file(), "db upgrade must use the --config given to the entrypoint"


def test_entrypoint_can_skip_the_migration(ep_env, tmp_path):
    proc = run_entrypoint(["status"], dict(ep_env, MONITOR_MIGRATE="0"), cwd=tmp_path)
    assert proc.returncode == 0, proc.output
    assert "database at revision" not in proc.stdout


def test_entrypoint_reports_a_bad_config_with_exit_code_2(ep_env, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[database]\nurll = "x"\n')
    proc = run_entrypoint(["status"], dict(ep_env, MONITOR_CONFIG=str(cfg)), cwd=tmp_path)
    assert proc.returncode == 2, proc.output
    assert "database.urll" in proc.stderr and "unknown key" in proc.stderr
    assert "Traceback" not in proc.output


def test_entrypoint_gives_up_on_a_closed_port_within_its_bound(ep_env, tmp_path):
    tries, interval = 3, 0.3
    env = dict(
        ep_env,
        MONITOR_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/test",
        MONITOR_DB_WAIT_TRIES=str(tries),
        MONITOR_DB_WAIT_INTERVAL=str(interval),
    )
    proc = run_entrypoint(["status"], env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.output
    assert f"giving up after {tries} attempts" in proc.stderr
    assert "127.0.0.1:1/test" in proc.stderr and "MONITOR_DB_WAIT_TRIES" in proc.stderr
    assert proc.stderr.count("waiting for PostgreSQL") == tries - 1
    assert "database at revision" not in proc.stdout, "nothing runs after giving up"
    # the waits (2 x 0.3 s) plus three interpreter starts at most; refusals are immediate
    assert proc.elapsed < 15, f"took {proc.elapsed:.1f}s"


def test_entrypoint_waits_for_and_migrates_real_postgresql(ep_env, tmp_path, pg_url):
    import psycopg

    env = dict(ep_env, MONITOR_DATABASE_URL=pg_url)
    up = run_entrypoint(["db", "upgrade"], env, cwd=tmp_path)
    assert up.returncode == 0, up.output
    assert "is ready (attempt 1/" in up.stderr
    assert "database at revision" in up.stdout
    status = run_entrypoint(["status"], env, cwd=tmp_path)
    assert status.returncode == 0, status.output
    assert "alert queue: 0 waiting" in status.stdout
    schema = pg_url.rsplit("search_path%3D", 1)[1]
    dsn = pg_url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        (revision,) = conn.execute(f'SELECT version_num FROM "{schema}".alembic_version').fetchone()
    assert revision in up.stdout


def test_entrypoint_fails_at_once_when_waiting_cannot_help(ep_env, tmp_path, pg_url):
    missing_db = f"no_such_db_{uuid.uuid4().hex[:8]}"
    url = pg_url.split("?")[0].rsplit("/", 1)[0] + "/" + missing_db
    proc = run_entrypoint(["status"], dict(ep_env, MONITOR_DATABASE_URL=url), cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.output
    assert "waiting will not fix this" in proc.stderr and missing_db in proc.stderr
    assert "waiting for PostgreSQL" not in proc.stderr, "no retry for a database that does not exist"


def test_entrypoint_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    proc = subprocess.run(["shellcheck", str(ENTRYPOINT)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout


# --------------------------------------------------------------- healthcheck


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_image_healthcheck_follows_healthz(ep_env, tmp_path, dockerfile):
    """The HEALTHCHECK command exits 0 exactly when /healthz answers 200."""
    argv = healthcheck_command(next(i for i in dockerfile if i.keyword == "HEALTHCHECK"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    server = subprocess.Popen(
        ["monitor", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=ep_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = httpx.get(url, timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert status is not None, f"monitor serve did not answer: {server.stdout.read() if server.poll() is not None else ''}"
        check = subprocess.run(argv, env=dict(ep_env, MONITOR_HEALTHCHECK_URL=url), capture_output=True, text=True, timeout=30)
        assert check.returncode == (0 if status == 200 else 1), (status, check.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    down = subprocess.run(argv, env=dict(ep_env, MONITOR_HEALTHCHECK_URL=url), capture_output=True, text=True, timeout=30)
    assert down.returncode == 1, "a server that is gone is unhealthy"


# ------------------------------------------------------------------ systemd


@pytest.mark.parametrize(
    "section, key, expected",
    [
        ("Service", "User", "monitor"),
        ("Service", "Group", "monitor"),
        ("Service", "Restart", "on-failure"),
        ("Service", "KillSignal", "SIGTERM"),
        ("Service", "NoNewPrivileges", "yes"),
        ("Service", "ProtectSystem", "strict"),
        ("Service", "ReadWritePaths", "/var/lib/monitor"),
        ("Service", "StateDirectory", "monitor"),
        ("Service", "PrivateTmp", "yes"),
        ("Service", "ProtectHome", "yes"),
        ("Service", "CapabilityBoundingSet", ""),
        ("Service", "EnvironmentFile", "/etc/monitor/monitor.env"),
        ("Service", "Environment", "MONITOR_CONFIG=/etc/monitor/monitor.toml"),
        ("Install", "WantedBy", "multi-user.target"),
    ],
)
def test_systemd_unit_directive(section, key, expected):
    assert parse_unit(UNIT_FILE.read_text()).get(section, key) == expected


def test_systemd_unit_restarts_with_a_pause_and_runs_monitor():
    unit = parse_unit(UNIT_FILE.read_text())
    assert parse_duration(unit.get("Service", "RestartSec")).total_seconds() >= 1
    assert unit.get("Service", "ExecStart").split()[1:] == ["run"]
    assert unit.get("Service", "ExecStartPre").split()[1:] == ["db", "upgrade"]
    assert int(unit.get("Unit", "StartLimitBurst")) >= 1


def test_systemd_unit_verifies(tmp_path):
    """systemd's own parser: no unknown key, section or bad value."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # verify also checks that ExecStart exists: point it at a real program
    text = UNIT_FILE.read_text().replace("/opt/monitor/venv/bin/monitor", shutil.which("true"))
    unit = tmp_path / "monitor.service"
    unit.write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for bad in ("Unknown key", "Unknown section", "Failed to parse", "Invalid", "ignoring"):
        assert bad not in out, out


# --------------------------------------------------------------------- docs


@pytest.mark.parametrize(
    "doc, phrases",
    [
        ("docs/deploy.md", ["docker compose up", "--profile workers", "--scale worker=", "127.0.0.1:8080",
                            "127.0.0.1:8025", "systemctl", "packaging/monitor.service", "MONITOR_DB_WAIT_TRIES"]),
        ("packaging/README.md", ["useradd", "/etc/monitor/monitor.env", "systemctl daemon-reload",
                                 "systemctl enable --now monitor", "journalctl -u monitor"]),
    ],
)
def test_deployment_docs_cover_the_steps(doc, phrases):
    text = (REPO / doc).read_text()
    missing = [p for p in phrases if p not in text]
    assert missing == []

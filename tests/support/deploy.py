"""Reading the deployment files without a Docker engine.

Plain functions for tests/test_deploy.py: a Dockerfile parser, the
.dockerignore rules (to build the same context the engine would be sent), the
Compose port syntax, Compose's ``${VAR}`` interpolation and systemd unit files.
Each implements the documented subset our files use and refuses the rest
loudly, so a construct it does not understand fails a test instead of being
skipped silently.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any


# ------------------------------------------------------------------ Dockerfile


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: ``COPY --chmod=0755 a b`` ->
    ("COPY", {"chmod": "0755"}, ["a", "b"], raw text after the keyword)."""

    keyword: str
    flags: dict[str, str]
    args: list[str]
    text: str
    #: the exec form (a JSON array) when the instruction used it
    exec_form: list[str] | None = None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order; comments and blank lines dropped, backslash
    continuations joined (the default escape character)."""
    logical: list[str] = []
    buf = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comment lines inside a continuation are ignored by the builder
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    if buf:
        raise ValueError("Dockerfile ends inside a line continuation")
    out = []
    for entry in logical:
        keyword, _, rest = entry.strip().partition(" ")
        rest = rest.strip()
        flags: dict[str, str] = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        exec_form = None
        if rest.startswith("["):
            try:
                exec_form = json.loads(rest)
            except json.JSONDecodeError:
                exec_form = None
        args = exec_form if exec_form is not None else shlex.split(rest)
        out.append(Instruction(keyword.upper(), flags, list(args), rest, exec_form))
    return out


def parse_env(ins: Instruction) -> dict[str, str]:
    """``ENV A=1 B="two words"`` (the key=value form only)."""
    out = {}
    for item in ins.args:
        if "=" not in item:
            raise ValueError(f"ENV {ins.text!r}: only the KEY=value form is supported")
        k, _, v = item.partition("=")
        out[k] = v
    return out


def healthcheck_command(ins: Instruction) -> list[str]:
    """The argv of ``HEALTHCHECK [options] CMD [...]`` (exec form only)."""
    m = re.search(r"\bCMD\s+(\[.*\])\s*$", ins.text)
    if not m:
        raise ValueError(f"HEALTHCHECK {ins.text!r}: expected CMD in exec form")
    return json.loads(m.group(1))


# --------------------------------------------------------------- .dockerignore


def read_dockerignore(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """Rules as (is_exception, regex), in file order.

    Docker's matcher (moby/patternmatcher): patterns are cleaned paths
    relative to the context; ``*`` and ``?`` do not cross ``/``, ``**``
    crosses any number of folders; a rule applies to a path when it matches
    the path or one of its parent folders; the last rule that applies wins;
    ``!`` makes a rule an exception (re-include)."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line[1:].strip() if exception else line
        pattern = str(PurePosixPath("/" + pattern)).lstrip("/") or "."
        rules.append((exception, re.compile(_glob_to_regex(pattern))))
    return rules


def _glob_to_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.index("]", i)
            out += pattern[i : j + 1]
            i = j + 1
            continue
        else:
            out += re.escape(c)
        i += 1
    return out + r"\Z"


def is_ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the engine leaves ``path`` (relative, with /) out of the context."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for exception, rx in rules:
        if any(rx.match(c) for c in candidates):
            ignored = not exception
    return ignored


def build_context(repo: Path, rules: list[tuple[bool, re.Pattern[str]]]) -> set[str]:
    """Every file of ``repo`` the engine would receive, as relative paths."""
    out = set()
    for p in repo.rglob("*"):
        rel = p.relative_to(repo).as_posix()
        if (p.is_file() or p.is_symlink()) and not is_ignored(rel, rules):
            out.add(rel)
    return out


# -------------------------------------------------------------------- Compose


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str | None
    host_port: str | None
    container_port: str
    protocol: str = "tcp"


_SHORT_PORT = re.compile(
    r"^(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+|[^:\[\]]*?):)??(?:(?P<host>[0-9-]*):)?(?P<container>[0-9-]+)(?:/(?P<proto>\w+))?$"
)


def parse_port(entry: Any) -> PublishedPort:
    """One entry of a service's ``ports`` in the short ("127.0.0.1:80:8080/tcp")
    or the long syntax (a mapping with target, published, host_ip)."""
    if isinstance(entry, dict):
        return PublishedPort(
            entry.get("host_ip"),
            None if entry.get("published") is None else str(entry["published"]),
            str(entry["target"]),
            entry.get("protocol", "tcp"),
        )
    text = str(entry)
    m = _SHORT_PORT.match(text)
    if not m:
        raise ValueError(f"cannot read the port {text!r}")
    ip = m.group("ip")
    if ip is not None:
        ip = ip.strip("[]")
    if ip == "":
        ip = None
    return PublishedPort(ip, m.group("host") or None, m.group("container"), m.group("proto") or "tcp")


_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def variables(value: Any) -> list[tuple[str, str | None]]:
    """(name, operator) of every ``${NAME...}`` in a Compose value (recursively)."""
    if isinstance(value, dict):
        return [v for x in value.values() for v in variables(x)]
    if isinstance(value, list):
        return [v for x in value for v in variables(x)]
    if isinstance(value, str):
        out = []
        for m in _VAR.finditer(value.replace("$$", "")):
            out.append((m.group("name") or m.group("bare"), m.group("op")))
        return out
    return []


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation: ${X}, ${X:-default}, ${X:?error} (raises
    KeyError with the error text), $$ for a literal $."""

    def one(s: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group("name") or m.group("bare")
            op, arg = m.group("op"), m.group("arg") or ""
            val = env.get(name)
            if op in (":?", "?") and (val is None or (op == ":?" and val == "")):
                raise KeyError(f"{name}: {arg}")
            if op in (":-", "-") and (val is None or (op == ":-" and val == "")):
                return arg
            return val or ""

        return _VAR.sub(sub, s.replace("$$", "\0")).replace("\0", "$")

    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, str):
        return one(value)
    return value


def parse_duration(text: str) -> timedelta:
    """Compose and systemd durations: "30s", "1m30s", "90", "1min 30s"."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timedelta(seconds=float(text))
    total = 0.0
    pos = 0
    for m in re.finditer(r"\s*(\d+(?:\.\d+)?)\s*(ms|sec|min|hr|s|m|h)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or not pos:
        raise ValueError(f"cannot read the duration {text!r}")
    return timedelta(seconds=total)


# -------------------------------------------------------------------- systemd


@dataclass
class UnitFile:
    """A systemd unit: section -> key -> every value assigned, in order."""

    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def get(self, section: str, key: str) -> str | None:
        values = self.sections.get(section, {}).get(key)
        return values[-1] if values else None


def parse_unit(text: str) -> UnitFile:
    unit = UnitFile()
    current: dict[str, list[str]] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("[") and s.endswith("]"):
            current = unit.sections.setdefault(s[1:-1], {})
            continue
        if current is None or "=" not in s:
            raise ValueError(f"line {n}: {line!r} is neither a [Section] nor Key=Value")
        k, _, v = s.partition("=")
        current.setdefault(k.strip(), []).append(v.strip())
    return unit

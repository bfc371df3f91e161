"""Imports point one way: records/errors/config <- pure logic <- adapters <-
orchestration <- wiring.  ORM rows stay in store/; only scheduler.py imports
APScheduler.  A module-level import that breaks the direction fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "monitor"

LAYERS = {
    0: {"records", "errors", "config"},
    1: {"parse", "parse_fast", "sanitize", "schedule", "dedup", "match", "textnorm", "rules", "gazetteer",
        "watches", "alerts", "digest", "opml", "replay"},
    2: {"store", "fetch", "netguard", "notify", "render", "discover", "logs", "status"},
    3: {"pipeline", "ingest", "deliver", "digests", "app"},
    4: {"scheduler", "cli", "web"},
}
LAYER_OF = {m: n for n, mods in LAYERS.items() for m in mods}


def top_module(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def module_imports(path: Path) -> list[str]:
    """monitor.* modules imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text())
    pkg_parts = path.relative_to(PKG.parent).with_suffix("").parts[:-1]
    out = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg_parts[: len(pkg_parts) - node.level + 1])
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            else:
                names = [node.module or ""]
            out += names
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return [n for n in out if n.startswith("monitor.") or n == "monitor"]


FILES = sorted(p for p in PKG.rglob("*.py") if "migrations" not in p.parts and p.name != "__init__.py")


def test_every_module_has_a_layer():
    unknown = {top_module(p) for p in FILES} - set(LAYER_OF)
    assert not unknown, f"add these modules to a layer: {unknown}"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PKG)) for p in FILES])
def test_imports_point_one_way(path):
    mine = top_module(path)
    for imp in module_imports(path):
        parts = imp.split(".")
        if len(parts) < 2 or parts[1] == mine:
            continue
        theirs = parts[1]
        assert LAYER_OF[theirs] <= LAYER_OF[mine], f"{mine} (layer {LAYER_OF[mine]}) imports {theirs} (layer {LAYER_OF[theirs]})"


#: modules outside store/ allowed to touch ORM rows, and why
ORM_EXCEPTIONS = {
    "status": "a read-only report over several tables, no records cross it",
    "app": "the composition root registers this worker's heartbeat row",
}


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PKG)) for p in FILES])
def test_orm_rows_stay_in_the_store(path):
    if top_module(path) == "store" or top_module(path) in ORM_EXCEPTIONS:
        return
    assert "store.models" not in path.read_text(), f"{path.name} uses ORM rows; add a repo function in store/"


def test_only_the_scheduler_imports_apscheduler():
    users = {p.name for p in FILES if "import apscheduler" in p.read_text() or "from apscheduler" in p.read_text()}
    assert users == {"scheduler.py"}

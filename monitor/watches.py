"""Configured watches -> matcher input, with the source of every alias.

A watch's aliases come from up to four places, in this order:

1. the gazetteer, for a city watch (``city = "Homs"``, or ``kind = "city"``
   and the watch's name is a city): the name you wrote (source "config") and
   the city's GeoNames names that pass the noise rules of
   :mod:`monitor.gazetteer` (source "gazetteer");
2. the actors file (``actors_file``, config/actors.toml), for an actor watch
   (``actor = "HTS"`` by key, name or alias, or ``kind = "actor"`` and the
   watch's name is an actor): the actor's name and aliases (source "actors");
3. the watch's own ``aliases`` (source "config"): always used, whatever the
   gazetteer would say about them, and they win when a spelling comes from
   two places;
4. ``exclude_aliases`` removes spellings from any of these (compared folded,
   so ``exclude_aliases = ["humus"]`` removes "Humus").

Spellings that fold to the same text are one alias (the first one listed is
shown).  :func:`explain_watch` lists every candidate with its fate, which is
what ``monitor watches show NAME`` prints; :func:`validate_watches` lists the
problems ``monitor check-config`` reports.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .errors import ConfigError
from .gazetteer import AliasDecision, Gazetteer, Place, default_gazetteer
from .match import AliasSpec, Matcher, WatchSpec
from .rules import RuleError, parse_rule, positive_terms, terms_of
from .textnorm import letters, normalize

if TYPE_CHECKING:  # pragma: no cover
    from .config import Settings, WatchSettings

__all__ = [
    "Actor",
    "CompiledWatch",
    "load_actors",
    "find_actor",
    "compile_watch",
    "compile_watches",
    "explain_watch",
    "format_explanation",
    "validate_watches",
    "build_matcher",
]

#: an alias needs this many letters (one-letter aliases match initials everywhere)
MIN_ALIAS_LETTERS = 2


@dataclass(frozen=True, slots=True)
class Actor:
    key: str
    name: str
    aliases: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class CompiledWatch:
    """A watch ready for the matcher, and how its aliases were decided."""

    spec: WatchSpec
    kind: str
    priority: int
    channels: tuple[str, ...] | None
    #: every candidate alias and its fate, in the order they were considered
    decisions: tuple[AliasDecision, ...]
    place: Place | None = None
    #: other cities the ``city`` query could have meant (most populous first)
    other_places: tuple[Place, ...] = ()
    actor: Actor | None = None


# ----------------------------------------------------------------- actors


def load_actors(path: Path | str | None) -> dict[str, Actor]:
    """Read an actors file (see config/actors.toml); {} when path is None."""
    if path is None:
        return {}
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"watches: actors file {p} not found; set actors_file in the config", path=str(p)) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"watches: actors file {p}: not valid TOML: {e}", path=str(p)) from e
    problems: list[str] = []
    unknown = set(data) - {"actors"}
    if unknown:
        problems.append(f"{p}: unknown top-level key(s) {', '.join(sorted(unknown))}; expected [actors.KEY] tables")
    actors: dict[str, Actor] = {}
    for key, t in (data.get("actors") or {}).items():
        where = f"{p}: actors.{key}"
        if not isinstance(t, dict):
            problems.append(f"{where}: expected a table with name and aliases")
            continue
        extra = set(t) - {"name", "aliases", "note"}
        if extra:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(extra))} (allowed: name, aliases, note)")
        name = t.get("name")
        aliases = t.get("aliases", [])
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}.name: required, a non-empty string")
            continue
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            problems.append(f"{where}.aliases: expected a list of strings")
            continue
        actors[key] = Actor(key, name, tuple(aliases), str(t.get("note", "")))
    if problems:
        raise ConfigError(f"watches: {len(problems)} problem(s) in the actors file:\n  " + "\n  ".join(problems), path=str(p), problems=problems)
    return actors


def find_actor(actors: dict[str, Actor], query: str) -> Actor | None:
    """An actor by key, name or alias (folded comparison)."""
    if query in actors:
        return actors[query]
    q = normalize(query)
    for a in actors.values():
        if q == normalize(a.key) or q == normalize(a.name):
            return a
    for a in actors.values():
        if any(q == normalize(x) for x in a.aliases):
            return a
    return None


# ---------------------------------------------------------------- compile


def _city_query(ws: "WatchSettings") -> tuple[str | None, bool]:
    """(query, explicit): the city to look up, and whether the user named it with city =."""
    if ws.city:
        return ws.city, True
    if ws.kind == "city":
        return ws.name, False
    return None, False


def _actor_query(ws: "WatchSettings") -> tuple[str | None, bool]:
    if ws.actor:
        return ws.actor, True
    if ws.kind == "actor":
        return ws.name, False
    return None, False


def compile_watch(
    ws: "WatchSettings",
    *,
    actors: dict[str, Actor],
    gazetteer: Gazetteer | None = None,
    actors_label: str = "the actors file",
) -> CompiledWatch:
    """Compile one watch; raises ConfigError ("watches: NAME: ...")."""
    who = f"watches: {ws.name}"
    decisions: list[AliasDecision] = []
    place: Place | None = None
    others: tuple[Place, ...] = ()
    actor: Actor | None = None
    context: tuple[str, ...] = ()

    query, explicit = _city_query(ws)
    if query is not None:
        g = gazetteer or default_gazetteer()
        try:
            place = g.find(query)
        except ConfigError as e:
            if explicit or not ws.aliases:
                raise ConfigError(f"{who}: city: {e}") from None
        if place is not None:
            decisions += g.decide(place, query=query)
            others = tuple(p for p in g.candidates(query) if p.geonameid != place.geonameid)
            context = (place.country,)

    query, explicit = _actor_query(ws)
    if query is not None:
        actor = find_actor(actors, query)
        if actor is None and (explicit or not ws.aliases):
            known = ", ".join(sorted(actors)) or "none"
            raise ConfigError(f"{who}: actor: no actor called {query!r} in {actors_label} (known: {known}); add it there or write aliases = [...]")
        if actor is not None:
            why = f"from {actors_label} [actors.{actor.key}]"
            for a in dict.fromkeys([actor.name, *actor.aliases]):
                decisions.append(AliasDecision(a, "actors", "kept", why))

    user = [AliasDecision(a, "config", "kept", "your aliases = [...]") for a in ws.aliases]
    user_norms: dict[str, str] = {}
    for d in user:
        user_norms.setdefault(normalize(d.alias), d.alias)
    excluded = {normalize(a) for a in ws.exclude_aliases}

    # the user's aliases win a tie, but are listed last, as the config reads
    out: list[tuple[int, int, AliasDecision]] = []
    seen: dict[str, str] = {}
    for group, i, d in [(1, i, d) for i, d in enumerate(user)] + [(0, i, d) for i, d in enumerate(decisions)]:
        norm = normalize(d.alias)
        if norm in excluded:
            d = AliasDecision(d.alias, d.source, "dropped", "excluded by exclude_aliases")
        elif group == 0 and norm in user_norms:
            d = AliasDecision(d.alias, d.source, "duplicate", f"also in your aliases as {user_norms[norm]!r}")
        elif d.used and norm in seen:
            d = AliasDecision(d.alias, d.source, "duplicate", f"folds to the same text as {seen[norm]!r}")
        if d.used:
            seen[norm] = d.alias
        out.append((group, i, d))
    ordered = [d for _, _, d in sorted(out, key=lambda x: (x[0], x[1]))]

    rule = None
    if ws.rule is not None:
        try:
            rule = parse_rule(ws.rule)
        except RuleError as e:
            raise ConfigError(f"{who}: {e}", problems=[f"{who}: rule: column {e.column}: {e.reason}"]) from None

    spec = WatchSpec(
        name=ws.name,
        aliases=tuple(AliasSpec(d.alias, d.source, d.status == "context") for d in ordered if d.used),
        context=context,
        any_of=tuple(ws.any_of),
        all_of=tuple(ws.all_of),
        none_of=tuple(ws.none_of),
        near_terms=tuple(ws.near.terms) if ws.near else (),
        near_within=ws.near.within if ws.near else 20,
        rule=rule,
        scope=ws.scope,
    )
    return CompiledWatch(
        spec=spec,
        kind=ws.kind,
        priority=ws.priority,
        channels=ws.channels,
        decisions=tuple(ordered),
        place=place,
        other_places=others,
        actor=actor,
    )


def _needs_gazetteer(watches: Sequence["WatchSettings"]) -> bool:
    return any(_city_query(w)[0] is not None for w in watches)


def compile_watches(
    watches: Sequence["WatchSettings"],
    *,
    actors_path: Path | str | None = None,
    gazetteer: Gazetteer | None = None,
) -> list[CompiledWatch]:
    """Compile every watch; one ConfigError listing every problem."""
    actors = load_actors(actors_path) if actors_path is not None and (Path(actors_path).exists() or _needs_actors(watches)) else {}
    if gazetteer is None and _needs_gazetteer(watches):
        gazetteer = default_gazetteer()
    out, problems = [], []
    for ws in watches:
        try:
            out.append(compile_watch(ws, actors=actors, gazetteer=gazetteer, actors_label=str(actors_path or "the actors file")))
        except ConfigError as e:
            problems.extend(e.problems)
    if problems:
        raise ConfigError(f"watches: {len(problems)} problem(s):\n  " + "\n  ".join(problems), problems=problems)
    return out


def _needs_actors(watches: Sequence["WatchSettings"]) -> bool:
    return any(w.actor for w in watches)


def build_matcher(
    watches: Sequence["WatchSettings"], *, actors_path: Path | str | None = None, gazetteer: Gazetteer | None = None
) -> Matcher:
    """compile_watches + Matcher (what ``Matcher.from_settings`` does)."""
    return Matcher(c.spec for c in compile_watches(watches, actors_path=actors_path, gazetteer=gazetteer))


# ---------------------------------------------------------------- explain


def explain_watch(compiled: CompiledWatch) -> list[AliasDecision]:
    """Every alias a watch considered: (alias, source, status, reason).
    Status is kept, context (counts only with the context terms), duplicate
    (another spelling of a used alias) or dropped."""
    return list(compiled.decisions)


def format_explanation(compiled: CompiledWatch) -> str:
    """The text ``monitor watches show NAME`` prints."""
    s = compiled.spec
    lines = [f"watch {s.name!r} ({compiled.kind}, priority {compiled.priority}, scope {s.scope})"]
    if compiled.place is not None:
        lines.append(f"  city: {compiled.place.label()}")
        if compiled.other_places:
            alts = "; ".join(p.label() for p in compiled.other_places[:5])
            lines.append(f"  other places with that name (write \"Name, CC\" to pick one): {alts}")
    if compiled.actor is not None:
        lines.append(f"  actor: {compiled.actor.name} [actors.{compiled.actor.key}]")
        if compiled.actor.note:
            lines.append(f"    note: {compiled.actor.note}")
    used = [d for d in compiled.decisions if d.used]
    lines.append(f"  aliases used: {len(used)}" + (f" (context terms: {', '.join(s.context)})" if s.context else ""))
    width = max((len(d.alias) for d in compiled.decisions), default=0)
    for d in compiled.decisions:
        lines.append(f"    {d.status:<9} {d.alias:<{width}}  [{d.source}] {d.reason}")
    for label, terms in (("all of", s.all_of), ("any of", s.any_of), ("none of", s.none_of)):
        if terms:
            lines.append(f"  {label}: {', '.join(terms)}")
    if s.near_terms:
        lines.append(f"  near: an alias within {s.near_within} words of {' | '.join(s.near_terms)}")
    if s.rule is not None:
        lines.append(f"  rule: {_rule_text(compiled)}")
    return "\n".join(lines)


def _rule_text(compiled: CompiledWatch) -> str:
    from .rules import AliasRef, And, Near, Not, Term

    def show(n: Any, top: bool = False) -> str:
        if isinstance(n, Term):
            return f'"{n.text}"'
        if isinstance(n, AliasRef):
            return "@alias"
        if isinstance(n, Not):
            return "NOT " + show(n.item)
        if isinstance(n, Near):
            return f"{show(n.left)} NEAR/{n.within} {show(n.right)}"
        op = " AND " if isinstance(n, And) else " OR "
        body = op.join(show(x) for x in n.items)
        return body if top else f"({body})"

    return show(compiled.spec.rule, top=True)


# --------------------------------------------------------------- validate


def _alias_ref(node: Any) -> int | None:
    """The column of the first @alias in a rule, or None."""
    from .rules import AliasRef, And, Near, Not, Or

    if isinstance(node, AliasRef):
        return node.column
    if isinstance(node, (And, Or)):
        return next((c for c in map(_alias_ref, node.items) if c is not None), None)
    if isinstance(node, Not):
        return _alias_ref(node.item)
    if isinstance(node, Near):
        return _alias_ref(node.left) or _alias_ref(node.right)
    return None


def validate_watches(
    settings: "Settings | Sequence[WatchSettings]",
    *,
    actors_path: Path | str | None = None,
    gazetteer: Gazetteer | None = None,
) -> list[str]:
    """Every problem with the watches, as lines for ``monitor check-config``.

    ``settings`` is the whole Settings (its actors_file is used) or a list of
    watches with ``actors_path``.
    """
    if hasattr(settings, "watches"):
        watches = list(settings.watches)  # type: ignore[union-attr]
        if actors_path is None:
            actors_path = settings.resolve(settings.actors_file)  # type: ignore[union-attr]
    else:
        watches = list(settings)  # type: ignore[arg-type]
    problems: list[str] = []
    actors: dict[str, Actor] = {}
    if actors_path is not None and (Path(actors_path).exists() or _needs_actors(watches)):
        try:
            actors = load_actors(actors_path)
        except ConfigError as e:
            problems.extend(e.problems)
    if gazetteer is None and _needs_gazetteer(watches):
        gazetteer = default_gazetteer()
    for ws in watches:
        who = f"watches: {ws.name}"
        try:
            c = compile_watch(ws, actors=actors, gazetteer=gazetteer, actors_label=str(actors_path or "the actors file"))
        except ConfigError as e:
            problems.extend(e.problems)
            continue
        s = c.spec
        for key, terms in (
            ("aliases", ws.aliases),
            ("any_of", ws.any_of),
            ("all_of", ws.all_of),
            ("none_of", ws.none_of),
            ("near.terms", ws.near.terms if ws.near else ()),
        ):
            for t in terms:
                if not normalize(t):
                    problems.append(f"{who}: {key}: {t!r} is empty once spaces and marks are removed")
                elif letters(normalize(t)) < MIN_ALIAS_LETTERS:
                    problems.append(f"{who}: {key}: {t!r} has fewer than {MIN_ALIAS_LETTERS} letters and would match initials everywhere")
        if s.rule is not None:
            ref = _alias_ref(s.rule)
            if ref is not None and not s.aliases:
                problems.append(f"{who}: rule: column {ref}: @alias refers to this watch's aliases, but it has none")
                continue
            for t in terms_of(s.rule):
                if not normalize(t.text):
                    problems.append(f"{who}: rule: column {t.column}: the term {t.text!r} is empty once marks are removed")
        used = {normalize(a.text) for a in s.aliases}
        candidates = {normalize(d.alias) for d in c.decisions}
        for x in ws.exclude_aliases:
            if normalize(x) not in candidates:
                problems.append(f"{who}: exclude_aliases: {x!r} is not one of this watch's aliases (see `monitor watches show {ws.name}`)")
        if s.near_terms and not s.aliases:
            problems.append(f"{who}: near: measures distance from the watch's aliases, but it has none (add city, actor or aliases)")
        has_trigger = bool(used) or bool(s.any_of) or bool(s.all_of)
        if not has_trigger and s.rule is not None:
            pos = positive_terms(s.rule)
            if pos is None or pos == frozenset([None]):
                problems.append(f"{who}: rule: requires no term to be present (a NOT alone matches every article); add a term the article must contain")
            else:
                has_trigger = True
        elif not has_trigger:
            problems.append(f"{who}: matches nothing: give it city, actor, aliases, any_of, all_of or a rule")
    return problems

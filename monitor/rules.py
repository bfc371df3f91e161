"""The watch rule language: a small boolean expression over terms.

A watch's ``rule`` says, beyond its aliases, what a text must (not) contain::

    "Homs" NEAR/20 (rebels OR offensive) AND NOT football
    @alias AND (shelling OR airstrike OR "air strike")
    "Tahrir al-Sham" OR HTS

Grammar (operators are written in capitals; anything else is a term)::

    rule     := or_expr END
    or_expr  := and_expr ( "OR" and_expr )*
    and_expr := unary ( "AND" unary )*
    unary    := "NOT" unary | near
    near     := primary [ "NEAR/" N primary ]          N: 1..500 words
    primary  := TERM | "@alias" | "(" or_expr ")"
    TERM     := '"' any characters but '"' '"'  |  a bare word: no spaces,
                quotes or parentheses, and not an operator

Precedence, tightest first: ``NEAR/N``, ``NOT``, ``AND``, ``OR``; use
parentheses for anything else.  Two terms side by side are an error, never an
implicit AND (``homs rebels`` would otherwise silently mean something).

Meaning, for one text (the fields in the watch's scope, title and/or text):

* a term is true when it occurs as a whole word or phrase, matched exactly
  like an alias (folded, whole words, short all-caps acronyms case-sensitive);
* ``@alias`` is true when one of the watch's own aliases occurs;
* ``A NEAR/N B`` is true when an occurrence of A and one of B are in the same
  field at most N words apart, in either order (neighbouring words are 1
  apart: in "Homs rebels advance", Homs NEAR/1 rebels, Homs NEAR/2 advance).  Each side must be
  a term, ``@alias`` or a parenthesised OR of those (positions are needed);
  NEAR does not chain: ``A NEAR/5 B NEAR/5 C`` is an error;
* ``AND``, ``OR``, ``NOT`` as usual, over the whole scope.

A rule must require at least one term to be present (``NOT football`` alone
would match every article); :func:`positive_terms` finds it and
``monitor.watches.validate_watches`` reports the rule otherwise.

Errors are :class:`RuleError` (a :class:`~monitor.errors.ConfigError`)
carrying the 1-based ``column`` of the problem and a caret line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from .errors import ConfigError

__all__ = [
    "RuleError",
    "Term",
    "AliasRef",
    "And",
    "Or",
    "Not",
    "Near",
    "Node",
    "parse_rule",
    "terms_of",
    "positive_terms",
    "MAX_NEAR",
]

#: NearRule in config allows 1..500 words; the rule language uses the same range
MAX_NEAR = 500


class RuleError(ConfigError):
    """A rule that does not parse.  ``column`` is 1-based."""

    def __init__(self, rule: str, column: int, message: str):
        self.rule = rule
        self.column = column
        self.reason = message
        caret = " " * (column - 1) + "^"
        super().__init__(f"rule: column {column}: {message}\n    {rule}\n    {caret}")


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    column: int = 0


@dataclass(frozen=True, slots=True)
class AliasRef:
    """``@alias``: any alias of the watch the rule belongs to."""

    column: int = 0


@dataclass(frozen=True, slots=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: "Node"


@dataclass(frozen=True, slots=True)
class Near:
    left: "Node"  # Term | AliasRef | Or of those
    right: "Node"
    within: int


Node = Union[Term, AliasRef, And, Or, Not, Near]

# ----------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<quoted>"[^"]*")
  | (?P<open_quote>"[^"]*$)
  | (?P<near>NEAR/(?P<n>\S*?)(?=[\s()"]|$))
  | (?P<alias>@alias(?=[\s()"]|$))
  | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)
_OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # lparen rparen term alias near AND OR NOT end
    text: str
    column: int  # 1-based
    n: int = 0


def _tokenize(rule: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(rule):
        m = _TOKEN.match(rule, pos)
        assert m is not None  # the word branch matches any non-space, non-paren, non-quote run
        col = pos + 1
        kind = m.lastgroup
        if kind == "n":  # the named group inside "near"
            kind = "near"
        text = m.group(0)
        if kind == "space":
            pass
        elif kind == "open_quote":
            raise RuleError(rule, col, "this quote is never closed")
        elif kind == "quoted":
            inner = text[1:-1]
            if not inner.strip():
                raise RuleError(rule, col, "an empty quoted term")
            toks.append(_Tok("term", inner, col))
        elif kind == "near":
            n_text = m.group("n")
            if not n_text.isdigit():
                raise RuleError(rule, col + 5, f"NEAR needs a word count, e.g. NEAR/20 (got {'NEAR/' + n_text!r})")
            n = int(n_text)
            if not 1 <= n <= MAX_NEAR:
                raise RuleError(rule, col + 5, f"NEAR/{n}: the word count must be between 1 and {MAX_NEAR}")
            toks.append(_Tok("near", text, col, n))
        elif kind == "word" and text in _OPERATORS:
            toks.append(_Tok(text, text, col))
        elif kind == "word" and text.startswith("@"):
            raise RuleError(rule, col, f"unknown reference {text!r}; the only one is @alias (this watch's aliases)")
        elif kind == "word" and text.upper() == "NEAR" or text.upper().startswith("NEAR/"):
            raise RuleError(rule, col, f"write NEAR/N in capitals with a word count, e.g. NEAR/20 (got {text!r})")
        else:
            toks.append(_Tok(kind or "word", text, col))
        pos = m.end()
    toks.append(_Tok("end", "", len(rule) + 1))
    return [t if t.kind != "word" else _Tok("term", t.text, t.column) for t in toks]


# ----------------------------------------------------------------- parser


class _Parser:
    def __init__(self, rule: str):
        self.rule = rule
        self.toks = _tokenize(rule)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, message: str, tok: _Tok | None = None) -> RuleError:
        return RuleError(self.rule, (tok or self.tok).column, message)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.fail("the rule is empty")
        node = self.or_expr()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "rparen":
                raise self.fail("this ')' has no matching '('")
            hint = ""
            if t.kind == "term" and t.text.upper() in ("AND", "OR", "NOT"):
                hint = f" (operators are written in capitals: {t.text.upper()})"
            raise self.fail(f"expected AND, OR or the end of the rule before {t.text!r}{hint}")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.tok.kind == "OR":
            self.i += 1
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.unary()]
        while self.tok.kind == "AND":
            self.i += 1
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.tok.kind == "NOT":
            self.i += 1
            return Not(self.unary())
        return self.near()

    def near(self) -> Node:
        left_tok = self.tok
        left = self.primary()
        if self.tok.kind != "near":
            return left
        near_tok = self.tok
        self.i += 1
        right_tok = self.tok
        right = self.primary()
        for side, t in ((left, left_tok), (right, right_tok)):
            if not _positional(side):
                raise self.fail(
                    "each side of NEAR/N must be a term, @alias or a parenthesised OR of terms", t
                )
        if self.tok.kind == "near":
            raise self.fail("NEAR/N does not chain; combine two NEARs with AND instead")
        return Near(left, right, near_tok.n)

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "term":
            self.i += 1
            return Term(t.text, t.column)
        if t.kind == "alias":
            self.i += 1
            return AliasRef(t.column)
        if t.kind == "lparen":
            self.i += 1
            if self.tok.kind == "rparen":
                raise self.fail("empty parentheses")
            node = self.or_expr()
            if self.tok.kind != "rparen":
                if self.tok.kind == "end":
                    raise self.fail("this '(' is never closed", t)
                raise self.fail(f"expected ')' or an operator before {self.tok.text!r}")
            self.i += 1
            return node
        if t.kind == "end":
            raise self.fail("the rule ends where a term was expected")
        if t.kind == "rparen":
            raise self.fail("expected a term before ')'")
        raise self.fail(f"expected a term, @alias or '(' but found {t.text!r}")


def _positional(node: Node) -> bool:
    if isinstance(node, (Term, AliasRef)):
        return True
    if isinstance(node, Or):
        return all(_positional(x) for x in node.items)
    return False


def parse_rule(rule: str) -> Node:
    """Parse a rule; raises :class:`RuleError` with the column of the problem."""
    return _Parser(rule).parse()


def terms_of(node: Node) -> list[Term]:
    """Every term of a rule, in order."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, AliasRef):
        return []
    if isinstance(node, (And, Or)):
        return [t for x in node.items for t in terms_of(x)]
    if isinstance(node, Not):
        return terms_of(node.item)
    if isinstance(node, Near):
        return terms_of(node.left) + terms_of(node.right)
    raise TypeError(node)


def positive_terms(node: Node) -> frozenset[str | None] | None:
    """A set of terms one of which must occur for the rule to be true
    (``None`` in the set stands for ``@alias``), or None when the rule can be
    true with no term at all (a NOT at the top, say).  The matcher only
    evaluates a rule when one of these occurs."""
    if isinstance(node, Term):
        return frozenset([node.text])
    if isinstance(node, AliasRef):
        return frozenset([None])
    if isinstance(node, Not):
        return None
    if isinstance(node, Near):
        return positive_terms(node.left)
    if isinstance(node, Or):
        out: set[str | None] = set()
        for x in node.items:
            s = positive_terms(x)
            if s is None:
                return None
            out |= s
        return frozenset(out)
    if isinstance(node, And):
        options = [s for s in (positive_terms(x) for x in node.items) if s is not None]
        # prefer a set of real terms: @alias may stand for no alias at all
        return min(options, key=lambda s: (None in s, len(s))) if options else None
    raise TypeError(node)

"""The rule language (monitor.rules): what parses to what, and where errors point."""

from __future__ import annotations

import pytest

from monitor.errors import ConfigError
from monitor.rules import AliasRef, And, Near, Node, Not, RuleError, Term, parse_rule, positive_terms, terms_of


def show(n: Node) -> str:
    """A fully parenthesised rendering, so precedence is visible."""
    if isinstance(n, Term):
        return repr(n.text)
    if isinstance(n, AliasRef):
        return "@alias"
    if isinstance(n, Not):
        return f"NOT({show(n.item)})"
    if isinstance(n, Near):
        return f"NEAR{n.within}({show(n.left)}, {show(n.right)})"
    name = "AND" if isinstance(n, And) else "OR"
    return f"{name}({', '.join(show(x) for x in n.items)})"


PARSES = [
    ('"Homs" NEAR/20 (rebels OR offensive) AND NOT football',
     "AND(NEAR20('Homs', OR('rebels', 'offensive')), NOT('football'))"),
    ("a OR b AND c", "OR('a', AND('b', 'c'))"),
    ("(a OR b) AND c", "AND(OR('a', 'b'), 'c')"),
    ("NOT a AND b", "AND(NOT('a'), 'b')"),
    ("NOT NOT a", "NOT(NOT('a'))"),
    ("NOT a NEAR/3 b", "NOT(NEAR3('a', 'b'))"),
    ("@alias AND (protest OR protesters)", "AND(@alias, OR('protest', 'protesters'))"),
    ('"Tahrir al-Sham" OR HTS', "OR('Tahrir al-Sham', 'HTS')"),
    ("Hay'at OR al-Assad", "OR(\"Hay'at\", 'al-Assad')"),
    ("حمص OR حماة", "OR('حمص', 'حماة')"),
    ("@alias NEAR/500 (a OR (b OR c))", "NEAR500(@alias, OR('a', OR('b', 'c')))"),
    ("a AND b AND c OR d", "OR(AND('a', 'b', 'c'), 'd')"),
    ("  spaced\t ", "'spaced'"),
]


@pytest.mark.parametrize("rule,tree", PARSES, ids=[r for r, _ in PARSES])
def test_parses(rule: str, tree: str) -> None:
    assert show(parse_rule(rule)) == tree


# (rule, column of the error, words the message must contain)
ERRORS = [
    ("", 1, "empty"),
    ("homs rebels", 6, "expected AND, OR or the end"),
    ("homs and rebels", 6, "operators are written in capitals: AND"),
    ("(homs OR hama", 1, "'(' is never closed"),
    ("homs OR hama)", 13, "')' has no matching '('"),
    ('"homs', 1, "quote is never closed"),
    ('homs OR ""', 9, "empty quoted term"),
    ("homs NEAR/x rebels", 11, "NEAR needs a word count"),
    ("homs NEAR/0 rebels", 11, "between 1 and 500"),
    ("homs NEAR/501 rebels", 11, "between 1 and 500"),
    ("homs near/5 rebels", 6, "NEAR/N in capitals"),
    ("homs NEAR rebels", 6, "NEAR/N in capitals"),
    ("homs NEAR/5 (a AND b)", 13, "each side of NEAR/N"),
    ("(NOT a) NEAR/5 b", 1, "each side of NEAR/N"),
    ("a NEAR/5 b NEAR/5 c", 12, "does not chain"),
    ("homs AND", 9, "ends where a term was expected"),
    ("NOT", 4, "ends where a term was expected"),
    ("AND homs", 1, "expected a term"),
    ("homs OR (rebels AND )", 21, "expected a term before ')'"),
    ("()", 2, "empty parentheses"),
    ("@city OR homs", 1, "unknown reference '@city'"),
    ("(a OR b c)", 9, "expected ')' or an operator"),
    ("  spaced\tout  ", 10, "expected AND, OR or the end"),
]


@pytest.mark.parametrize("rule,column,words", ERRORS, ids=[r or "<empty>" for r, _, _ in ERRORS])
def test_errors_point_at_the_column(rule: str, column: int, words: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rule(rule)
    e = info.value
    assert e.column == column
    assert words in e.reason
    assert isinstance(e, ConfigError)
    # the message shows the rule and a caret under the column
    lines = str(e).split("\n")
    assert lines[0].startswith(f"rule: column {column}: ")
    assert lines[1] == "    " + rule
    assert lines[2] == "    " + " " * (column - 1) + "^"


POSITIVE = [
    ("a", {"a"}),
    ("a OR b", {"a", "b"}),
    ("a AND b", {"a"}),  # either is necessary; the first smallest set is enough
    ("(a OR b) AND c", {"c"}),
    ("NOT a", None),
    ("NOT a AND b", {"b"}),
    ("a OR NOT b", None),
    ("@alias AND x", {"x"}),  # a real term is preferred to @alias
    ("@alias", {None}),
    ("a NEAR/3 b", {"a"}),
]


@pytest.mark.parametrize("rule,expected", POSITIVE, ids=[r for r, _ in POSITIVE])
def test_positive_terms(rule: str, expected: set | None) -> None:
    got = positive_terms(parse_rule(rule))
    assert (None if got is None else set(got)) == expected


def test_terms_of_lists_every_term_with_its_column() -> None:
    terms = terms_of(parse_rule('"Homs" NEAR/20 (rebels OR offensive) AND NOT football'))
    assert [(t.text, t.column) for t in terms] == [("Homs", 1), ("rebels", 17), ("offensive", 27), ("football", 46)]

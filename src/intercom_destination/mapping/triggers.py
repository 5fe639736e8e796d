"""Triggers in Segment's subscription syntax, parsed once into conditions on events.

    type = "track" and event = "Order Completed"
    type = "identify" or (type = "track" and properties.plan != "free")
    traits.email exists and not context.traits.test = true

Comparisons: `=`, `!=`, `<`, `<=`, `>`, `>=` (numbers) against a string in double or single
quotes, a number, `true`, `false` or `null`; `exists` and `not exists`. `and` binds tighter
than `or`; `not` negates; parentheses group. A hand-written recursive-descent parser: the
grammar is a dozen lines, and no maintained library parses Segment's syntax.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from intercom_destination.mapping.document import MISSING, PathError, compile_path, parse_path
from intercom_destination.spec import Event

#: The event types a trigger can name.
EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")


class TriggerError(ValueError):
    """A trigger that does not parse; the message names the position and what was expected."""


class Condition:
    """A compiled trigger: `matches(event)`, and what it becomes once the type is known."""

    def matches(self, event: Event) -> bool:
        raise NotImplementedError

    def given_type(self, event_type: str) -> bool | Condition:
        """True or False when the event's type decides, else the condition left to test."""
        return self


@dataclass(frozen=True)
class _Compare(Condition):
    path: tuple[str, ...]
    operator: str
    value: Any
    read: Callable[[Event], Any]

    def matches(self, event: Event) -> bool:
        return _compare(self.read(event), self.operator, self.value)

    def given_type(self, event_type: str) -> bool | Condition:
        if self.path == ("type",):
            return _compare(event_type, self.operator, self.value)
        return self


@dataclass(frozen=True)
class _Exists(Condition):
    path: tuple[str, ...]
    read: Callable[[Event], Any]

    def matches(self, event: Event) -> bool:
        value = self.read(event)
        return value is not MISSING and value is not None

    def given_type(self, event_type: str) -> bool | Condition:
        return True if self.path == ("type",) else self


@dataclass(frozen=True)
class _Not(Condition):
    inner: Condition

    def matches(self, event: Event) -> bool:
        return not self.inner.matches(event)

    def given_type(self, event_type: str) -> bool | Condition:
        inner = self.inner.given_type(event_type)
        return (not inner) if isinstance(inner, bool) else _Not(inner)


@dataclass(frozen=True)
class _All(Condition):
    parts: tuple[Condition, ...]

    def matches(self, event: Event) -> bool:
        return all(part.matches(event) for part in self.parts)

    def given_type(self, event_type: str) -> bool | Condition:
        left: list[Condition] = []
        for part in self.parts:
            known = part.given_type(event_type)
            if known is False:
                return False
            if known is not True:
                left.append(known)
        return _joined(_All, left, empty=True)


@dataclass(frozen=True)
class _Any(Condition):
    parts: tuple[Condition, ...]

    def matches(self, event: Event) -> bool:
        return any(part.matches(event) for part in self.parts)

    def given_type(self, event_type: str) -> bool | Condition:
        left: list[Condition] = []
        for part in self.parts:
            known = part.given_type(event_type)
            if known is True:
                return True
            if known is not False:
                left.append(known)
        return _joined(_Any, left, empty=False)


def _joined(
    kind: type[_All] | type[_Any], parts: list[Condition], *, empty: bool
) -> bool | Condition:
    if not parts:
        return empty
    return parts[0] if len(parts) == 1 else kind(tuple(parts))


_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is MISSING:
        actual = None
    if op in ("=", "!="):
        # true is not 1, as in JSON.
        same = actual == expected and isinstance(actual, bool) == isinstance(expected, bool)
        return same if op == "=" else not same
    if _is_number(actual) and _is_number(expected):
        return bool(_ORDERING[op](actual, expected))
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<operator>!=|<=|>=|=|<|>)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z_$][\w$]*(?:\.[\w$-]+)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "exists", "true", "false", "null"}
_LITERALS = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[position:].lstrip())
            raise TriggerError(f"unexpected {text[start]!r} at character {start + 1}")
        kind = match.lastgroup
        value = match.group(kind)
        start = match.start(kind)
        if kind == "word" and value in _KEYWORDS:
            kind = value
        tokens.append(_Token(kind, value, start))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def parse_trigger(text: str) -> Condition:
    """The condition a trigger states; a TriggerError saying where it stops making sense."""
    if not isinstance(text, str) or not text.strip():
        raise TriggerError("a trigger is a condition such as 'type = \"track\"'")
    parser = _Parser(_tokens(text))
    condition = parser.disjunction()
    parser.expect("end", "the end of the trigger (or `and`, `or`)")
    return condition


class _Parser:
    """disjunction := conjunction ("or" conjunction)*
    conjunction := negation ("and" negation)*
    negation    := "not" negation | "(" disjunction ")" | path test
    test        := ("=" | "!=" | "<" | "<=" | ">" | ">=") value | "exists" | "not" "exists"
    """

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    @property
    def next(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str, what: str) -> _Token:
        if self.next.kind != kind:
            found = f"{self.next.text!r}" if self.next.kind != "end" else "the end"
            raise TriggerError(
                f"expected {what} at character {self.next.position + 1}, found {found}"
            )
        return self.take()

    def disjunction(self) -> Condition:
        parts = [self.conjunction()]
        while self.next.kind == "or":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else _Any(tuple(parts))

    def conjunction(self) -> Condition:
        parts = [self.negation()]
        while self.next.kind == "and":
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else _All(tuple(parts))

    def negation(self) -> Condition:
        if self.next.kind == "not":
            self.take()
            return _Not(self.negation())
        if self.next.kind == "paren" and self.next.text == "(":
            self.take()
            condition = self.disjunction()
            if self.next.text != ")":
                self.expect(")", "`)`")
            self.take()
            return condition
        return self.test()

    def test(self) -> Condition:
        token = self.expect("word", "a field such as type, event or properties.plan")
        try:
            path = parse_path(token.text)
            read = compile_path(token.text)
        except PathError as error:
            raise TriggerError(f"at character {token.position + 1}: {error}") from None
        if self.next.kind == "exists":
            self.take()
            return _Exists(path, read)
        if self.next.kind == "not":
            self.take()
            self.expect("exists", "`exists` after `not`")
            return _Not(_Exists(path, read))
        op = self.expect("operator", "=, !=, <, <=, >, >= or exists").text
        return _Compare(path, op, self.value(), read)

    def value(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind == "number":
            is_whole = re.fullmatch(r"-?\d+", token.text)
            return int(token.text) if is_whole else float(token.text)
        if token.kind in _LITERALS:
            return _LITERALS[token.kind]
        found = f"{token.text!r}" if token.kind != "end" else "the end"
        raise TriggerError(
            f"expected a value (a quoted string, a number, true, false or null) at character "
            f"{token.position + 1}, found {found}"
        )


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])

"""Segment's mapping-kit directives: where a field's value comes from, compiled once.

A field's source in the settings is a plain value (taken as it is) or a table with one
directive: `{"@path" = "$.traits.full_name"}`, `{"@template" = "{{traits.first}} {{traits.last}}"}`,
`{"@if" = {exists = {…}, then = …, else = …}}` or `{"@literal" = …}`. `compile_source` turns it
into a function of the event, so planning does no parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from intercom_destination.mapping.document import MISSING, PathError, compile_path, parse_path
from intercom_destination.spec import Event

#: A compiled source: the value for an event, or `MISSING`.
Source = Callable[[Event], Any]
DIRECTIVES = ("@path", "@template", "@if", "@literal")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class DirectiveError(ValueError):
    """A source that cannot be compiled; the message says what is wrong."""


def compile_source(spec: Any) -> Source:
    """The function giving a source's value for an event."""
    if isinstance(spec, dict):
        directives = [key for key in spec if key.startswith("@")]
        if len(spec) != 1 or len(directives) != 1:
            raise DirectiveError(
                f"a table as a source holds exactly one directive ({', '.join(DIRECTIVES)}); "
                f"this one holds {', '.join(repr(key) for key in spec) or 'nothing'}"
            )
        [(directive, argument)] = spec.items()
        compile_directive = _DIRECTIVES.get(directive)
        if compile_directive is None:
            raise DirectiveError(
                f"unknown directive {directive!r} (known: {', '.join(DIRECTIVES)})"
            )
        return compile_directive(argument)
    if isinstance(spec, list):
        raise DirectiveError('a list is not a source; wrap a literal list in {"@literal" = [...]}')
    return _literal(spec)


def keys_read(spec: Any, root: str) -> frozenset[str]:
    """The keys of `root` a source reads (`$.traits.x` gives `x`), so that a trait mapped
    to a standard field is not repeated as a custom attribute too."""
    if isinstance(spec, dict):
        keys: frozenset[str] = frozenset()
        for directive, argument in spec.items():
            if directive == "@path" and isinstance(argument, str):
                steps = parse_path(argument)
                if steps[0] == root and len(steps) > 1:
                    keys |= {steps[1]}
            elif directive == "@template" and isinstance(argument, str):
                for path in _PLACEHOLDER.findall(argument):
                    keys |= keys_read({"@path": path}, root)
            elif isinstance(argument, dict):
                for child in argument.values():
                    keys |= keys_read(child, root)
        return keys
    return frozenset()


def _path(argument: Any) -> Source:
    if not isinstance(argument, str):
        raise DirectiveError(f'@path takes a string such as "$.traits.email", not {argument!r}')
    try:
        return compile_path(argument)
    except PathError as error:
        raise DirectiveError(f"@path: {error}") from None


def _template(argument: Any) -> Source:
    if not isinstance(argument, str):
        raise DirectiveError(f"@template takes a string, not {argument!r}")
    pieces: list[str | Source] = []
    position = 0
    for match in _PLACEHOLDER.finditer(argument):
        pieces.append(argument[position : match.start()])
        try:
            pieces.append(compile_path(match.group(1)))
        except PathError as error:
            raise DirectiveError(f"@template: {error}") from None
        position = match.end()
    pieces.append(argument[position:])
    if any(isinstance(piece, str) and ("{{" in piece or "}}" in piece) for piece in pieces):
        raise DirectiveError(f"@template: an unclosed placeholder in {argument!r}")

    def render(event: Event) -> str:
        return "".join(piece if isinstance(piece, str) else _text(piece(event)) for piece in pieces)

    return render


def _text(value: Any) -> str:
    """A value as a template writes it: missing and null as nothing, as mapping-kit does."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _if(argument: Any) -> Source:
    if not isinstance(argument, dict):
        raise DirectiveError("@if takes a table: {exists = {...}, then = ..., else = ...}")
    unknown = set(argument) - {"exists", "then", "else"}
    if unknown:
        raise DirectiveError(
            f"@if: unknown key {sorted(unknown)[0]!r} (it takes exists, then, else)"
        )
    if "exists" not in argument:
        raise DirectiveError("@if needs exists: the source whose presence decides")
    condition = compile_source(argument["exists"])
    then = compile_source(argument["then"]) if "then" in argument else condition
    otherwise = compile_source(argument["else"]) if "else" in argument else _missing

    def choose(event: Event) -> Any:
        value = condition(event)
        return then(event) if value is not MISSING and value is not None else otherwise(event)

    return choose


def _missing(event: Event) -> Any:
    return MISSING


def _literal(argument: Any) -> Source:
    return lambda event: argument


_DIRECTIVES: dict[str, Callable[[Any], Source]] = {
    "@path": _path,
    "@template": _template,
    "@if": _if,
    "@literal": _literal,
}

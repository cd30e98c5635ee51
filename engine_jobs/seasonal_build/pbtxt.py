"""Triton ``config.pbtxt`` (protobuf text format of ``ModelConfig``): write, read back, validate.

We write our own configs from Python values instead of filling NVIDIA's templates, so nothing is
left unfilled. :func:`loads` reads the subset of text format Triton configs use into plain dicts
(every field a list, since any field may repeat) so the cross-checks need no protobuf; when
tritonclient is importable :func:`check_schema` also parses the text into the real
``ModelConfig`` message, which catches misspelt fields and wrong enum names. Pure: strings in,
values out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


class Token(str):
    """A bare enum token such as TYPE_INT32 or KIND_CPU (written without quotes)."""


class PbtxtError(ValueError):
    """A config.pbtxt that does not parse or is not a valid ModelConfig."""


# --- writing ----------------------------------------------------------------


def dumps(config: Mapping[str, Any]) -> str:
    """Text format for a ModelConfig given as nested dicts (messages), lists (repeated) and scalars.

    ``parameters`` may be a flat ``{key: value}`` dict; it becomes Triton's map of ``string_value``s.
    """
    lines: list[str] = []
    _write_message(config, 0, lines)
    return "\n".join(lines) + "\n"


def parameters(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Triton's ``parameters`` map entries; values become strings (booleans as true/false)."""
    def text(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    return [{"key": k, "value": {"string_value": text(v)}} for k, v in values.items()]


def _write_message(message: Mapping[str, Any], depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    for key, value in message.items():
        if value is None:
            continue
        if key == "parameters" and isinstance(value, Mapping):
            value = parameters(value)
        if isinstance(value, Mapping):
            lines.append(f"{pad}{key} {{")
            _write_message(value, depth + 1, lines)
            lines.append(f"{pad}}}")
        elif isinstance(value, (list, tuple)):
            if value and all(isinstance(v, Mapping) for v in value):
                for item in value:  # repeated message: one block each
                    lines.append(f"{pad}{key} {{")
                    _write_message(item, depth + 1, lines)
                    lines.append(f"{pad}}}")
            else:
                lines.append(f"{pad}{key}: [ {', '.join(_scalar(v) for v in value)} ]")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")


def _scalar(value: Any) -> str:
    if isinstance(value, Token):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string literal is a valid text-format string literal
    raise TypeError(f"cannot write {value!r} into a config.pbtxt")


# --- reading ----------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}\[\]:,;<>])
""", re.VERBOSE)


def loads(text: str) -> dict[str, list[Any]]:
    """Parse text format into ``{field: [values...]}``; messages are nested dicts of the same shape."""
    tokens = _tokenize(text)
    pos, result = _parse_message(tokens, 0, end=None)
    if pos != len(tokens):
        raise PbtxtError(f"unexpected {tokens[pos][1]!r} after the top-level message")
    return result


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise PbtxtError(f"line {line}: cannot read {text[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
    return out


def _parse_message(tokens: list[tuple[str, str]], pos: int, end: str | None) -> tuple[int, dict[str, list[Any]]]:
    fields: dict[str, list[Any]] = {}
    while pos < len(tokens):
        kind, value = tokens[pos]
        if end is not None and value == end:
            return pos + 1, fields
        if kind != "ident":
            raise PbtxtError(f"expected a field name, got {value!r}")
        name = value
        pos += 1
        if pos < len(tokens) and tokens[pos][1] == ":":
            pos += 1
        pos, values = _parse_value(tokens, pos)
        fields.setdefault(name, []).extend(values)
        if pos < len(tokens) and tokens[pos][1] in (",", ";"):
            pos += 1
    if end is not None:
        raise PbtxtError(f"missing {end!r} at end of input")
    return pos, fields


def _parse_value(tokens: list[tuple[str, str]], pos: int) -> tuple[int, list[Any]]:
    if pos >= len(tokens):
        raise PbtxtError("missing value at end of input")
    kind, value = tokens[pos]
    if value in ("{", "<"):
        pos, message = _parse_message(tokens, pos + 1, end="}" if value == "{" else ">")
        return pos, [message]
    if value == "[":
        items: list[Any] = []
        pos += 1
        while tokens[pos][1] != "]":
            pos, item = _parse_value(tokens, pos)
            items.extend(item)
            if tokens[pos][1] == ",":
                pos += 1
        return pos + 1, items
    if kind == "string":
        if value[0] == "'":
            value = '"' + value[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'
        return pos + 1, [json.loads(value)]
    if kind == "number":
        return pos + 1, [float(value) if any(c in value for c in ".eE") else int(value)]
    if kind == "ident":
        return pos + 1, [{"true": True, "false": False}.get(value, Token(value))]
    raise PbtxtError(f"expected a value, got {value!r}")


def one(fields: Mapping[str, list[Any]], name: str, default: Any = None) -> Any:
    """The single value of a non-repeated field."""
    values = fields.get(name)
    return values[-1] if values else default


def parameter_map(fields: Mapping[str, list[Any]]) -> dict[str, str]:
    """Triton ``parameters`` as ``{key: string_value}``."""
    out: dict[str, str] = {}
    for entry in fields.get("parameters", []):
        value = one(entry, "value", {})
        out[str(one(entry, "key"))] = str(one(value, "string_value", ""))
    return out


# --- schema -----------------------------------------------------------------


def check_schema(text: str) -> bool:
    """Parse into tritonclient's ``ModelConfig``; False when tritonclient is not installed (the NGC image
    may lack it), raises :class:`PbtxtError` when the text is not a valid ModelConfig."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError:
        return False
    try:
        text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as exc:
        raise PbtxtError(f"not a valid Triton ModelConfig: {exc}") from None
    return True

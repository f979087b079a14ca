"""An RFC 5424 parser written from the RFC's ABNF, independent of the formatter under test."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(
    r"^<(?P<pri>\d{1,3})>(?P<version>[1-9]\d{0,2}) "
    r"(?P<timestamp>-|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) "
    r"(?P<hostname>[!-~]{1,255}) (?P<app_name>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) "
    r"(?P<msgid>[!-~]{1,32}) "
)
_NAME = re.compile(r'[^= \]"]{1,32}')


@dataclass
class Parsed:
    pri: int
    version: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    structured_data: list[tuple[str, list[tuple[str, str]]]]
    msg: str


def parse(text: str) -> Parsed:
    match = _HEADER.match(text)
    if match is None:
        raise ValueError(f"not an RFC 5424 header: {text[:80]!r}")
    rest = text[match.end() :]
    elements: list[tuple[str, list[tuple[str, str]]]] = []
    if rest.startswith("-"):
        rest = rest[1:]
    else:
        while rest.startswith("["):
            rest = rest[1:]
            sd_id = _NAME.match(rest)
            if sd_id is None:
                raise ValueError(f"bad SD-ID in {rest[:40]!r}")
            rest = rest[sd_id.end() :]
            params: list[tuple[str, str]] = []
            while rest.startswith(" "):
                name = _NAME.match(rest, 1)
                if name is None or rest[name.end() : name.end() + 2] != '="':
                    raise ValueError(f"bad SD-PARAM in {rest[:40]!r}")
                i = name.end() + 2
                value = []
                while rest[i] != '"':
                    if rest[i] == "\\" and rest[i + 1] in '"\\]':
                        value.append(rest[i + 1])
                        i += 2
                    elif rest[i] == "]":
                        raise ValueError("unescaped ] in PARAM-VALUE")
                    else:
                        value.append(rest[i])
                        i += 1
                params.append((name.group(), "".join(value)))
                rest = rest[i + 1 :]
            if not rest.startswith("]"):
                raise ValueError(f"unterminated SD-ELEMENT: {rest[:40]!r}")
            rest = rest[1:]
            elements.append((sd_id.group(), params))
    if rest and not rest.startswith(" "):
        raise ValueError(f"no space before MSG: {rest[:40]!r}")
    pri = int(match["pri"])
    if pri > 191:
        raise ValueError(f"PRI {pri} out of range")
    return Parsed(
        pri=pri,
        version=int(match["version"]),
        timestamp=match["timestamp"],
        hostname=match["hostname"],
        app_name=match["app_name"],
        procid=match["procid"],
        msgid=match["msgid"],
        structured_data=elements,
        msg=rest[1:],
    )

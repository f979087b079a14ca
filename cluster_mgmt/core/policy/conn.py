"""Connection sets: which protocols and ports are allowed, with L7 restrictions per port.

A :data:`Conn` is a hashable tuple ``((protocol, intervals), ...)`` in a fixed protocol order,
where ``intervals`` are disjoint, sorted ``(low, high, l7)`` runs. ``l7`` is ``None`` (no L7
restriction) or a frozenset of ``(side, kind, position, rule_json)``: the HTTP/DNS/Kafka rules
a proxy enforces on that port, tagged with the side (``egress``/``ingress``) that asks for
them and their position in the policy's list (output keeps the order they were written in).
Equal sets are equal tuples, so results can be memoized and grouped by value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

L7 = frozenset[tuple[str, str, int, str]] | None
Interval = tuple[int, int, L7]
Intervals = tuple[Interval, ...]
Conn = tuple[tuple[str, Intervals], ...]

# ICMP "ports" are ICMP types. Other IP protocols are not modelled separately.
PROTOCOLS: tuple[str, ...] = ("TCP", "UDP", "SCTP", "ICMP")
BOUNDS: dict[str, tuple[int, int]] = {
    "TCP": (1, 65535),
    "UDP": (1, 65535),
    "SCTP": (1, 65535),
    "ICMP": (0, 255),
}
_ORDER = {p: i for i, p in enumerate(PROTOCOLS)}

EMPTY: Conn = ()
ALL: Conn = tuple((p, ((BOUNDS[p][0], BOUNDS[p][1], None),)) for p in PROTOCOLS)

_ABSENT: Any = object()


def span(protocol: str, low: int | None = None, high: int | None = None, l7: L7 = None) -> Conn:
    """One protocol, ports ``low..high`` (default: the whole range), optional L7."""
    lo_bound, hi_bound = BOUNDS[protocol]
    lo = lo_bound if low is None else max(low, lo_bound)
    hi = (hi_bound if low is None else low) if high is None else min(high, hi_bound)
    if lo > hi:
        return EMPTY
    return ((protocol, ((lo, hi, l7),)),)


def _combine(a: Intervals, b: Intervals, fn: Callable[[Any, Any], Any]) -> Intervals:
    points = sorted(
        {iv[0] for iv in a}
        | {iv[1] + 1 for iv in a}
        | {iv[0] for iv in b}
        | {iv[1] + 1 for iv in b}
    )
    out: list[Interval] = []
    ia = ib = 0
    for k in range(len(points) - 1):
        start, end = points[k], points[k + 1] - 1
        while ia < len(a) and a[ia][1] < start:
            ia += 1
        while ib < len(b) and b[ib][1] < start:
            ib += 1
        va = a[ia][2] if ia < len(a) and a[ia][0] <= start else _ABSENT
        vb = b[ib][2] if ib < len(b) and b[ib][0] <= start else _ABSENT
        value = fn(va, vb)
        if value is _ABSENT:
            continue
        if out and out[-1][1] == start - 1 and out[-1][2] == value:
            out[-1] = (out[-1][0], end, value)
        else:
            out.append((start, end, value))
    return tuple(out)


def _l7_union(x: L7, y: L7) -> L7:
    # A port allowed without L7 rules by any rule is allowed for all requests.
    if x is None or y is None:
        return None
    return x | y


def _l7_both(x: L7, y: L7) -> L7:
    # Both proxies (egress and ingress side) must let the request through.
    if x is None:
        return y
    if y is None:
        return x
    return x | y


def _f_union(va: Any, vb: Any) -> Any:
    if va is _ABSENT:
        return vb
    if vb is _ABSENT:
        return va
    return _l7_union(va, vb)


def _f_intersect(va: Any, vb: Any) -> Any:
    if va is _ABSENT or vb is _ABSENT:
        return _ABSENT
    return _l7_both(va, vb)


def _f_subtract(va: Any, vb: Any) -> Any:
    return va if vb is _ABSENT else _ABSENT


def _by_protocol(
    a: Conn, b: Conn, fn: Callable[[Any, Any], Any], keep_a_only: bool, keep_b_only: bool
) -> Conn:
    da, db = dict(a), dict(b)
    out = []
    for proto in PROTOCOLS:
        ia, ib = da.get(proto), db.get(proto)
        if ia is None and ib is None:
            continue
        if ib is None:
            if keep_a_only and ia:
                out.append((proto, ia))
            continue
        if ia is None:
            if keep_b_only and ib:
                out.append((proto, ib))
            continue
        merged = _combine(ia, ib, fn)
        if merged:
            out.append((proto, merged))
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def union(a: Conn, b: Conn) -> Conn:
    """Everything allowed by ``a`` or ``b`` (L7: unrestricted wins, else rules add up)."""
    if not a or a == b:
        return b
    if not b:
        return a
    return _by_protocol(a, b, _f_union, True, True)


@lru_cache(maxsize=1 << 16)
def intersect(a: Conn, b: Conn) -> Conn:
    """What both ``a`` and ``b`` allow (L7 restrictions of both sides apply)."""
    if not a or not b:
        return EMPTY
    if b == ALL:
        return a
    if a == ALL:
        return b
    return _by_protocol(a, b, _f_intersect, False, False)


@lru_cache(maxsize=1 << 16)
def subtract(a: Conn, b: Conn) -> Conn:
    """What ``a`` allows outside ``b`` (``b``'s L7 rules are ignored: denies are L3/L4)."""
    if not a or not b:
        return a
    if b == ALL:
        return EMPTY
    return _by_protocol(a, b, _f_subtract, True, False)


def union_all(conns: Iterable[Conn]) -> Conn:
    """Union of many connection sets."""
    out = EMPTY
    for c in conns:
        out = union(out, c)
    return out


def _l7_covers(small: L7, big: L7) -> bool:
    if big is None:
        return True
    return small is not None and small <= big


@lru_cache(maxsize=1 << 14)
def is_subset(a: Conn, b: Conn) -> bool:
    """Whether every request ``a`` allows is allowed by ``b``."""
    if not a:
        return True
    db = dict(b)
    for proto, ivs in a:
        other = db.get(proto)
        if other is None:
            return False
        for lo, hi, l7 in ivs:
            covered = lo
            for olo, ohi, ol7 in other:
                if ohi < covered or olo > hi:
                    continue
                if olo > covered or not _l7_covers(l7, ol7):
                    return False
                covered = ohi + 1
                if covered > hi:
                    break
            if covered <= hi:
                return False
    return True


def allows(conn: Conn, protocol: str, port: int) -> bool:
    """Whether ``protocol``/``port`` is in the set (at least for some L7 requests)."""
    for proto, ivs in conn:
        if proto == protocol:
            return any(lo <= port <= hi for lo, hi, _ in ivs)
    return False


def strip_l7(conn: Conn) -> Conn:
    """The same ports without L7 restrictions."""
    out = []
    for proto, ivs in conn:
        merged: list[Interval] = []
        for lo, hi, _ in ivs:
            if merged and merged[-1][1] == lo - 1:
                merged[-1] = (merged[-1][0], hi, None)
            else:
                merged.append((lo, hi, None))
        out.append((proto, tuple(merged)))
    return tuple(out)


def _port_text(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"


def l7_json(l7: L7) -> Any:
    """The documented JSON form of an L7 restriction (``None`` when there is none)."""
    if l7 is None:
        return None
    sides = sorted({side for side, _, _, _ in l7})

    def side_obj(side: str | None) -> dict[str, list[Any]]:
        kinds: dict[str, list[tuple[int, str]]] = {}
        for s, kind, position, rule in l7:
            if side is None or s == side:
                kinds.setdefault(kind, []).append((position, rule))
        out: dict[str, list[Any]] = {}
        for kind, rules in sorted(kinds.items()):
            seen: set[str] = set()
            items = out[kind] = []
            # In the order written; the same rule from several lists once.
            for _, rule in sorted(rules):
                value = json.loads(rule)
                canonical = json.dumps(value, sort_keys=True)
                if canonical not in seen:
                    seen.add(canonical)
                    items.append(value)
        return out

    if len(sides) == 1:
        return side_obj(None)
    return {side: side_obj(side) for side in sides}


def to_json(conn: Conn) -> Any:
    """``"all"`` or ``[{"protocol", "ports": ["80", "8000-8080"], "l7": ...}, ...]``."""
    if conn == ALL:
        return "all"
    out: list[dict[str, Any]] = []
    for proto, ivs in conn:
        # Intervals are in port order, so the entries of one protocol come by first port.
        groups: dict[L7, list[str]] = {}
        for lo, hi, l7 in ivs:
            groups.setdefault(l7, []).append(_port_text(lo, hi))
        out.extend(
            {"protocol": proto, "ports": ports, "l7": l7_json(l7)} for l7, ports in groups.items()
        )
    return out


def describe(conn: Conn) -> str:
    """Short human form: ``all``, ``TCP 80,443; UDP 53 [dns]``, ``none``."""
    if conn == ALL:
        return "all"
    if not conn:
        return "none"
    parts = []
    for item in to_json(conn):
        lo, hi = BOUNDS[item["protocol"]]
        ports = item["ports"]
        text = item["protocol"]
        if ports != [_port_text(lo, hi)]:
            text += " " + ",".join(ports)
        if item["l7"] is not None:
            text += " [" + json.dumps(item["l7"], sort_keys=True, separators=(",", ":")) + "]"
        parts.append(text)
    return "; ".join(parts)


def from_json(value: Any) -> Conn:
    """Inverse of :func:`to_json` (used by tests and the drift report)."""
    if value == "all":
        return ALL
    out = EMPTY
    for item in value:
        l7 = None
        if item.get("l7") is not None:
            l7 = frozenset(
                ("", kind, i, json.dumps(rule))
                for kind, rules in item["l7"].items()
                for i, rule in enumerate(rules)
            )
        for text in item["ports"]:
            lo, _, hi = text.partition("-")
            out = union(out, span(item["protocol"], int(lo), int(hi or lo), l7))
    return out


def sort_key(conn: Conn) -> tuple[int, ...]:
    """A deterministic order for connection sets (used to sort output)."""
    return tuple(_ORDER[p] for p, _ in conn)

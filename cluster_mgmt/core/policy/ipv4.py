"""IPv4 address ranges: CIDR parsing, the partition of the address space, range text."""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SPACE_END = (1 << 32) - 1


class CidrError(ValueError):
    """Not a valid CIDR."""


@dataclass(frozen=True, slots=True)
class Cidr:
    """An IPv4 block as an inclusive integer range; ``ipv6`` blocks are kept but not analysed."""

    text: str
    low: int
    high: int
    ipv6: bool = False


def parse_cidr(text: str) -> Cidr:
    """Parse ``10.0.0.0/8`` (a bare address means ``/32``); IPv6 is flagged, not rejected.

    Raises:
        CidrError: when the text is not an address or network.
    """
    value = str(text).strip()
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise CidrError(f"{value!r} is not a valid CIDR") from exc
    if net.version == 6:
        return Cidr(value, 0, -1, ipv6=True)
    return Cidr(value, int(net.network_address), int(net.broadcast_address))


def ip_to_int(text: str) -> int:
    """``10.1.2.3`` -> integer.

    Raises:
        CidrError: when the text is not an IPv4 address.
    """
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError as exc:
        raise CidrError(f"{text!r} is not an IPv4 address") from exc


def int_to_ip(value: int) -> str:
    """Integer -> dotted quad."""
    return str(ipaddress.IPv4Address(value))


def range_text(low: int, high: int) -> str:
    """``a.b.c.d-w.x.y.z`` (always both ends, as the JSON format documents)."""
    return f"{int_to_ip(low)}-{int_to_ip(high)}"


class Partition:
    """The IPv4 space cut at every boundary of the given ranges: disjoint, sorted atoms."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        cuts = {0, SPACE_END + 1}
        for low, high in ranges:
            if 0 <= low <= high <= SPACE_END:
                cuts.add(low)
                cuts.add(high + 1)
        self.starts: list[int] = sorted(cuts)[:-1]
        ends = sorted(cuts)[1:]
        self.atoms: list[tuple[int, int]] = [
            (s, e - 1) for s, e in zip(self.starts, ends, strict=True)
        ]

    def __len__(self) -> int:
        return len(self.atoms)

    def covering(self, low: int, high: int) -> range:
        """Indexes of the atoms inside ``low..high`` (exact, as the bounds are cut points)."""
        first = bisect.bisect_left(self.starts, low)
        last = bisect.bisect_right(self.starts, high)
        return range(first, last)

    def atom_of(self, address: int) -> int:
        """Index of the atom holding one address."""
        return bisect.bisect_right(self.starts, address) - 1


def merge_adjacent(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge touching or overlapping ranges."""
    out: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(high, out[-1][1]))
        else:
            out.append((low, high))
    return out

"""Text forms of the matrix: JSON (the stable, documented one), CSV, Graphviz dot, rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import Connection, PeerRef
from cluster_mgmt.core.policy.conn import Conn


@lru_cache(maxsize=4096)
def _conn_json(conn: Conn) -> Any:
    return C.to_json(conn)


def to_json_text(connections: Sequence[Connection]) -> str:
    """The JSON document printed by ``policy matrix -o json``: one entry per line.

    Each entry is ``{"src": PEER, "dst": PEER, "conn": CONN}``.
    """
    if not connections:
        return "[]\n"
    # Peers and connections repeat across entries: each is encoded once, and an entry is
    # the text json.dumps would give for {"src": ..., "dst": ..., "conn": ...}.
    peers: dict[PeerRef, str] = {}
    conns: dict[Conn, str] = {}

    def peer(p: PeerRef) -> str:
        out = peers.get(p)
        if out is None:
            out = peers[p] = json.dumps(p.as_json())
        return out

    def conn(c: Conn) -> str:
        out = conns.get(c)
        if out is None:
            out = conns[c] = json.dumps(_conn_json(c))
        return out

    lines = [
        f'{{"src": {peer(c.src)}, "dst": {peer(c.dst)}, "conn": {conn(c.conn)}}}'
        for c in connections
    ]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def rows(connections: Sequence[Connection]) -> list[tuple[str, str, str]]:
    """``(source, destination, connection)`` text rows."""
    return [(str(c.src), str(c.dst), C.describe(c.conn)) for c in connections]


def to_csv_text(connections: Sequence[Connection]) -> str:
    """CSV with a header: ``src,dst,conn``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["src", "dst", "conn"])
    writer.writerows(rows(connections))
    return buf.getvalue()


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot_text(connections: Sequence[Connection]) -> str:
    """A Graphviz digraph: workloads as boxes, address ranges as ellipses."""
    lines = ["digraph connectivity {", "  rankdir=LR;", "  node [fontsize=10];"]
    nodes: dict[str, str] = {}
    for c in connections:
        for peer in (c.src, c.dst):
            name = str(peer)
            if name not in nodes:
                shape = "box" if hasattr(peer, "namespace") else "ellipse"
                nodes[name] = shape
                lines.append(f"  {_dot_id(name)} [shape={shape}];")
    lines.extend(
        f"  {_dot_id(str(c.src))} -> {_dot_id(str(c.dst))} [label={_dot_id(C.describe(c.conn))}];"
        for c in connections
    )
    lines.append("}")
    return "\n".join(lines) + "\n"

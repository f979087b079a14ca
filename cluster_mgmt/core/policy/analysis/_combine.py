"""Rectangles: the egress rows of sources met with the ingress rows of destinations.

A pod-to-pod connection is the egress row of the source intersected with the ingress row
of the destination. Rows are combined group by group (classes sharing a row together),
giving rectangles ``(conn, source classes, destination classes)``.
"""

from __future__ import annotations

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis._atoms import bit_indices
from cluster_mgmt.core.policy.analysis._rows import Rows
from cluster_mgmt.core.policy.conn import Conn

Rect = tuple[Conn, int, int]  # (connection, source classes, destination classes)


def rectangles(rows: Rows, pod_bits: int) -> list[Rect]:
    """Every non-empty ``(conn, sources, destinations)`` between pod classes."""
    ingress_groups: dict[int, int] = {}
    egress_groups: dict[int, int] = {}
    for ci, (irid, erid) in enumerate(zip(rows.ingress_row_of, rows.egress_row_of, strict=True)):
        ingress_groups[irid] = ingress_groups.get(irid, 0) | (1 << ci)
        egress_groups[erid] = egress_groups.get(erid, 0) | (1 << ci)
    in_list = list(ingress_groups.items())
    rects: list[Rect] = []
    for erid, sources in egress_groups.items():
        for econn, dbits in rows.rows[erid].items():
            dpods = dbits & pod_bits
            if not dpods:
                continue
            if dpods.bit_count() < len(in_list):
                hit: dict[int, int] = {}
                for ci in bit_indices(dpods):
                    rid = rows.ingress_row_of[ci]
                    hit[rid] = hit.get(rid, 0) | (1 << ci)
                targets = list(hit.items())
            else:
                targets = [(rid, members & dpods) for rid, members in in_list]
            for irid, dests in targets:
                if not dests:
                    continue
                for iconn, sbits in rows.rows[irid].items():
                    srcs = sbits & sources
                    if srcs:
                        both = C.intersect(econn, iconn)
                        if both:
                            rects.append((both, srcs, dests))
    return rects

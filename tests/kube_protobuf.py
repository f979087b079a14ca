"""Decode the Kubernetes protobuf encoding of the objects clients write to the API fake.

client-go (and so the real helm binary) sends core objects as
``application/vnd.kubernetes.protobuf``: the magic ``k8s\\0`` then a ``runtime.Unknown``
(``typeMeta`` 1, ``raw`` 2). Only what helm writes is decoded: Secrets (its release storage)
with their ObjectMeta. The fake answers in JSON, which every client accepts too.
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def fields(buf: bytes) -> list[tuple[int, Any]]:
    """``(field number, value)``: ints for varints, bytes for length-delimited fields."""
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            value, i = buf[i : i + length], i + length
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, value))
    return out


def _map(entries: list[bytes], value_is_bytes: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in entries:
        parts = dict(fields(entry))
        key = parts.get(1, b"").decode()
        value = parts.get(2, b"")
        out[key] = base64.b64encode(value).decode() if value_is_bytes else value.decode()
    return out


def _object_meta(buf: bytes) -> dict[str, Any]:
    parts = fields(buf)
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    for number, value in parts:
        if number in names and value:  # gogo-protobuf sends empty strings too
            meta[names[number]] = value.decode()
    labels = _map([v for n, v in parts if n == 11])
    annotations = _map([v for n, v in parts if n == 12])
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded Secret.

    Raises:
        ValueError: not the Kubernetes envelope, or another kind.
    """
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf message")
    envelope = dict(fields(body[len(MAGIC) :]))
    type_meta = dict(fields(envelope.get(1, b"")))
    kind = type_meta.get(2, b"").decode()
    if kind != "Secret":
        raise ValueError(f"protobuf {kind or 'object'} is not decoded by this fake")
    parts = fields(envelope.get(2, b""))
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {}}
    for number, value in parts:
        if number == 1:
            secret["metadata"] = _object_meta(value)
        elif number == 3:
            secret["type"] = value.decode()
    data = _map([v for n, v in parts if n == 2], value_is_bytes=True)
    if data:
        secret["data"] = data
    return secret

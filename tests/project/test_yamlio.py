"""The one YAML loader: PyYAML's safe semantics, positions, duplicate keys, clear errors."""

from __future__ import annotations

import datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster_mgmt.adapters import yamlio
from cluster_mgmt.core.positions import PositionedDict, PositionedList
from cluster_mgmt.errors import ConfigError

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["yes", "on", "off", "010", "0x1f", "1:20", "2024-01-02", "~", "null", ""]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(documents, st.sampled_from(["block", "flow"]))
def test_loads_what_pyyaml_safe_load_loads(doc, style) -> None:
    text = yaml.safe_dump(doc, default_flow_style=style == "flow", allow_unicode=True)
    expected = yaml.safe_load(text)
    assert yamlio.load_text(text, "f.yaml") == expected
    assert yamlio.load_plain(text, "f.yaml") == expected
    untracked = yamlio.load_documents(text, "f.yaml", positioned_kinds=())
    assert untracked == [expected]


def test_yaml_1_1_scalars_as_helm_reads_them() -> None:
    doc = yamlio.load_text("a: yes\nb: 'yes'\nc: 010\nd: 2024-01-02\ne: ~\nf: 1_000\n", "f")
    assert doc == {
        "a": True, "b": "yes", "c": 8, "d": datetime.date(2024, 1, 2), "e": None, "f": 1000,
    }  # fmt: skip


def test_positions_of_keys_and_items() -> None:
    text = "top:\n  list:\n  - a\n  - {k: v, w: [1, 2]}\nother: 1\n"
    doc = yamlio.load_text(text, "f.yaml")
    assert isinstance(doc, PositionedDict)
    assert doc.start == (0, 0)
    assert doc.positions == {"top": (0, 0), "other": (4, 0)}
    items = doc["top"]["list"]
    assert isinstance(items, PositionedList)
    assert items.positions == [(2, 4), (3, 4)]
    assert items[1].positions == {"k": (3, 5), "w": (3, 11)}
    assert str(yamlio.locate(doc, ("top", "list", 1, "w", 1), "f.yaml")) == "f.yaml:4:19"
    assert items[1]["w"].positions == [(3, 15), (3, 18)]
    # A path past the document stops at the last key found.
    loc = yamlio.locate(doc, ("top", "missing", "deeper"), "f.yaml")
    assert (loc.line, loc.col, loc.field) == (1, 1, "top.missing.deeper")


def test_anchors_merge_keys_and_shared_aliases() -> None:
    text = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nsame: *b\n"
    doc = yamlio.load_text(text, "f.yaml")
    assert doc["use"] == {"x": 1, "y": 3}
    assert doc["same"] is doc["base"]  # built once, like PyYAML: alias bombs stay small
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\n"
    d = yamlio.load_text(bomb, "f")["d"]
    assert d[0][0][0] is d[1][1][1]


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("a: 1\nb:\n  c: 2\n  c: 3\n", "f.yaml:4:3", "duplicate key 'c' (first set on line 3)"),
        ("a: [1, 2\n", "f.yaml:2:1", "invalid YAML"),
        ("? [a]\n: 1\n", "f.yaml:1:3", "unusable mapping key"),
        ("a: !Ref x\n", "f.yaml:1:4", "could not determine a constructor"),
        ("a: 1\n---\nb: 2\n", "f.yaml", "expected one document"),
    ],
)
def test_errors_name_file_line_and_column(text: str, where: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        yamlio.load_text(text, "f.yaml")
    assert str(caught.value.location) == where
    assert fragment in caught.value.message


def test_manifests_get_positions_only_for_the_kinds_asked() -> None:
    text = (
        "kind: Pod\nmetadata: {name: p}\n---\n"
        "kind: NetworkPolicy\nmetadata: {name: n}\n---\n"
        "kind: List\nitems:\n- kind: NetworkPolicy\n"
    )
    pod, policy, listed = yamlio.load_documents(text, "m.yaml", positioned_kinds={"NetworkPolicy"})
    assert type(pod) is dict
    assert isinstance(policy, PositionedDict)
    assert policy.positions["metadata"] == (4, 0)
    assert isinstance(listed, PositionedDict)  # a List may hold policies
    # Duplicate keys in documents read without positions: the last one wins, as in PyYAML.
    assert yamlio.load_documents("kind: Pod\na: 1\na: 2\n", "m", positioned_kinds=())[0]["a"] == 2


def test_roundtrip_keeps_comments(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("# head\na: 1  # why\nb: [x]\n")
    doc = yamlio.load_roundtrip(path)
    doc["a"] = 2
    assert yamlio.dump_roundtrip(doc) == "# head\na: 2  # why\nb: [x]\n"

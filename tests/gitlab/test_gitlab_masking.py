"""GitLab's masking rules, checked before a value is sent."""

from __future__ import annotations

import pytest
import requests
from gitlab_fake import PROJECT, TOKEN, FakeGitLab

from cluster_mgmt.adapters.gitlab import GitLabClient, Variable
from cluster_mgmt.core.gitlab_rules import masked_value_problem
from cluster_mgmt.errors import UserError

# (value, raw, maskable): GitLab's Ci::Maskable rules.
CASES = [
    ("glagent-AbC_123-xyz", False, True),  # an agent token
    ("0123456789abcdef0123456789abcdef", False, True),  # an alert key
    ("a1b2c3d4", False, True),  # exactly 8
    ("a1b2c3d", False, False),  # 7: too short
    ("user@example.com:pass~word.=/+", False, True),  # every extra character allowed
    ("has space 12345", False, False),
    ("dollar$VARIABLE", False, False),  # would be expanded
    ("bang!bang!bang", False, False),
    ("line\nbreak12345", False, False),
    ("dollar$VARIABLE", True, True),  # raw: any non-space character
    ("bang!bang!bang", True, True),
    ("has space 12345", True, False),
    ("short!", True, False),
]


@pytest.mark.parametrize(("value", "raw", "maskable"), CASES)
def test_rule_matches_gitlab(fake: FakeGitLab, value: str, raw: bool, maskable: bool) -> None:
    problem = masked_value_problem(value, raw=raw)
    assert (problem is None) == maskable, problem
    if problem is not None:
        assert value not in problem  # the message never echoes the secret
    # The fake applies GitLab's own regular expressions to the same value.
    answer = requests.post(
        f"{fake.url}/api/v4/projects/{fake.project(PROJECT).id}/variables",
        headers={"PRIVATE-TOKEN": TOKEN},
        json={"key": "K", "value": value, "masked": True, "raw": raw},
        timeout=10,
    )
    assert (answer.status_code == 201) == maskable, answer.text


def test_messages_say_what_is_wrong() -> None:
    assert "shorter than 8 characters" in (masked_value_problem("abc") or "")
    text = masked_value_problem("abc def$ghi") or ""
    assert "a space" in text and "'$'" in text and "abc" not in text


def test_unmaskable_value_is_refused_before_sending(fake: FakeGitLab) -> None:
    client = GitLabClient(fake.url, token=TOKEN)
    project = client.project(PROJECT)
    sent_before = len(fake.requests)
    with pytest.raises(UserError) as info:
        client.set_variable(
            project, Variable("GITLAB_ALERTS_KEY", "s3cret!", "prod", masked=True), exists=False
        )
    assert "GITLAB_ALERTS_KEY (prod): GitLab cannot mask this value" in info.value.message
    assert "s3cret!" not in info.value.message
    assert len(fake.requests) == sent_before
    assert fake.project(PROJECT).variables == []

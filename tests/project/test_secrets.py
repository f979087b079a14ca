"""The shared redaction helper."""

from __future__ import annotations

from cluster_mgmt.adapters.secrets import redact, register_secret


def test_environment_secrets_are_replaced_by_their_names() -> None:
    env = {"GITLAB_AGENT_TOKEN": "glagent-abcdef", "GITLAB_TOKEN": "glpat-123456", "HOME": "/r"}
    text = "token glagent-abcdef and glpat-123456 in /r"
    assert redact(text, env) == "token <GITLAB_AGENT_TOKEN> and <GITLAB_TOKEN> in /r"


def test_short_values_are_left_alone_and_longest_secret_wins() -> None:
    assert redact("a b c", {"GITLAB_TOKEN": "b"}) == "a b c"
    env = {"GITLAB_TOKEN": "secret", "CI_JOB_TOKEN": "secret-longer"}
    assert redact("x secret-longer y secret", env) == "x <CI_JOB_TOKEN> y <GITLAB_TOKEN>"


def test_registered_secrets_are_redacted_for_the_rest_of_the_process() -> None:
    register_secret("glagent-created-at-runtime", "agent token")
    assert redact("got glagent-created-at-runtime", {}) == "got <agent token>"

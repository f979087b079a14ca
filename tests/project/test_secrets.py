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


def test_base64_forms_of_secrets_are_redacted_too() -> None:
    import base64

    token = "glagent-s3cr3t-token-value-0123456789"
    encoded = base64.b64encode(token.encode()).decode()
    text = f"data:\n  token: {encoded}\nplain {token}"
    out = redact(text, {"GITLAB_AGENT_TOKEN": token})
    assert out == "data:\n  token: <GITLAB_AGENT_TOKEN (base64)>\nplain <GITLAB_AGENT_TOKEN>"

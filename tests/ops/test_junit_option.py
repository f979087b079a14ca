"""`--junit FILE` of verify and apply: a report that could not be written is refused before
anything runs, not after minutes of checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from kube_fake import KubeFake


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/report.xml", "directory {tmp}/missing does not exist"),
        ("a-directory", "{tmp}/a-directory is a directory"),
    ],
)
def test_verify_refuses_an_unwritable_report_before_any_check(
    run_cli, project: Path, kube_fake: KubeFake, tmp_path: Path, where: str, message: str
):
    (tmp_path / "a-directory").mkdir()
    before = len(kube_fake.requests)
    result = run_cli("-C", project, "verify", "--env", "production", "--junit", tmp_path / where)
    assert result.exit_code == 2, result.stderr
    assert "Invalid value for '--junit'" in result.stderr
    assert message.format(tmp=tmp_path) in result.stderr
    assert "Traceback" not in result.stderr
    assert len(kube_fake.requests) == before, "the cluster was contacted"
    assert not (tmp_path / "missing").exists()


def test_apply_refuses_it_before_helmfile_runs(
    run_cli, project: Path, kube_fake: KubeFake, fake_helmfile, tmp_path: Path
):
    result = run_cli(
        "-C", project, "apply", "--env", "production", "--rollback-on-failure",
        "--junit", tmp_path / "missing" / "r.xml",
    )  # fmt: skip
    # apply's usage errors exit 1: 2 is "changes" under --detailed-exitcode.
    assert result.exit_code == 1, result.stderr
    assert f"directory {tmp_path}/missing does not exist" in result.stderr
    assert fake_helmfile.calls() == []

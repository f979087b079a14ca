"""``cluster-mgmt verify``: check the live stack of an environment, with a JUnit report."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from cluster_mgmt.cli.options import (
    junit_option,
    kube_options,
    kube_target,
    output_option,
    timeout_option,
)
from cluster_mgmt.cli.output import echo_json, echo_table

if TYPE_CHECKING:
    from cluster_mgmt.ops.verify import VerifyReport


@click.command("verify")
@kube_options
@output_option("table", "json")
@junit_option("Also write the results as JUnit XML (for GitLab's test report).")
@timeout_option("5m", "One deadline for all checks (90s, 5m, 1h).")
@click.option(
    "--probe",
    is_flag=True,
    help="Also test a deny policy live, in a temporary namespace (deleted afterwards).",
)
@click.option(
    "--probe-image",
    metavar="IMAGE",
    help="Image of the probe's client and server (agnhost; default from registry.k8s.io).",
)
@click.pass_context
def verify_cmd(
    ctx: click.Context,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    fmt: str,
    junit: Path | None,
    timeout: float,
    probe: bool,
    probe_image: str | None,
) -> None:
    """Check that the deployed stack works: exit 0 only when every check passes.

    Checks, concurrently: every enabled release is deployed at its pinned chart version;
    the Cilium agent and operator are rolled out; cilium-config has the audit mode and
    Hubble metrics of the config; Prometheus scrapes Hubble; the ingress controller has a
    load-balancer address (with the DNS record to create); Fluentd runs on every node; the
    GitLab agent is ready; no running pod escapes Cilium. --probe also starts a client and a
    server under a deny policy and checks the result (dropped when blocking, logged in audit
    mode). Failed checks exit 1; bad input or an unreachable cluster exit 2.

    \b
    Examples:
      cluster-mgmt verify --env production --junit verify.xml
      cluster-mgmt verify --kube-context kind-dev --probe -o json
    """  # noqa: D301 - click's \\b keeps the example lines unwrapped
    from cluster_mgmt.adapters.project_fs import write_atomic
    from cluster_mgmt.cli import state
    from cluster_mgmt.core.junit import junit_xml
    from cluster_mgmt.errors import ChangesDetected
    from cluster_mgmt.ops.kube_target import kube_client, single_environment
    from cluster_mgmt.ops.probe import Probe
    from cluster_mgmt.ops.project import load_project
    from cluster_mgmt.ops.verify import live_verifier, run_verify

    timeout_s = timeout
    project_dir = state(ctx).project_dir
    project = load_project(project_dir)
    target = kube_target(
        ctx, env=env, kube_context=kube_context, kubeconfig=kubeconfig,
        project_dir=project_dir, project=project,
    )  # fmt: skip
    env_name = target.env or single_environment(project, env)
    kube = kube_client(target, timeout_s)
    kube.server_version()  # unreachable or refused: one line, exit 2, before any check runs
    verifier = live_verifier(project.config, env_name, target, kube, timeout_s)
    expected, prometheus = verifier.expected, verifier.prometheus
    live_probe = None
    if probe:
        live_probe = Probe(
            kube, audit_mode=expected.audit_mode, prometheus=prometheus, image=probe_image
        )
    with _sigterm_as_interrupt():
        report = run_verify(verifier, timeout_s=timeout_s, probe=live_probe)

    if junit is not None:
        suite = f"cluster-mgmt verify {env_name}"
        write_atomic(junit, junit_xml(suite, report.results, f"verify.{env_name}"))
    if fmt == "json":
        echo_json(report.to_json())
    else:
        _print_table(report)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if junit is not None:
        click.echo(f"wrote {junit}", err=True)
    if not report.ok:
        failed = len(report.failures)
        raise ChangesDetected(
            f"verify: {failed} of {len(report.results)} checks failed ({target.describe()})", 1
        )


def _print_table(report: VerifyReport) -> None:
    rows = [(r.name, str(r.status).upper(), r.message) for r in report.results]
    echo_table(("CHECK", "STATUS", "MESSAGE"), rows, title=f"{report.env}: {report.target}")
    for result in report.failures:
        if result.hint:
            click.echo(f"hint ({result.name}): {result.hint}")


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A CI job cancelled with SIGTERM cleans up like Ctrl-C (the probe namespace)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

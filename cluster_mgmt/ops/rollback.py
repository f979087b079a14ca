"""Roll releases back, by hand (``rollback``) or when verify fails after a deploy.

:func:`deploy_with_rollback` is what ``apply --rollback-on-failure`` runs: it records the
current revision of every release, runs the deploy, runs verify; when either fails, every
release whose revision changed goes back to the revision it had before, verify runs again,
and both outcomes are reported. The deploy and verify steps are callables, so ``apply``
passes its own.

Just after helmfile returns the stack may still be settling (a DaemonSet rolling out on the
last node, a Prometheus target not scraped yet): :func:`verify_until_settled` runs the
failed checks again with a backoff until a deadline, and only what still fails then counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeVar

from cluster_mgmt.adapters.helm import HelmReleases, HelmRevision
from cluster_mgmt.core.stack import RELEASES
from cluster_mgmt.errors import ClusterError, UserError


@dataclass(frozen=True, slots=True)
class ReleaseRef:
    """A release by name and namespace."""

    name: str
    namespace: str


def stack_releases(names: Sequence[str] | None = None) -> list[ReleaseRef]:
    """Releases of the stack (all, or the ones named), in install order.

    Raises:
        UserError: a name is not a release of the stack.
    """
    chosen = list(RELEASES) if not names else list(names)
    unknown = [n for n in chosen if n not in RELEASES]
    if unknown:
        raise UserError(f"unknown release {unknown[0]!r}", hint=f"releases: {', '.join(RELEASES)}")
    return [ReleaseRef(n, RELEASES[n].namespace) for n in RELEASES if n in chosen]


class StepOutcome(StrEnum):
    """What happened to one rollback."""

    PLANNED = "planned"
    ROLLED_BACK = "rolled-back"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RollbackStep:
    """One release going from its current revision to an earlier one."""

    release: ReleaseRef
    from_revision: int
    to_revision: int
    from_chart: str
    to_chart: str
    outcome: StepOutcome = StepOutcome.PLANNED
    message: str = ""

    def to_json(self) -> dict[str, object]:
        """The JSON form printed by ``rollback -o json``."""
        return {
            "release": self.release.name,
            "namespace": self.release.namespace,
            "from_revision": self.from_revision,
            "to_revision": self.to_revision,
            "from_chart": self.from_chart,
            "to_chart": self.to_chart,
            "outcome": str(self.outcome),
            "message": self.message,
        }


def _chart(revision: HelmRevision) -> str:
    return f"{revision.chart}-{revision.chart_version}"


def plan_rollback(
    helm: HelmReleases, releases: Sequence[ReleaseRef], to: int | None = None
) -> tuple[list[RollbackStep], list[str]]:
    """One step per installed release: back to ``to``, or to the revision before the current.

    Returns:
        The steps, and notes on releases left alone (not installed).

    Raises:
        UserError: ``to`` is not in the history, or is the current revision; or a release
            has no earlier revision.
    """
    steps: list[RollbackStep] = []
    notes: list[str] = []
    for ref in releases:
        history = helm.history(ref.name, ref.namespace)
        if not history:
            notes.append(f"{ref.name}: not installed in namespace {ref.namespace}")
            continue
        current = history[-1]
        if to is not None:
            target = next((h for h in history if h.revision == to), None)
            if target is None:
                known = ", ".join(str(h.revision) for h in history)
                raise UserError(f"{ref.name} has no revision {to} (revisions: {known})")
            if target.revision == current.revision:
                raise UserError(f"{ref.name} is at revision {to} already")
        else:
            earlier = [h for h in history if h.revision < current.revision]
            if not earlier:
                raise UserError(
                    f"{ref.name} has only revision {current.revision}: nothing to roll back to"
                )
            target = earlier[-1]
        steps.append(
            RollbackStep(ref, current.revision, target.revision, _chart(current), _chart(target))
        )
    return steps, notes


def run_rollback(helm: HelmReleases, steps: Sequence[RollbackStep]) -> list[RollbackStep]:
    """Roll back each step, later releases first (they may depend on earlier ones).

    A failed rollback is reported and the others still run.
    """
    done: list[RollbackStep] = []
    for step in reversed(steps):
        try:
            helm.rollback(step.release.name, step.release.namespace, step.to_revision)
        except ClusterError as exc:
            done.append(_with(step, StepOutcome.FAILED, exc.message))
        else:
            done.append(_with(step, StepOutcome.ROLLED_BACK, ""))
    return list(reversed(done))


def _with(step: RollbackStep, outcome: StepOutcome, message: str) -> RollbackStep:
    return RollbackStep(
        step.release, step.from_revision, step.to_revision, step.from_chart, step.to_chart,
        outcome, message,
    )  # fmt: skip


def snapshot(helm: HelmReleases, releases: Sequence[ReleaseRef]) -> dict[ReleaseRef, int | None]:
    """The current revision of each release (None: not installed)."""
    out: dict[ReleaseRef, int | None] = {}
    for ref in releases:
        history = helm.history(ref.name, ref.namespace)
        out[ref] = history[-1].revision if history else None
    return out


class Verdict(Protocol):
    """What a verify step returns: whether everything passed, and a one-line summary."""

    @property
    def ok(self) -> bool:
        """Every required check passed."""
        ...


V = TypeVar("V", bound=Verdict)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between verify attempts: ``first_s``, doubling, at most ``max_s``."""

    first_s: float = 1.0
    max_s: float = 10.0

    def delays(self) -> Iterator[float]:
        """``first_s``, ``2 * first_s``, … capped at ``max_s``, without end."""
        delay = self.first_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)


def verify_until_settled(
    attempt: Callable[[V | None, float], V],
    timeout_s: float,
    *,
    backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    waiting: Callable[[V, float], None] = lambda _verdict, _delay: None,
) -> V:
    """Verify until it passes or ``timeout_s`` has passed; the last verdict.

    ``attempt(previous, seconds_left)`` runs the checks: all of them first (``previous`` is
    None), then those that failed in ``previous`` (the ones that passed stay passed).
    ``waiting(verdict, delay)`` is told before each wait. Another attempt starts only when
    the wait ends before the deadline, and gets the time left; attempts are also bounded by
    how many backoff steps fit in ``timeout_s``.
    """
    deadline = now() + timeout_s
    verdict = attempt(None, timeout_s)
    max_attempts = math.ceil(timeout_s / backoff.first_s)
    for _, delay in zip(range(max_attempts), backoff.delays(), strict=False):
        if verdict.ok or deadline - now() <= delay:
            break
        waiting(verdict, delay)
        sleep(delay)
        verdict = attempt(verdict, max(deadline - now(), 0.0))
    return verdict


@dataclass(slots=True)
class GuardedDeploy:
    """The outcome of a deploy guarded by verify and rollback.

    Attributes:
        deploy_error: the deploy step's error, if it failed.
        first: verify after the deploy (None when the deploy step failed before verify).
        rolled_back: the rollbacks done (empty when everything passed).
        new_releases: releases the deploy installed; they have no earlier revision to go to.
        second: verify after the rollbacks (None when none was needed).
    """

    deploy_error: str | None
    first: Verdict | None
    rolled_back: list[RollbackStep] = field(default_factory=list)
    new_releases: list[ReleaseRef] = field(default_factory=list)
    second: Verdict | None = None

    @property
    def ok(self) -> bool:
        """The deploy succeeded and verify passed: nothing was rolled back."""
        return self.deploy_error is None and self.first is not None and self.first.ok

    def summary(self) -> list[str]:
        """Both outcomes, for the report."""
        lines = []
        if self.deploy_error:
            lines.append(f"deploy failed: {self.deploy_error}")
        if self.first is not None:
            lines.append(f"verify after deploy: {'passed' if self.first.ok else 'failed'}")
        lines += [
            f"rollback {step.release.name}: revision {step.from_revision} -> "
            f"{step.to_revision} ({step.from_chart} -> {step.to_chart}): {step.outcome}"
            + (f" ({step.message})" if step.message else "")
            for step in self.rolled_back
        ]
        lines += [
            f"{ref.name}: installed by this deploy, no earlier revision; left as is"
            for ref in self.new_releases
        ]
        if self.second is not None:
            lines.append(f"verify after rollback: {'passed' if self.second.ok else 'failed'}")
        return lines


def deploy_with_rollback(
    helm: HelmReleases,
    releases: Sequence[ReleaseRef],
    deploy: Callable[[], None],
    verify: Callable[[], Verdict],
    progress: Callable[[str], None] = lambda _line: None,
    verify_after_rollback: Callable[[Sequence[RollbackStep]], Verdict] | None = None,
) -> GuardedDeploy:
    """Deploy, verify, and on failure roll back every changed release and verify again.

    ``verify_after_rollback`` (default: ``verify``) receives the rollbacks done, so it can
    expect the rolled-back releases at the versions they went back to.
    """
    before = snapshot(helm, releases)
    try:
        deploy()
    except UserError as exc:  # ClusterError and ToolError included
        outcome = GuardedDeploy(deploy_error=exc.message, first=None)
    else:
        outcome = GuardedDeploy(deploy_error=None, first=verify())
    if outcome.ok:
        return outcome
    after = snapshot(helm, releases)
    steps = []
    for ref in releases:
        old, new = before[ref], after[ref]
        if new is None or old == new:
            continue
        if old is None:
            outcome.new_releases.append(ref)
            continue
        history = {h.revision: h for h in helm.history(ref.name, ref.namespace)}
        steps.append(
            RollbackStep(ref, new, old, _chart(history[new]), _chart(history[old]))
            if new in history and old in history
            else RollbackStep(ref, new, old, "?", "?")
        )
    for step in reversed(steps):
        progress(f"rolling back {step.release.name}: revision {step.from_revision} -> "
                 f"{step.to_revision} ({step.to_chart})")  # fmt: skip
    outcome.rolled_back = run_rollback(helm, steps)
    if verify_after_rollback is None:
        outcome.second = verify()
    else:
        outcome.second = verify_after_rollback(outcome.rolled_back)
    return outcome

"""``restart-unmanaged-pods``: recreate the pods Cilium does not manage, through evictions.

Pods are evicted with the Eviction API, so PodDisruptionBudgets are honoured: a refusal
(HTTP 429) is retried later and never turned into a delete. Pods go owner by owner, at most
``max_unavailable`` at a time; the next batch starts when the evicted pods are gone and their
owner has as many ready pods as before. Everything is bounded by one deadline.

``apply`` runs :func:`restart_unmanaged` after Cilium is installed or changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from cluster_mgmt.adapters.kube import EvictionStatus, KubeClient
from cluster_mgmt.core.kube_objects import OwnerRef, Pod
from cluster_mgmt.core.unmanaged import Selection, batches, pod_entry, select_unmanaged
from cluster_mgmt.errors import ClusterError

DEFAULT_TIMEOUT_S = 600.0
# Between two looks at the cluster: evictions refused by a budget, pods still terminating.
POLL_INTERVAL_S = 2.0


class Outcome(StrEnum):
    """What happened to one pod."""

    EVICTED = "evicted"
    GONE = "gone"  # deleted by someone else meanwhile
    BLOCKED = "blocked"  # a PodDisruptionBudget refused it until the deadline
    NOT_REACHED = "not-reached"  # the deadline passed before its batch


@dataclass(frozen=True, slots=True)
class PodResult:
    """One pod and what happened to it."""

    pod: Pod
    outcome: Outcome
    message: str = ""

    def to_json(self) -> dict[str, str | None]:
        """``{"namespace", "name", "owner", "outcome", "message"}``."""
        return {**pod_entry(self.pod), "outcome": str(self.outcome), "message": self.message}


@dataclass(slots=True)
class RestartReport:
    """The pods found, skipped and restarted."""

    selection: Selection
    results: list[PodResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every target pod was evicted (or went away by itself)."""
        return all(r.outcome in (Outcome.EVICTED, Outcome.GONE) for r in self.results)


@dataclass(frozen=True, slots=True)
class Clock:
    """Time and waiting, injectable so tests do not sleep for real."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    interval_s: float = POLL_INTERVAL_S


def find_unmanaged(
    kube: KubeClient, *, namespace: str | None = None, include_bare: bool = False
) -> Selection:
    """The running, non-hostNetwork pods without a CiliumEndpoint (see ``core.unmanaged``)."""
    # Pods first: a pod gets its endpoint before it runs, so listing endpoints second never
    # mistakes a pod started in between for an unmanaged one.
    pods = kube.pods(namespace)
    return select_unmanaged(pods, kube.cilium_endpoints(namespace), include_bare=include_bare)


def restart_unmanaged(
    kube: KubeClient,
    *,
    namespace: str | None = None,
    include_bare: bool = False,
    max_unavailable: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Callable[[str], None] = lambda _line: None,
    clock: Clock | None = None,
) -> RestartReport:
    """Evict every unmanaged pod, owner by owner, ``max_unavailable`` at a time.

    Raises:
        ClusterError: the API refused something other than a budget (RBAC, unreachable).
    """
    clock = clock or Clock()
    deadline = clock.now() + timeout_s
    selection = find_unmanaged(kube, namespace=namespace, include_bare=include_bare)
    report = RestartReport(selection)
    plan = batches(selection.targets, max_unavailable)
    total = len(selection.targets)
    done = 0
    for index, (owner, batch) in enumerate(plan):
        if clock.now() >= deadline:
            for _, rest in plan[index:]:
                report.results += [PodResult(p, Outcome.NOT_REACHED, "deadline") for p in rest]
            break
        before = _ready_of(kube, batch[0].namespace, owner)
        results = _evict_batch(kube, batch, deadline, clock)
        report.results += results
        for result in results:
            done += 1
            progress(f"[{done}/{total}] {result.pod.namespace}/{result.pod.name}"
                     f" ({owner or 'bare pod'}): {result.outcome}"
                     + (f" ({result.message})" if result.message else ""))  # fmt: skip
        evicted = [r.pod for r in results if r.outcome == Outcome.EVICTED]
        if evicted:
            _wait_replaced(kube, evicted, owner, before, deadline, clock)
    return report


def _evict_batch(
    kube: KubeClient, batch: list[Pod], deadline: float, clock: Clock
) -> list[PodResult]:
    pending = list(batch)
    results: dict[tuple[str, str], PodResult] = {}
    refusals: dict[tuple[str, str], str] = {}
    while pending:
        still: list[Pod] = []
        for pod in pending:
            answer = kube.evict(pod.namespace, pod.name)
            if answer.status == EvictionStatus.EVICTED:
                results[pod.key] = PodResult(pod, Outcome.EVICTED)
            elif answer.status == EvictionStatus.GONE:
                results[pod.key] = PodResult(pod, Outcome.GONE, answer.message)
            else:
                refusals[pod.key] = answer.message
                still.append(pod)
        pending = still
        if pending and clock.now() + clock.interval_s >= deadline:
            for pod in pending:
                results[pod.key] = PodResult(pod, Outcome.BLOCKED, refusals[pod.key])
            break
        if pending:
            clock.sleep(clock.interval_s)  # a budget refused: ask again later, never delete
    return [results[p.key] for p in batch]


def _ready_of(kube: KubeClient, namespace: str, owner: OwnerRef | None) -> int:
    if owner is None:
        return 0
    return sum(1 for p in kube.pods(namespace) if p.owner == owner and p.ready)


def _wait_replaced(
    kube: KubeClient,
    evicted: list[Pod],
    owner: OwnerRef | None,
    ready_before: int,
    deadline: float,
    clock: Clock,
) -> None:
    """Until the evicted pods are gone and the owner is back to its ready count (bounded)."""
    while clock.now() < deadline:
        lingering = [
            p for p in evicted if (now := kube.pod(p.namespace, p.name)) and now.uid == p.uid
        ]
        if not lingering and _ready_of(kube, evicted[0].namespace, owner) >= ready_before:
            return
        clock.sleep(clock.interval_s)
    raise ClusterError(
        f"pods of {owner or 'a bare pod'} in {evicted[0].namespace} were not replaced "
        "before the deadline",
        hint="check the workload (kubectl get pods) and run restart-unmanaged-pods again",
    )

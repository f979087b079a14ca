"""``restart-unmanaged-pods``: recreate the pods Cilium does not manage, through evictions.

Pods are evicted with the Eviction API, so PodDisruptionBudgets are honoured: a refusal
(HTTP 429) is retried later and never turned into a delete. Pods go owner by owner, at most
``max_unavailable`` at a time; the next batch starts when the evicted pods are gone and their
owner has as many ready pods as before.

Nothing waits on one workload for long: a batch a budget keeps refusing is asked again
:data:`TRIES_PER_TURN` times, then its owner goes to the back of the queue and the others
go first; it comes back until the deadline, and is then reported ``blocked``, naming the
budgets that cover the pod. Evicted pods whose owner does not bring the ready count back
within ``replace_timeout_s`` are reported ``not-replaced``, and that owner's remaining
pods are left alone (``not-reached``) rather than taking more of it down. Everything is
bounded by one deadline, and the outcome of each pod is reported; nothing raises for them.

``apply`` runs :func:`restart_unmanaged` after Cilium is installed or changed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from cluster_mgmt.adapters.kube import EvictionStatus, KubeClient
from cluster_mgmt.core.kube_objects import OwnerRef, Pod
from cluster_mgmt.core.policy.selectors import SelectorError, parse_selector
from cluster_mgmt.core.unmanaged import Selection, batches, pod_entry, select_unmanaged
from cluster_mgmt.errors import ClusterError

DEFAULT_TIMEOUT_S = 600.0
# How long an owner may take to bring its evicted pods back before they count as not replaced.
DEFAULT_REPLACE_TIMEOUT_S = 180.0
# Between two looks at the cluster: evictions refused by a budget, pods still terminating.
POLL_INTERVAL_S = 2.0
# Eviction attempts of a refused batch before its owner goes to the back of the queue.
TRIES_PER_TURN = 3


class Outcome(StrEnum):
    """What happened to one pod."""

    EVICTED = "evicted"
    GONE = "gone"  # deleted by someone else meanwhile
    BLOCKED = "blocked"  # a PodDisruptionBudget refused it until the deadline
    NOT_REPLACED = "not-replaced"  # evicted, but its owner did not bring it back in time
    NOT_REACHED = "not-reached"  # the deadline passed (or its owner broke) before its batch


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
    def left(self) -> list[PodResult]:
        """The pods not restarted: neither evicted nor gone by themselves."""
        return [r for r in self.results if r.outcome not in (Outcome.EVICTED, Outcome.GONE)]

    @property
    def complete(self) -> bool:
        """Every target pod was evicted (or went away by itself)."""
        return not self.left


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
    replace_timeout_s: float = DEFAULT_REPLACE_TIMEOUT_S,
    progress: Callable[[str], None] = lambda _line: None,
    clock: Clock | None = None,
) -> RestartReport:
    """Evict every unmanaged pod, owner by owner, ``max_unavailable`` at a time.

    Every pod gets an outcome (see the module docstring); :attr:`RestartReport.complete`
    says whether all were restarted.

    Raises:
        ClusterError: the API refused something other than a budget (RBAC, unreachable).
    """
    clock = clock or Clock()
    deadline = clock.now() + timeout_s
    selection = find_unmanaged(kube, namespace=namespace, include_bare=include_bare)
    report = RestartReport(selection)
    queue = deque(batches(selection.targets, max_unavailable))
    outcomes: dict[tuple[str, str], PodResult] = {}
    refused: dict[tuple[str, str], str] = {}  # pod -> why its eviction was last refused
    broken: set[OwnerRef | None] = set()  # owners whose evicted pods did not come back
    total = len(selection.targets)

    def record(result: PodResult) -> None:
        outcomes[result.pod.key] = result
        owner = result.pod.owner
        progress(f"[{len(outcomes)}/{total}] {result.pod.namespace}/{result.pod.name}"
                 f" ({owner or 'bare pod'}): {result.outcome}"
                 + (f" ({result.message})" if result.message else ""))  # fmt: skip

    while queue:
        owner, batch = queue.popleft()
        if owner is not None and owner in broken:
            why = f"left alone: earlier pods of {owner} were not replaced"
            for pod in batch:
                record(PodResult(pod, Outcome.NOT_REACHED, why))
            continue
        if clock.now() >= deadline:
            for pod in batch:
                record(_at_deadline(kube, pod, refused))
            continue
        before = _ready_of(kube, batch[0].namespace, owner)
        done, pending = _evict_batch(kube, batch, deadline, clock, refused)
        evicted = [r.pod for r in done if r.outcome == Outcome.EVICTED]
        if evicted:
            wait_until = min(deadline, clock.now() + replace_timeout_s)
            missing = _wait_replaced(kube, evicted, owner, before, wait_until, clock)
            if missing:
                broken.add(owner)
                done = [
                    PodResult(r.pod, Outcome.NOT_REPLACED, missing) if r.pod in evicted else r
                    for r in done
                ]
        for result in done:
            record(result)
        if pending:
            names = ", ".join(f"{p.namespace}/{p.name}" for p in pending)
            progress(f"{names}: eviction refused ({refused[pending[0].key]}); "
                     "asking again after the other owners")  # fmt: skip
            queue.append((owner, pending))
    report.results = [outcomes[p.key] for p in selection.targets]
    return report


def _at_deadline(kube: KubeClient, pod: Pod, refused: dict[tuple[str, str], str]) -> PodResult:
    """A pod the deadline caught: blocked (naming its budgets) if it was refused, else unreached."""
    if pod.key not in refused:
        return PodResult(pod, Outcome.NOT_REACHED, "deadline")
    budgets = _budgets_of(kube, pod)
    named = (
        "blocked by PodDisruptionBudget " + ", ".join(budgets) if budgets else "blocked"
    ) + f": {refused[pod.key]}"
    return PodResult(pod, Outcome.BLOCKED, named)


def _budgets_of(kube: KubeClient, pod: Pod) -> list[str]:
    """``namespace/name`` of the PodDisruptionBudgets whose selector matches the pod."""
    try:
        items = kube.list_items(f"/apis/policy/v1/namespaces/{pod.namespace}/poddisruptionbudgets")
    except ClusterError:  # not allowed to list them: the API's refusal message stays
        return []
    names = []
    for item in items:
        try:
            selector = parse_selector((item.get("spec") or {}).get("selector"), allow_null=False)
        except SelectorError:
            continue
        # A budget with an empty selector matches every pod of its namespace (policy/v1).
        if selector.matches(pod.labels):
            names.append(f"{pod.namespace}/{item['metadata']['name']}")
    return sorted(names)


def _evict_batch(
    kube: KubeClient,
    batch: list[Pod],
    deadline: float,
    clock: Clock,
    refused: dict[tuple[str, str], str],
) -> tuple[list[PodResult], list[Pod]]:
    """Evict a batch, asking again up to :data:`TRIES_PER_TURN` times; (done, still refused)."""
    pending = list(batch)
    done: list[PodResult] = []
    for _ in range(TRIES_PER_TURN):
        still: list[Pod] = []
        for pod in pending:
            answer = kube.evict(pod.namespace, pod.name)
            if answer.status == EvictionStatus.EVICTED:
                done.append(PodResult(pod, Outcome.EVICTED))
                refused.pop(pod.key, None)
            elif answer.status == EvictionStatus.GONE:
                done.append(PodResult(pod, Outcome.GONE, answer.message))
                refused.pop(pod.key, None)
            else:
                refused[pod.key] = answer.message
                still.append(pod)
        pending = still
        if not pending:
            break
        # A budget refused: ask again later, never delete. Near the deadline, wait it out:
        # the caller then reports the pods as blocked.
        clock.sleep(min(clock.interval_s, max(0.0, deadline - clock.now())))
        if clock.now() >= deadline:
            break
    return done, pending


def _ready_of(kube: KubeClient, namespace: str, owner: OwnerRef | None) -> int:
    if owner is None:
        return 0
    return sum(1 for p in kube.pods(namespace) if p.owner == owner and p.ready)


def _wait_replaced(
    kube: KubeClient,
    evicted: list[Pod],
    owner: OwnerRef | None,
    ready_before: int,
    until: float,
    clock: Clock,
) -> str:
    """Wait until the evicted pods are gone and the owner is back to its ready count.

    Returns "" when it is, else what is missing at ``until``.
    """
    namespace = evicted[0].namespace
    while True:
        lingering = [
            p for p in evicted if (now := kube.pod(p.namespace, p.name)) and now.uid == p.uid
        ]
        ready = _ready_of(kube, namespace, owner)
        if not lingering and ready >= ready_before:
            return ""
        if clock.now() + clock.interval_s >= until:
            break
        clock.sleep(clock.interval_s)
    if lingering:
        return f"evicted, but still terminating: {', '.join(p.name for p in lingering)}"
    return (
        f"evicted, but {owner} in {namespace} has {ready} of {ready_before} pods ready "
        f"(kubectl -n {namespace} get pods,events)"
    )

"""A recording fake of the ``helm`` executable, for orchestration tests.

Every call is appended to a JSON-lines log (argv as received). Answers are real-shaped:
``list -o json`` rows carry the revision as a string, ``history -o json`` as a number, as
helm 3.17 prints them. State lives in a JSON file:

``{"releases": {"NS/NAME": [{"revision", "status", "chart", "app_version", "description",
"updated"}, ...]}, "fail": {"rollback NAME": "message", ...}}``

Flags are checked like helm's own parser does: an unknown flag (such as a mangled
``--disable-openapi-validation``) fails with ``Error: unknown flag``.

With $REAL_HELM set, ``version`` and the commands the fake does not model
(``template``) run the real binary, so ``validate`` works with the fake first on PATH.
Run it through :class:`FakeHelm`, which writes a ``helm`` wrapper script.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

VERSION = "v3.17.2"
GLOBAL_VALUE_FLAGS = {
    "--kubeconfig",
    "--kube-context",
    "--namespace",
    "-n",
    "--kube-apiserver",
    "--kube-token",
}
GLOBAL_BOOL_FLAGS = {"--debug", "--kube-insecure-skip-tls-verify"}
# Flags each subcommand of helm 3.17 accepts (the subset the project may use), value or bool.
VALUE_FLAGS = {
    "version": {"--template"},
    "list": {
        "--max",
        "--output",
        "-o",
        "--filter",
        "--offset",
        "--selector",
        "-l",
        "--time-format",
    },
    "history": {"--max", "--output", "-o"},
    "status": {"--output", "-o", "--revision"},
    "rollback": {"--history-max", "--timeout"},
    "upgrade": {"--version", "--values", "-f", "--timeout", "--history-max", "--output", "-o"},
}
BOOL_FLAGS = {
    "version": {"--short"},
    "list": {
        "--all",
        "-a",
        "--all-namespaces",
        "-A",
        "--deployed",
        "--failed",
        "--pending",
        "--superseded",
        "--uninstalled",
        "--uninstalling",
        "--date",
        "-d",
        "--reverse",
        "-r",
    },  # fmt: skip
    "history": set(),
    "status": {"--show-desc", "--show-resources"},
    "rollback": {
        "--cleanup-on-fail",
        "--dry-run",
        "--force",
        "--no-hooks",
        "--recreate-pods",
        "--wait",
        "--wait-for-jobs",
    },  # fmt: skip
    "upgrade": {
        "--install",
        "-i",
        "--wait",
        "--wait-for-jobs",
        "--atomic",
        "--create-namespace",
        "--cleanup-on-fail",
    },  # fmt: skip
}


def fail(message: str, code: int = 1) -> None:
    sys.stderr.write(f"Error: {message}\n")
    sys.exit(code)


def parse(argv: list[str]) -> tuple[str, list[str], dict[str, Any]]:
    """(subcommand, positional args, flags) with helm's flag checking."""
    if not argv:
        fail("no command")
    command, rest = argv[0], argv[1:]
    if command not in VALUE_FLAGS:
        fail(f'unknown command "{command}" for "helm"')
    value_flags = VALUE_FLAGS[command] | GLOBAL_VALUE_FLAGS
    bool_flags = BOOL_FLAGS[command] | GLOBAL_BOOL_FLAGS
    positional: list[str] = []
    flags: dict[str, Any] = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.partition("=")
            if name in value_flags:
                if not eq:
                    i += 1
                    if i >= len(rest):
                        fail(f"flag needs an argument: {name}")
                    value = rest[i]
                flags[name] = value
            elif name in bool_flags:
                flags[name] = True
            else:
                fail(f"unknown flag: {name}")
        else:
            positional.append(arg)
        i += 1
    arity = {"version": (0, 0), "list": (0, 0), "history": (1, 1), "status": (1, 1),
             "rollback": (1, 2), "upgrade": (2, 2)}[command]  # fmt: skip
    if not arity[0] <= len(positional) <= arity[1]:
        if arity[0] == arity[1]:
            fail(f'"helm {command}" requires {arity[0]} argument{"s" * (arity[0] != 1)}')
        fail(f'"helm {command}" requires at least {arity[0]} and at most {arity[1]} arguments')
    return command, positional, flags


def namespace_of(flags: dict[str, Any]) -> str:
    return str(flags.get("--namespace") or flags.get("-n") or "default")


def list_row(name: str, namespace: str, rev: dict[str, Any]) -> dict[str, Any]:
    day = min(int(rev["revision"]), 9)
    return {
        "name": name,
        "namespace": namespace,
        "revision": str(rev["revision"]),
        "updated": f"2026-01-0{day} 10:00:00.000000000 +0000 UTC",
        "status": rev["status"],
        "chart": rev["chart"],
        "app_version": rev.get("app_version", ""),
    }


def history_row(rev: dict[str, Any]) -> dict[str, Any]:
    day = min(int(rev["revision"]), 9)
    return {
        "revision": int(rev["revision"]),
        "updated": f"2026-01-0{day}T10:00:00Z",
        "status": rev["status"],
        "chart": rev["chart"],
        "app_version": rev.get("app_version", ""),
        "description": rev.get("description", ""),
    }


def main() -> None:
    state_path = Path(os.environ["FAKE_HELM_STATE"])
    log_path = Path(os.environ["FAKE_HELM_LOG"])
    argv = sys.argv[1:]
    with log_path.open("a") as log:
        log.write(json.dumps(argv) + "\n")
    real = os.environ.get("REAL_HELM")
    # Offline work the fake does not model (validate's helmfile build: `version --client`,
    # `template`): the real binary, when one is given.
    if real and (not argv or argv[0] not in VALUE_FLAGS or argv[0] == "version"):
        os.execv(real, [real, *argv])
    command, args, flags = parse(argv)
    state = json.loads(state_path.read_text())
    releases: dict[str, list[dict[str, Any]]] = state.setdefault("releases", {})
    failure = state.get("fail", {}).get(f"{command} {args[0] if args else ''}".strip())

    if command == "version":
        sys.stdout.write(
            VERSION
            if flags.get("--template") == "{{ .Version }}"
            else f'version.BuildInfo{{Version:"{VERSION}"}}\n'
        )
        return
    if failure:
        fail(failure)
    if command == "list":
        statuses = {
            s
            for s in ("deployed", "failed", "pending", "superseded", "uninstalled", "uninstalling")
            if flags.get(f"--{s}")
        }
        rows = []
        for key, revisions in sorted(releases.items()):
            ns, name = key.split("/")
            if not (flags.get("--all-namespaces") or flags.get("-A")) and ns != namespace_of(flags):
                continue
            current = revisions[-1]
            if not (flags.get("--all") or flags.get("-a")) and current["status"] not in (
                statuses
                or {"deployed", "failed", "pending-install", "pending-upgrade", "pending-rollback"}
            ):
                continue
            rows.append(list_row(name, ns, current))
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    name = args[0] if args else fail("release name required")
    key = f"{namespace_of(flags)}/{name}"
    revisions = releases.get(key)
    if command == "upgrade":
        chart_name = args[1].rsplit("/", 1)[-1]
        version = flags.get("--version") or "0.0.0"
        if revisions is None and not (flags.get("--install") or flags.get("-i")):
            fail(f'"{name}" has no deployed releases')
        revisions = releases.setdefault(key, [])
        for rev in revisions:
            if rev["status"] == "deployed":
                rev["status"] = "superseded"
        description = "Upgrade complete" if revisions else "Install complete"
        revisions.append(
            {
                "revision": len(revisions) + 1,
                "status": "deployed",
                "chart": f"{chart_name}-{version}",
                "app_version": version,
                "description": description,
            }
        )
        state_path.write_text(json.dumps(state))
        sys.stdout.write(f'Release "{name}" has been upgraded. Happy Helming!\n')
        return
    if not revisions:
        fail("release: not found")
    if command == "history":
        sys.stdout.write(json.dumps([history_row(r) for r in revisions]) + "\n")
    elif command == "status":
        current = revisions[-1]
        sys.stdout.write(json.dumps({
            "name": name, "namespace": namespace_of(flags), "version": int(current["revision"]),
            "info": {"status": current["status"], "description": current.get("description", "")},
        }) + "\n")  # fmt: skip
    elif command == "rollback":
        target = int(args[1]) if len(args) > 1 else int(revisions[-1]["revision"]) - 1
        old = next((r for r in revisions if int(r["revision"]) == target), None)
        if old is None:
            fail(f"release has no {target} version")
        for rev in revisions:
            if rev["status"] == "deployed":
                rev["status"] = "superseded"
        revisions.append({
            "revision": int(revisions[-1]["revision"]) + 1, "status": "deployed",
            "chart": old["chart"], "app_version": old.get("app_version", ""),
            "description": f"Rollback to {target}",
        })  # fmt: skip
        state_path.write_text(json.dumps(state))
        sys.stdout.write("Rollback was a success! Happy Helming!\n")


class FakeHelm:
    """A fake ``helm`` executable in a directory, its state and its call log."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.state_path = directory / "helm-state.json"
        self.log_path = directory / "helm-calls.jsonl"
        self.binary = directory / "helm"
        self.state_path.write_text(json.dumps({"releases": {}, "fail": {}}))
        self.log_path.write_text("")
        self.binary.write_text(
            "#!/bin/sh\n"
            f"FAKE_HELM_STATE='{self.state_path}' FAKE_HELM_LOG='{self.log_path}' "
            f"exec '{sys.executable}' '{Path(__file__).resolve()}' \"$@\"\n"
        )
        self.binary.chmod(0o755)

    def set_release(self, namespace: str, name: str, *revisions: tuple[str, str, str]) -> None:
        """A release's history: ``(chart-version, status, description)`` per revision."""
        state = json.loads(self.state_path.read_text())
        state["releases"][f"{namespace}/{name}"] = [
            {"revision": i + 1, "chart": chart, "app_version": chart.rsplit("-", 1)[-1],
             "status": status, "description": description}
            for i, (chart, status, description) in enumerate(revisions)
        ]  # fmt: skip
        self.state_path.write_text(json.dumps(state))

    def fail_on(self, command: str, message: str) -> None:
        """Make ``helm COMMAND`` (e.g. ``rollback cilium``) exit 1 with ``Error: message``."""
        state = json.loads(self.state_path.read_text())
        state["fail"][command] = message
        self.state_path.write_text(json.dumps(state))

    def revisions(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return list(
            json.loads(self.state_path.read_text())["releases"].get(f"{namespace}/{name}", [])
        )

    def calls(self) -> list[list[str]]:
        """argv of every call so far (without the executable)."""
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]


if __name__ == "__main__":
    main()

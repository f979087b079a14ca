"""JUnit XML for ``verify`` results, in the shape GitLab's test report parser reads. Pure.

One ``testsuite`` with a ``testcase`` per check; a failing check has a ``failure`` element
(message attribute + the hint as text), a check that does not apply has ``skipped``.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

from cluster_mgmt.core.verify import CheckResult, CheckStatus


def junit_xml(suite: str, results: Sequence[CheckResult], classname: str) -> str:
    """The XML document (UTF-8 declaration included) for ``results``."""
    return junit_suites_xml([(suite, results, classname)])


def junit_suites_xml(suites: Sequence[tuple[str, Sequence[CheckResult], str]]) -> str:
    """One document with a ``testsuite`` per ``(name, results, classname)``, in order.

    ``apply --rollback-on-failure`` writes two: verify after the deploy, and after the
    rollback.
    """
    every = [r for _, results, _ in suites for r in results]
    root = ET.Element("testsuites", name="cluster-mgmt", tests=str(len(every)))
    root.set("failures", str(sum(r.status == CheckStatus.FAIL for r in every)))
    root.set("time", f"{sum(r.seconds for r in every):.3f}")
    for suite, results, classname in suites:
        _suite(root, suite, results, classname)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, suite: str, results: Sequence[CheckResult], classname: str) -> None:
    failures = sum(r.status == CheckStatus.FAIL for r in results)
    skips = sum(r.status == CheckStatus.SKIP for r in results)
    total = sum(r.seconds for r in results)
    testsuite = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        skipped=str(skips),
        time=f"{total:.3f}",
    )
    for result in results:
        case = ET.SubElement(
            testsuite,
            "testcase",
            classname=classname,
            name=result.name,
            time=f"{result.seconds:.3f}",
        )
        if result.status == CheckStatus.FAIL:
            failure = ET.SubElement(case, "failure", message=result.message, type="CheckFailed")
            failure.text = result.message + (f"\nhint: {result.hint}" if result.hint else "")
        elif result.status == CheckStatus.SKIP:
            ET.SubElement(case, "skipped", message=result.message)
        else:
            ET.SubElement(case, "system-out").text = result.message

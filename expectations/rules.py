"""Building blocks shared by the suites: every expectation reads one column of a one-row
aggregate frame and carries, in `meta`, a stable `id` (used by `quality.severity` to turn a
rule into a warning or a failure), the sentence shown to the person on call, its default
severity and `fix`: what to change when the data is right and the rule is not (the error
line names the knob, as the gate's refusals do).
"""

from __future__ import annotations

from typing import Literal

import great_expectations.expectations as gxe

Severity = Literal["warn", "fail"]


def _meta(rule_id: str, rule: str, severity: Severity, fix: str) -> dict:
    return {"id": rule_id, "rule": rule, "severity": severity, "fix": fix}


def at_most(
    rule_id: str,
    column: str,
    value: float,
    rule: str,
    severity: Severity = "fail",
    fix: str = "",
) -> gxe.Expectation:
    """Expect the aggregate `column` to be <= `value`."""
    return gxe.ExpectColumnMaxToBeBetween(
        column=column, max_value=value, meta=_meta(rule_id, rule, severity, fix)
    )


def at_least(
    rule_id: str,
    column: str,
    value: float,
    rule: str,
    severity: Severity = "fail",
    fix: str = "",
) -> gxe.Expectation:
    """Expect the aggregate `column` to be >= `value`."""
    return gxe.ExpectColumnMinToBeBetween(
        column=column, min_value=value, meta=_meta(rule_id, rule, severity, fix)
    )

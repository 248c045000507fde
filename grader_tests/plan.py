"""The plan a kernel gets: for each check of an assignment, the variables its hidden test cell hands
over and what it computes there with the student's code, as data (JSON). The sandbox writes it into
the kernel's folder ($GRADER_PLAN): the catalogue, the specs and the checks stay outside."""

from __future__ import annotations

from .assignments import ASSIGNMENTS


def plan(assignment_id: str) -> dict:
    """{check: {"reads": [variable, ...], "collect": {...} or None}} of the assignment."""
    assignment = ASSIGNMENTS[assignment_id]
    return {name: {"reads": list(check.reads(assignment)), "collect": check.collect(assignment) if check.collect else None}
            for name, check in assignment.checks.items()}

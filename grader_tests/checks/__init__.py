"""The checks, one module per family of assignment. Each check is `function(assignment, namespace)`:
it reads the student's variables from `namespace` and raises `Mismatch` with the explanation when
the answer is wrong. The catalogue (`grader_tests.assignments`) says which assignment runs which."""

from typing import NamedTuple


class Check(NamedTuple):
    title: str      # what the student reads: "<title>: passed" or "<title> failed: ..."
    function: object
    reads: object = lambda assignment: ("model",)  # assignment -> the variables the check reads
    collect: object = None  # assignment -> what the kernel computes for the check with the student's code
    #                        (data: grader_tests.kernel.hand_over.collected runs it)

"""The fresh process's entry point: ``python -m grader_tests.measure MEASUREMENT [ASSIGNMENT [ARGS]]``
prints the measurement as one JSON line (see `fresh.run`)."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ..assignments import ASSIGNMENTS  # noqa: E402
from . import arima_reference, exploration_reference, model_mape  # noqa: E402


def main(measurement: str, *args: str) -> dict:
    if measurement == "model_mape":
        assignment_id, model_path = args
        return model_mape.measure(ASSIGNMENTS[assignment_id].spec, model_path)
    if measurement == "arima_reference":
        (assignment_id,) = args
        return arima_reference.reference(ASSIGNMENTS[assignment_id].spec)
    if measurement == "exploration_reference":
        return exploration_reference.expected()
    raise SystemExit(f"unknown measurement {measurement!r}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))

"""Measure the test MAPE distributions the pass marks are chosen from (instructor/calibration/).

    python -m instructor calibrate [--seeds 20 --correct-seeds 5 --mistake-seeds 3] [--assignment ID ...]
    python -m instructor calibrate --summary instructor/calibration/measured.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import calibration


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor calibrate", description=calibration.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=calibration.MEASURED)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--correct-seeds", type=int, default=5, help="seeds for other correct styles")
    parser.add_argument("--mistake-seeds", type=int, default=3)
    parser.add_argument("--assignment", action="append", choices=list(calibration.CALIBRATED))
    parser.add_argument("--summary", type=Path, help="print the table of a results file and stop")
    args = parser.parse_args(argv)
    if args.summary:
        print(calibration.summary(args.summary) + "\n\n" + calibration.margins(args.summary))
        return 0
    calibration.calibrate(args.out, args.seeds, args.correct_seeds, args.mistake_seeds,
                          args.assignment or list(calibration.CALIBRATED))
    print(calibration.summary(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

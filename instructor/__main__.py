"""The instructor's commands: ``python -m instructor grade ...`` (instructor/grade.py) and
``python -m instructor report ...`` (instructor/report.py)."""

import sys

COMMANDS = {"grade": "instructor.grade", "report": "instructor.report"}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m instructor {{{','.join(COMMANDS)}}} ... (--help after a command for its options)",
              file=sys.stderr)
        return 2
    import importlib

    command = sys.argv.pop(1)
    return importlib.import_module(COMMANDS[command]).main() or 0


if __name__ == "__main__":
    sys.exit(main())

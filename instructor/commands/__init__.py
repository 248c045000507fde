"""The instructor's commands, one per file, behind one entry point: ``python -m instructor <command>``.

Standard library only here: `system-packages` runs with the system's python3 before anything is installed.
"""

# command -> (module, what it does); each module has main(argv) -> exit status
COMMANDS = {
    "grade": ("instructor.commands.grade", "grade a class in parallel on Dask, with a class report per assignment"),
    "report": ("instructor.commands.report", "write the class report of one assignment (reports/<assignment>/)"),
    "release": ("instructor.commands.release", "generate release/ and solutions/ from source/, and the student library"),
    "exchange": ("instructor.commands.exchange", "make the exchange folder and write the students' nbgrader configuration"),
    "hub": ("instructor.commands.hub", "run the course on this machine's JupyterHub (as root), accounts from a roster"),
    "demo": ("instructor.commands.demo", "the whole cycle on a demo class: release, submissions, grading, feedback, grades"),
    "benchmark": ("instructor.commands.benchmark", "what grading costs: seconds per submission, speed-up with workers"),
    "calibrate": ("instructor.commands.calibrate", "measure the MAPE distributions the pass marks come from"),
    "system-packages": ("instructor.commands.system_packages",
                        "check (as root on Debian: install) what grading or the tests need from the system"),
}

"""What the tests expect of the attack submissions (instructor/submissions.py): what each attack prints
when the sandbox stops it, and the rows the integrity report lists for it."""

from instructor.submissions import ATTACK_PORT

# What each attack prints when the sandbox stops it (the fork loop's kernel dies of its own loop).
REFUSED = {"rewrites_the_kit": "ATTACK kit refused", "rewrites_the_data": "ATTACK data refused",
           "reads_the_kit": "ATTACK specs hidden: ModuleNotFoundError",
           "reads_the_course": "ATTACK readable: nothing", "phones_home": "ATTACK network refused",
           "memory_hog": "ATTACK memory refused"}
# What the integrity report (integrity.csv) lists for each submission of the GRU quiz's class that
# tries something: (event, a part of its detail). Every other student of the class has no row.
REPORTED = {
    "rewrites_the_kit": [("write denied", "grader_tests/__init__.py")],
    "rewrites_the_data": [("write denied", "energy.csv")],
    "phones_home": [("connection denied", f"('127.0.0.1', {ATTACK_PORT})")],
    "fork_loop": [("many processes", "processes started"), ("kernel died", "process limit")],
    "endless_cell": [("time limit", "stopped after")],
    "kernel_killer": [("kernel died", "its own exit")],
    "replaces_the_kit_module": [("verdict overruled", f"{test}: the kernel showed passed, the grader's verdict: failed")
                                for test in ("test_hyperparameters", "test_shapes", "test_layers", "test_mape")],
    "forges_passed": [("verdict overruled", "test_layers: the kernel showed passed, the grader's verdict: failed")],
    "swaps_the_model": [("model changed", "test_mape: the test cells were handed 2 different models")],
    "trains_one_epoch": [("hand-over disagrees", "test_hyperparameters: the model handed over has 731 optimizer steps")],
    "forges_the_report": [("unchecked report", "3 line(s) of the kernel's own report")],
}

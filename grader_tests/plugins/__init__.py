"""What runs in nbgrader's own process, plugged in by nbgrader_config.py: the sandbox every kernel of a
student's notebook runs in and the notebook-wide limits (`sandbox`, `limits`), the verdicts given to
the test cells (`outside`), the integrity report (`integrity`), and the reading of submitted files
(`unreadable`)."""

"""The instructor's tools: commands (commands/, run as ``python -m instructor <command>``), what
nbgrader_config.py plugs into nbgrader (nbgrader_plugins/), and the library they share: the nbgrader
cycle (classroom), a class graded on Dask (grading), the class report (class_report), the gradebook's
students (gradebook), the known submissions (submissions) and the pass-mark calibration (calibration/)."""

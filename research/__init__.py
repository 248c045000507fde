"""Research tools, apart from the course: the model families at any horizon (`experiments`), the
hyperparameter search on Dask (`search`) and the tutorial's results table (`results`). They need
the `research` extra (Dask); students never do."""

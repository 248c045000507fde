"""What the grader computes in a fresh Python process, out of the student's kernel (where answer
cells may have patched anything): a model's test MAPE, the ARIMA lab's reference forecasts, the
data lab's reference values. Each module runs as ``python -m grader_tests.measure.<module>`` and
prints one JSON line; `fresh` starts it."""

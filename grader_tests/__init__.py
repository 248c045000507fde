"""Grading kit and tests of the tests for the RNN forecasting course (instructors only)."""

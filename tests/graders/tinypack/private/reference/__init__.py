"""Tiny scaffold for grader tests."""

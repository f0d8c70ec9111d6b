"""Tests of the LLM backends (a package, so its conftest does not clash with tests/conftest.py)."""

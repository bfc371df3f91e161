"""Test helpers shared by several test modules: real local servers and builders.
Fixtures that wrap them live in tests/conftest.py."""

"""ASGI apps the benchmark serves; every server under comparison runs the same module."""

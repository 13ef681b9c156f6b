"""Scheduler adapters: render batch scripts, build commands, parse their output (pure)."""

"""The faces: jobledger's own verbs and those of the tools its users come from.

Each face is a subpackage, loaded on first access (``jobledger.api.hpcrunner``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads it so)
if TYPE_CHECKING:
    from types import ModuleType
del TYPE_CHECKING


def __getattr__(name: str) -> ModuleType:
    """Import a face (``jobledger.api.awflow``...) when first named as an attribute."""
    if not name.startswith("_"):
        import importlib

        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

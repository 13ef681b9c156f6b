"""What this machine offers hpc-runner: whose ``qsub`` is on the PATH, and the implicit
jobledger host standing for a scheduler whose commands are here."""

from __future__ import annotations

import os
import shutil

from jobledger.config import implicit_host


def qsub_flavour() -> str | None:
    """Whose ``qsub`` is on this machine's PATH: ``sge``, ``pbs``, ``torque`` (``None``
    without one); asks ``qstat`` how it introduces itself."""
    from jobledger.hosts.local import LocalHost
    from jobledger.schedulers.detect import PROBE, available_from

    if shutil.which("qsub") is None:
        return None
    if os.environ.get("SGE_ROOT"):
        return "sge"
    # this process's PATH as it is now (plumbum's environment is a copy taken at import)
    probe = LocalHost().run(["sh", "-c", PROBE], env={"PATH": os.environ.get("PATH", "")})
    found = [n for n in available_from(probe.stdout + probe.stderr) if n in ("sge", "pbs", "torque")]
    if found and found[0] == "sge":
        return "sge"
    if os.environ.get("PBS_CONF_FILE"):
        return "pbs"
    return found[0] if found else "pbs"


def implicit_alias(name: str) -> tuple[str | None, str | None]:
    """``(alias, None)`` of the implicit host for scheduler ``name`` on this machine, or
    ``(None, why)`` (``why`` is ``None`` when its commands are simply not on the PATH).
    A ``qsub`` is checked to be that scheduler's (``pbs`` on a Torque machine is ``torque``)."""
    if implicit_host(name) is None:
        return None, None
    if name not in ("sge", "pbs", "torque"):
        return name, None
    flavour = qsub_flavour()
    if flavour in ("pbs", "torque") and name in ("pbs", "torque"):
        return flavour, None
    if flavour == name:
        return name, None
    return None, f"the qsub on this machine's PATH belongs to {flavour}, not {name}"

"""Which batch system a host runs: ``sbatch`` -> SLURM, ``qsub`` -> PBS or SGE (told
apart by ``qstat -help`` / ``qstat --version``), ``bsub`` -> LSF, else local."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jobledger.schedulers.registry import get_adapter

if TYPE_CHECKING:
    from jobledger.config import HostConfig
    from jobledger.hosts.base import Host
    from jobledger.schedulers.base import SchedulerAdapter, Template

#: The probe: one shell command reporting which commands exist and how qstat introduces itself.
PROBE = (
    "for c in sbatch qsub bsub; do command -v $c >/dev/null 2>&1 && echo have=$c; done; "
    "command -v qstat >/dev/null 2>&1 && { qstat -help 2>&1 | head -n 2; "
    "qstat --version 2>&1 | head -n 2; } ; true"
)


def classify(probe_output: str) -> str:
    """Scheduler name from :data:`PROBE` output (pure): the first of :func:`available`."""
    found = available_from(probe_output)
    return found[0] if found else "local"


def available_from(probe_output: str) -> list[str]:
    """Every scheduler whose commands :data:`PROBE` found (pure), SLURM first."""
    have = set(re.findall(r"^have=(\w+)", probe_output, flags=re.MULTILINE))
    out = []
    if "sbatch" in have:
        out.append("slurm")
    if "qsub" in have:
        out.append(_qsub_flavour(probe_output.lower()))
    if "bsub" in have:
        out.append("lsf")
    return out


def _qsub_flavour(text: str) -> str:
    """Which batch system a ``qsub`` belongs to, from how ``qstat`` introduces itself."""
    if (
        re.search(
            r"^(sge|son of grid engine|ge|ogs/ge|univa grid engine|altair grid engine)\b",
            text,
            re.MULTILINE,
        )
        or "grid engine" in text
    ):
        return "sge"
    if "pbs_version" in text or "openpbs" in text or "pbs pro" in text or "pbspro" in text:
        return "pbs"
    if re.search(r"^version:\s*\d", text, re.MULTILINE) or "torque" in text:
        return "torque"
    return "pbs"


def available(host: Host) -> list[str]:
    """Every scheduler whose commands are on ``host``'s PATH (``HPC_SCHEDULER`` adds one)."""
    result = host.run(["sh", "-c", PROBE], timeout=60)
    found = available_from(result.stdout + result.stderr)
    forced = os.environ.get("HPC_SCHEDULER") if host.is_local else None
    return [forced.lower(), *found] if forced else found


def detect_scheduler(host: Host) -> str:
    """Run the probe on ``host`` and classify it (``HPC_SCHEDULER`` overrides locally)."""
    forced = os.environ.get("HPC_SCHEDULER") if host.is_local else None
    if forced:
        return forced.lower()
    result = host.run(["sh", "-c", PROBE], timeout=60)
    return classify(result.stdout + result.stderr)


def resolve_adapter(
    config: HostConfig,
    host: Host,
    template: Template | None,
    scheduler_settings: Mapping[str, Mapping[str, Any]],
) -> SchedulerAdapter:
    """The adapter for a configured host, detecting the scheduler when it says ``auto``."""
    from jobledger.errors import ConfigError

    name = config.scheduler
    if name == "auto":
        name = detect_scheduler(host)
        if name == "local":
            raise ConfigError(
                f"host {config.name!r}: no batch scheduler found (no sbatch, qsub or bsub on "
                'its PATH); set scheduler = "..." in its [hosts] table'
            )
    settings = dict(scheduler_settings.get(name, {}))
    if config.parallel_environment:
        settings["parallel_environment"] = config.parallel_environment
    return get_adapter(name, template, **settings)

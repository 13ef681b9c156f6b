"""From an hpc-runner :class:`~.job.Job` to the jobledger :class:`~jobledger.Job` it runs as.

- ``cpu``, ``mem``, ``time``, ``queue``, ``nodes``, ``tasks`` become jobledger's resources
  (``cpus``, ``memory``, ``time``, ``partition``, ``nodes`` and MPI ``tasks``);
- ``raw_args`` go to every batch system, ``sge_args``/``slurm_args``/``pbs_args`` to theirs
  (hpc-runner's word lists, ``["-l", "scratch=10G"]``, become one directive per flag);
  the :class:`ResourceSet` is spelled for each batch system;
- ``modules_path``/``modules_path_append`` become ``module use`` lines, an explicit
  ``venv`` its activation, ``env_prepend``/``env_append`` ``export`` lines, all before the
  modules are loaded; ``env_vars`` become the job's environment;
- ``dependencies`` on earlier results become :class:`~jobledger.model.job.JobRef`
  dependencies (nothing of the upstream job is defined again), on Jobs not yet submitted
  ordinary dependencies (they are submitted with it);
- ``inherit_env`` (the default) passes the submitting environment on where the batch
  system does not by itself (``-V`` on SGE, PBS and Torque; SLURM and LSF do); it,
  ``shell``, ``use_cwd``, ``priority`` and the preset used go into the job's metadata.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobledger.api.hpcrunner.keywords import env_setup
from jobledger.api.hpcrunner.resources import scheduler_spellings
from jobledger.errors import ModelError
from jobledger.model.job import Dependency, JobRef, normalize_kind
from jobledger.model.job import Job as LedgerJob

if TYPE_CHECKING:
    from jobledger.api.hpcrunner.job import Job


def directives(words: Sequence[str]) -> list[str]:
    """hpc-runner's argument words as directives: each word starting with ``-`` begins one,
    the words after it are its values (``["-l", "a=1", "-q", "x"]`` -> ``["-l a=1", "-q x"]``)."""
    out: list[str] = []
    for word in words:
        if word.startswith("-") or not out:
            out.append(word)
        else:
            out[-1] = f"{out[-1]} {word}"
    return out


def dependency_kind(value: Any, where: str) -> str:
    """``afterok``, ``afterany`` or ``afternotok`` from a string or a ``DependencyType``."""
    text = value.value if isinstance(value, enum.Enum) else value
    try:
        return normalize_kind(str(text))
    except ModelError as exc:
        raise ModelError(f"{where}: dependency_type: {exc}") from None


def ledger_job(job: Job, *, built: dict[int, LedgerJob] | None = None, **changes: Any) -> LedgerJob:
    """The jobledger Job for ``job`` (``changes``: jobledger keywords that win)."""
    where = f"job {job.name!r}"
    if job.dependency:
        raise ModelError(
            f"{where}: raw scheduler dependency strings ({job.dependency!r}) are not supported; "
            "use job.dependencies = [result] or job.after(result)"
        )
    built = {} if built is None else built
    kind = dependency_kind(job.dependency_type, where)
    extra = dict(job.extra)
    kwargs: dict[str, Any] = {
        "command": job.command,
        "name": job.name,
        "after": [Dependency(_upstream(d, built, where), kind) for d in job.dependencies],
        "env": dict(job.env_vars),
        "workdir": job.workdir,
        "stdout": job.stdout,
        "stderr": job.stderr,
        "modules": list(job.modules),
        "setup": [*_setup(job, where), *_listed(extra.pop("setup", ()))],
        "scheduler_args": _scheduler_args(job, extra),
        "metadata": {**_metadata(job), **dict(extra.pop("metadata", None) or {})},
    }
    if job.host is not None:
        kwargs["host"] = job.host
    resources = {
        "cpus": job.cpu,
        "memory": job.mem,
        "time": job.time,
        "partition": job.queue,
        "nodes": job.nodes,
        "ntasks": job.tasks,
    }
    kwargs.update({k: v for k, v in resources.items() if v is not None})
    if job.raw_args:
        kwargs["raw_args"] = directives(job.raw_args)
    kwargs.update(extra)
    kwargs.update(changes)
    return LedgerJob(**kwargs)


def _upstream(target: Any, built: dict[int, LedgerJob], where: str) -> LedgerJob | JobRef | str:
    ref = getattr(target, "ledger_ref", None)
    if callable(ref):
        found = ref()
        if isinstance(found, JobRef):
            return found
    if getattr(target, "is_hpcrunner_job", False):
        if id(target) not in built:
            built[id(target)] = ledger_job(target, built=built)
        return built[id(target)]
    if isinstance(target, (LedgerJob, JobRef, str)):
        return target
    raise ModelError(f"{where}: dependency {target!r} is not a JobResult, a Job or a job name")


def _setup(job: Job, where: str) -> list[str]:
    lines = [f"module use {shlex.quote(p)}" for p in job.modules_path]
    lines += [f"module use --append {shlex.quote(p)}" for p in job.modules_path_append]
    if job.venv and job.venv != job._auto_venv:
        lines.append(f"source {shlex.quote(str(job.venv))}/bin/activate")
    lines += env_setup(job.env_prepend, job.env_append, where)
    return lines


def _scheduler_args(job: Job, extra: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {k: list(v) for k, v in dict(extra.pop("scheduler_args", None) or {}).items()}
    for name, words in (("sge", job.sge_args), ("slurm", job.slurm_args), ("pbs", job.pbs_args)):
        if words:
            out[name] = [*out.get(name, []), *directives(words)]
    for key in ("lsf_args", "torque_args", "local_args"):
        if key in extra:
            name = key[: -len("_args")]
            out[name] = [*out.get(name, []), *_listed(extra.pop(key))]
    for name, lines in scheduler_spellings(job.resources).items():
        out[name] = [*out.get(name, []), *lines]
    if "pbs" in out and "torque" not in out:
        out["torque"] = list(out["pbs"])  # Torque hosts read pbs_args too
    if job.inherit_env:  # hpc-runner's default: the job sees the submitting environment
        for name in ("sge", "pbs", "torque"):
            out[name] = ["-V", *out.get(name, [])]
    return out


def _metadata(job: Job) -> dict[str, Any]:
    meta: dict[str, Any] = {"inherit_env": job.inherit_env}
    if job.shell != "/bin/bash":
        meta["shell"] = job.shell
    if not job.use_cwd:
        meta["use_cwd"] = False
    if job.priority is not None:
        meta["priority"] = job.priority
    if job.modules_path:
        meta["modules_path"] = list(job.modules_path)
    if job.job_type:
        meta["config_preset"] = job.job_type
    return meta


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or ())

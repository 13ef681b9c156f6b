"""hpc-runner's :class:`Job`: a mutable description of one command, which produces a
jobledger :class:`~jobledger.Job` when it is submitted.

Construction merges, as hpc-runner does: ``[defaults]``, then ``[types.<job_type>]`` when
``job_type=`` is given, else the ``[tools.*]`` named by the command's first word, then the
keywords given. For list and table fields an empty value leaves the configuration's value
(an empty list is hpc-runner 0.1's default); ``extra_modules`` (and ``extra_modules_path``,
``extra_modules_path_append``) append. ``$VAR`` in ``env_vars``/``env_prepend``/
``env_append`` values is expanded now (left as written when unset); in module names and
paths an unset or empty variable is a :class:`~jobledger.errors.ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jobledger.api.hpcrunner import config as _config
from jobledger.api.hpcrunner.config_files import command_words
from jobledger.api.hpcrunner.convert import ledger_job
from jobledger.api.hpcrunner.job_values import (
    command_label,
    command_value,
    expand_module_list,
    expanded_table,
    is_given,
    text_path,
)
from jobledger.api.hpcrunner.keywords import ARGS, EXTRA_LISTS, MAPPINGS, MODULE_LISTS, split_keys
from jobledger.api.hpcrunner.resources import ResourceSet
from jobledger.api.hpcrunner.submission import submit_job
from jobledger.errors import ConfigError, ModelError
from jobledger.model.job import Job as LedgerJob
from jobledger.model.names import safe_name

_LIST_FIELDS = (*MODULE_LISTS, *ARGS)


class Job:
    """hpc-runner's job: ``Job("python train.py", cpu=4, mem="16G", time="4:00:00")``.

    Attributes can be read and set until the job is submitted: ``command``, ``name``,
    ``cpu``, ``mem``, ``time``, ``queue``, ``priority``, ``nodes`` and ``tasks`` (MPI
    nodes and ranks), ``stdout``, ``stderr`` (``None``, the default, merges stderr into
    stdout), ``workdir``, ``modules`` (a list), ``modules_path``, ``modules_path_append``,
    ``env_vars``, ``env_prepend``, ``env_append``, ``venv``, ``resources``
    (a :class:`ResourceSet`), ``raw_args``, ``sge_args``, ``slurm_args``, ``pbs_args``,
    ``dependencies`` (earlier :class:`JobResult` objects), ``dependency_type``, and
    jobledger's ``host``. jobledger's other job keywords (``gpus``, ``setup``, ``python``,
    ``retries`` ...) are accepted and kept in :attr:`extra`. :meth:`to_job` gives the
    jobledger :class:`~jobledger.Job` the job is run as.
    """

    #: Lets the modules below this one tell an hpc-runner job without importing it.
    is_hpcrunner_job = True

    def __init__(
        self,
        command: str | Sequence[str] | Callable[[], Any],
        name: str | None = None,
        *,
        job_type: str | None = None,
        cpu: int | None = None,
        mem: str | None = None,
        time: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        nodes: int | None = None,
        tasks: int | None = None,
        stdout: str | os.PathLike[str] | None = None,
        stderr: str | os.PathLike[str] | None = None,
        inherit_env: bool | None = None,
        workdir: str | os.PathLike[str] | None = None,
        shell: str | None = None,
        use_cwd: bool | None = None,
        venv: str | None = None,
        env_vars: Mapping[str, Any] | None = None,
        env_prepend: Mapping[str, Any] | None = None,
        env_append: Mapping[str, Any] | None = None,
        modules: Sequence[str] | None = None,
        modules_path: Sequence[str] | None = None,
        modules_path_append: Sequence[str] | None = None,
        extra_modules: Sequence[str] | None = None,
        extra_modules_path: Sequence[str] | None = None,
        extra_modules_path_append: Sequence[str] | None = None,
        resources: ResourceSet | Sequence[Any] | Mapping[str, Any] | None = None,
        raw_args: Sequence[str] | None = None,
        sge_args: Sequence[str] | None = None,
        slurm_args: Sequence[str] | None = None,
        pbs_args: Sequence[str] | None = None,
        dependency: str | None = None,
        dependencies: Sequence[Any] | None = None,
        dependency_type: str = "afterok",
        host: str | None = None,
        **extra: Any,
    ) -> None:
        self.command: str | Callable[[], Any] = command_value(command)
        named = {k: v for k, v in locals().items() if k in _NAMED and is_given(v)}
        label = command_label(self.command)
        where = f"job {name!r}" if name is not None else f"job {label!r}"
        config = _config.get_config()
        if job_type is None:
            base = config.get_tool_config(label)
        elif job_type in config.types:
            base = config.get_type_config(job_type)
        else:
            base = config.get_job_config(job_type, label)
        fields, extras = split_keys(base, f"{where}: configuration", ConfigError)
        for extra_key, field in EXTRA_LISTS.items():  # the configuration's own extra_* lists
            if fields.get(extra_key):
                fields[field] = list(dict.fromkeys([*(fields.get(field) or []), *fields.pop(extra_key)]))
        kw_fields, kw_extras = split_keys(extra, where)
        fields.update({k: v for k, v in kw_fields.items() if is_given(v)})
        fields.update(named)
        extras.update(kw_extras)
        for extra_key, field in EXTRA_LISTS.items():
            if fields.get(extra_key):
                fields[field] = list(dict.fromkeys([*(fields.get(field) or []), *fields.pop(extra_key)]))
        self.name: str = str(fields.get("name") or self._generate_name())
        where = f"job {self.name!r}"
        self.cpu: int | None = fields.get("cpu")
        self.mem: str | None = fields.get("mem")
        self.time: str | None = fields.get("time")
        self.queue: str | None = fields.get("queue")
        self.priority: int | None = fields.get("priority")
        self.nodes: int | None = fields.get("nodes")
        self.tasks: int | None = fields.get("tasks")
        self.stdout: str | None = text_path(fields.get("stdout"))
        self.stderr: str | None = text_path(fields.get("stderr"))
        self.inherit_env: bool = bool(fields.get("inherit_env", True))
        self.workdir: str | None = text_path(fields.get("workdir"))
        self.shell: str = str(fields.get("shell", "/bin/bash"))
        self.use_cwd: bool = bool(fields.get("use_cwd", True))
        self._auto_venv = None if fields.get("venv") else os.environ.get("VIRTUAL_ENV")
        self.venv: str | None = fields.get("venv") or self._auto_venv
        self.env_vars: dict[str, str] = expanded_table(fields.get("env_vars"), "env_vars", where)
        self.env_prepend: dict[str, str] = expanded_table(fields.get("env_prepend"), "env_prepend", where)
        self.env_append: dict[str, str] = expanded_table(fields.get("env_append"), "env_append", where)
        self.modules: list[str] = expand_module_list(fields.get("modules"), "modules", where)
        self.modules_path: list[str] = expand_module_list(fields.get("modules_path"), "modules_path", where)
        self.modules_path_append: list[str] = expand_module_list(
            fields.get("modules_path_append"), "modules_path_append", where
        )
        self.resources: ResourceSet = ResourceSet.of(fields.get("resources"), where)
        self.raw_args: list[str] = list(fields.get("raw_args") or [])
        self.sge_args: list[str] = list(fields.get("sge_args") or [])
        self.slurm_args: list[str] = list(fields.get("slurm_args") or [])
        self.pbs_args: list[str] = list(fields.get("pbs_args") or [])
        self.dependency: str | None = dependency
        self.dependencies: list[Any] = list(dependencies or [])
        self.dependency_type: str = dependency_type
        self.job_type: str | None = job_type
        self.host: str | None = fields.get("host")
        self.extra: dict[str, Any] = extras
        """jobledger's own job keywords (``gpus``, ``setup``, ``retries`` ...)."""

    @classmethod
    def from_config(
        cls, tool_or_type: str, command: str | Sequence[str] | None = None, **overrides: Any
    ) -> Job:
        """hpc-runner 0.1's constructor: ``[defaults]`` + ``[tools.NAME]``/``[types.NAME]``
        + ``overrides``, each override replacing the configuration's value (an empty list
        too). An unknown name is a :class:`~jobledger.errors.ConfigError` naming the known."""
        preset = _config.get_config().get_job_config(
            tool_or_type, command if isinstance(command, str) else None
        )
        if command is None:
            command = preset.get("command")
            if not command:
                raise ModelError(
                    f"Job.from_config({tool_or_type!r}): no command given, and the configuration has none"
                )
        job = cls(command, job_type=tool_or_type, **overrides)
        for key, value in overrides.items():
            if key in (*_LIST_FIELDS, *MAPPINGS) and not is_given(value):
                setattr(job, key, type(value)() if isinstance(value, (list, dict)) else [])
        return job

    @property
    def merge_output(self) -> bool:
        """True when stderr goes into the stdout file (``stderr`` is ``None``)."""
        return self.stderr is None

    def after(self, *results: Any, type: str = "afterok") -> Job:
        """Add dependencies on earlier results (all of kind ``type``); returns the job."""
        self.dependencies.extend(results)
        self.dependency_type = type
        return self

    def submit(
        self,
        scheduler: Any = None,
        keep_script: bool = False,
        interactive: bool = False,
        *,
        reuse: bool = False,
    ) -> Any:
        """Run this job now on ``scheduler`` (a name, a scheduler object, or detected);
        returns a :class:`JobResult`. ``interactive=True`` blocks until it ended.
        ``reuse=True`` returns the earlier run of the same job instead when it completed.
        The batch script is always kept in the job's run directory (``keep_script``)."""
        del keep_script
        return submit_job(self, scheduler, interactive=interactive, reuse=reuse)

    def to_job(self, **changes: Any) -> LedgerJob:
        """The jobledger :class:`~jobledger.Job` this job runs as (``changes``: its
        keywords, e.g. ``host=``)."""
        return ledger_job(self, **changes)

    def _generate_name(self) -> str:
        user = os.environ.get("USER", "user")
        word = next((w for w in command_words(command_label(self.command)) if "=" not in w), "job")
        return f"{user}_{safe_name(word.rsplit('/', 1)[-1], 40)}"

    def __repr__(self) -> str:
        shown = [f"{k}={getattr(self, k)!r}" for k in ("cpu", "mem", "time", "queue") if getattr(self, k)]
        return f"Job(command={self.command!r}, name={self.name!r}" + "".join(f", {s}" for s in shown) + ")"


_NAMED = frozenset(
    {
        "cpu",
        "mem",
        "time",
        "queue",
        "priority",
        "nodes",
        "tasks",
        "stdout",
        "stderr",
        "inherit_env",
        "workdir",
        "shell",
        "use_cwd",
        "venv",
        "env_vars",
        "env_prepend",
        "env_append",
        "modules",
        "modules_path",
        "modules_path_append",
        "extra_modules",
        "extra_modules_path",
        "extra_modules_path_append",
        "resources",
        "raw_args",
        "sge_args",
        "slurm_args",
        "pbs_args",
        "host",
        "name",
    }
)


def job_from_config(tool_or_type: str, command: str | Sequence[str] | None = None, **overrides: Any) -> Job:
    """``Job.from_config(tool_or_type, command, **overrides)``."""
    return Job.from_config(tool_or_type, command, **overrides)

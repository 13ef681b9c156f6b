"""The script of a pack (pure): one array submission whose element ``i`` runs the batch
script of the pack's job ``i``, and the line in each job's script that names its pack.

The element finds its job from the scheduler's task id, clears the array variables (the
job is not an array: it runs exactly as it would have run submitted alone) and ``exec``\\ s
the job's own script, already in its run directory. A task id that names no job (a job
whose files could not be sent, left out after the pack was formed) ends at once.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import attrs

#: Variables a scheduler sets in an array element, cleared before the job's script runs.
ARRAY_VARIABLES = (
    "SLURM_ARRAY_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SGE_TASK_ID",
    "SGE_TASK_FIRST",
    "SGE_TASK_LAST",
    "SGE_TASK_STEPSIZE",
    "PBS_ARRAY_INDEX",
    "PBS_ARRAY_ID",
    "PBS_ARRAYID",
    "LSB_JOBINDEX",
    "LSB_JOBINDEX_STEP",
    "LSB_JOBINDEX_END",
    "JOBLEDGER_ARRAY_INDEX",
    "HPC_ARRAY_TASK_ID",
)
#: How the line naming a job's pack begins (the last line of the job's batch script).
POINTER = "# jobledger-pack "


@attrs.frozen
class PackPointer:
    """What a job's script says of the pack it was prepared for."""

    tag: str
    name: str
    index: int


def render_pack_body(tag: str, jobs: Sequence[tuple[int, str]], task_variable: str) -> str:
    """The body of a pack's batch script: ``jobs`` are ``(task id, absolute path of the
    job's batch script)``; ``task_variable`` holds the element's task id."""
    if not task_variable.isidentifier():
        raise ValueError(f"not a variable name: {task_variable!r}")
    lines = [
        f"# --- jobledger pack {tag}: {len(jobs)} jobs, one per array element (generated) ---",
        f'case "${{{task_variable}:-}}" in',
    ]
    lines += [f"{int(task)}) jl_job={shlex.quote(path)} ;;" for task, path in jobs]
    lines += [
        f'*) echo "jobledger: pack {tag} holds no job at task ${{{task_variable}:-}}" >&2; exit 0 ;;',
        "esac",
        "unset " + " ".join(ARRAY_VARIABLES),
        f"export JOBLEDGER_PACK={shlex.quote(tag)}",
        "shopt -s execfail 2>/dev/null || :",
        '[ -x "$jl_job" ] && exec "$jl_job"',
        'exec /bin/bash "$jl_job"',
    ]
    return "\n".join(lines) + "\n"


def pointer_line(tag: str, name: str, index: int) -> str:
    """The line appended to a packed job's batch script (a comment: it never runs)."""
    return f"{POINTER}{tag} {name} {int(index)}\n"


def read_pointer(script: bytes | str | None) -> PackPointer | None:
    """The pack a job's batch script names, from its last line (``None``: not packed)."""
    if not script:
        return None
    text = script.decode(errors="replace") if isinstance(script, bytes) else script
    last = text.rstrip("\n").rpartition("\n")[2]
    if not last.startswith(POINTER):
        return None
    parts = last[len(POINTER) :].split()
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return PackPointer(parts[0], parts[1], int(parts[2]))

"""The job wrapper: the shell body every backend runs (pure rendering; the files it
writes in the unit directory are read by :mod:`jobledger.engine.unit_files`).

The same body runs as a local detached process or inside a SLURM/SGE/PBS/LSF batch
script. It

1. finds its *unit* directory (the attempt directory, or ``<attempt>/<index>`` for an
   array element, from ``JOBLEDGER_ARRAY_INDEX`` or the scheduler's own variable);
2. **claims** the unit with an exclusive create of ``claim`` (``set -C``): a second
   wrapper for the same unit — a resubmission after a crash — exits at once, so the
   work runs exactly once; the claim holds ``pid host start pgid sid`` (``-`` where
   unknown): the process group and session say which processes belong to the unit;
3. redirects stdout/stderr, changes to the working directory, exports the environment,
   runs the setup lines and the tasks in order (stopping at the first failure), and
   forwards SIGTERM/SIGINT to the running task;
4. writes ``exit`` in one ``write(2)`` ending with the line ``end`` (a reader ignores a
   file without it, so a half-written file is never taken as a result) and touches a
   marker in the project's completion folder, which the engine watches.

Whoever stops a unit on purpose (a cancel, a time limit) first writes ``cancel`` in its
directory (:func:`~jobledger.engine.unit_files.render_stop`: the state to record, then
the reason): a wrapper that finds it after claiming never starts its tasks, one
signalled while running records that state in ``exit`` (line ``stop=``), and an observer
that finds no exit record reads it too. A signal is never taken for a plain failure when
a cancel was asked for.

Only shell builtins run between tasks: throughput is bounded by fork/exec of the tasks.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping, Sequence

import attrs

from jobledger.engine.unit_files import STOP_FILE
from jobledger.errors import ModelError
from jobledger.ledger.specs import TaskSpec
from jobledger.model.names import env_name_problem

RUNNER_FILE = "jl_runner.py"

_INDEX_VARS = (
    "JOBLEDGER_ARRAY_INDEX",
    "SLURM_ARRAY_TASK_ID",
    "SGE_TASK_ID",
    "PBS_ARRAY_INDEX",
    "PBS_ARRAYID",
    "LSB_JOBINDEX",
)


@attrs.frozen
class WrapperSpec:
    """Everything the wrapper needs, with paths as seen on the target host."""

    attempt_dir: str
    workdir: str
    tasks: tuple[TaskSpec, ...]
    run_dir: str = ""
    """Where the Python tasks' pickles and the runner are (default: the attempt dir)."""
    is_array: bool = False
    markers_dir: str | None = None
    marker: str = ""
    env: Mapping[str, str] = attrs.field(factory=dict)
    modules: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    stdout: str | None = None
    """Path for stdout (relative to workdir or absolute); default ``<unit>/stdout``."""
    stderr: str | None = None
    """Path for stderr; default ``<unit>/stderr``; see ``merge_stderr``."""
    merge_stderr: bool = False
    python: str = "python3"
    index_offset: int = 0
    """The scheduler's task id minus the user's index (SGE and LSF start arrays at 1)."""


def _q(text: str) -> str:
    return shlex.quote(text)


def _export(name: str, value: str) -> str:
    """``export NAME='value'``; a name that is not a shell name is refused, never pasted."""
    problem = env_name_problem(name)
    if problem is not None:
        raise ModelError(problem)
    return f"export {name}={_q(value)}"


def _absolute(path: str, workdir: str) -> str:
    return path if posixpath.isabs(path) else posixpath.join(workdir, path)


def _index_expr() -> str:
    expr = ""
    for var in reversed(_INDEX_VARS):
        expr = f"${{{var}:-{expr}}}" if expr else f"${{{var}:-}}"
    return expr


_STOP_TRAPS = "trap 'exit 143' TERM; trap 'exit 130' INT; "


def _task_function(number: int, task: TaskSpec) -> str:
    name = f"jl_t{number}"
    prefix = f"cd -- {_q(task.cwd)} || exit 1; " if task.cwd else ""
    exports = "".join(f"{_export(k, v)}; " for k, v in task.env.items())
    if task.shell is not None:
        # the task's shell stops at the next command once signalled: a subshell may keep
        # the wrapper's TERM trap in place of the default action (seen under SLURM: the
        # task's `sleep` died of scancel's TERM and the shell went on to its next line)
        return f"{name}() {{\n{_STOP_TRAPS}{prefix}{exports}\n{task.shell}\n}}"
    if task.argv is not None:
        return f"{name}() {{ {prefix}{exports}exec {shlex.join(task.argv)}; }}"
    payload = _q(task.payload or f"task-{number}.pkl")
    return (
        f'{name}() {{ {prefix}{exports}exec "$JL_PYTHON" "$JL_RUN/{RUNNER_FILE}" '
        f'"$JL_RUN/"{payload} "$JL_UNIT"; }}'
    )


def render_wrapper(spec: WrapperSpec) -> str:
    """The wrapper body (bash). Every user-supplied value is quoted."""
    lines = [
        "# --- jobledger job wrapper (generated; see jobledger.engine.wrapper) ---",
        f"JL_ATTEMPT={_q(spec.attempt_dir)}",
        f"JL_RUN={_q(spec.run_dir or spec.attempt_dir)}",
        f"JL_PYTHON={_q(spec.python)}",
        "JL_START=${EPOCHREALTIME:-}",
    ]
    if spec.is_array:
        index = _index_expr()
        if spec.index_offset:
            lines.append(f"JL_RAW_INDEX={index}")
            index = f"$((JL_RAW_INDEX - {int(spec.index_offset)}))"
        lines += [
            f"JL_INDEX={index}",
            'JL_UNIT="$JL_ATTEMPT/$JL_INDEX"',
            'export JOBLEDGER_ARRAY_INDEX="$JL_INDEX" HPC_ARRAY_TASK_ID="$JL_INDEX"',
            '[ -d "$JL_UNIT" ] || mkdir -p -- "$JL_UNIT"',
        ]
    else:
        lines += ["JL_INDEX=", 'JL_UNIT="$JL_ATTEMPT"']
    marker = ""
    if spec.markers_dir:
        marker = (
            f"[ -d {_q(spec.markers_dir)} ] && : > {_q(spec.markers_dir)}/{_q(spec.marker)}"
            '"${JL_INDEX:+-$JL_INDEX}" 2>/dev/null'
        )
    lines += [
        "jl_stop= ; jl_why=",
        "jl_finish() {",
        "  printf 'exit_code=%s\\nsignal=%s\\nstarted=%s\\nended=%s\\nstop=%s\\nreason=%s\\nend\\n' "
        '"$1" "$2" "$JL_START" "${EPOCHREALTIME:-}" "$jl_stop" "$3" > "$JL_UNIT/exit"',
        f"  {marker}" if marker else "  :",
        # SGE treats 99 as "requeue me" and 100 as "put me in error state": the exit
        # record keeps the real code, the process reports plain failure
        '  case "$1" in 99|100) exit 1 ;; esac',
        '  exit "$1"',
        "}",
        # a stop asked for (cancel, time limit): its state and reason, read with builtins
        "jl_stopped() {",
        f'  [ -e "$JL_UNIT/{STOP_FILE}" ] || return 1',
        f'  {{ read -r jl_stop; read -r jl_why; }} < "$JL_UNIT/{STOP_FILE}" 2>/dev/null',
        "  jl_stop=${jl_stop:-cancelled}",
        "}",
        # the unit's process group and session (from /proc where there is one)
        # (fields 5 and 6 of its stat; a command name with a blank would shift them)
        "JL_PID=${BASHPID:-$$} jl_cmd= jl_pg=- jl_sid=-",
        '{ read -r _ jl_cmd _ _ jl_pg jl_sid _ < "/proc/$JL_PID/stat"; } 2>/dev/null',
        '[ "${jl_cmd%)}" != "$jl_cmd" ] || jl_pg=- jl_sid=-',
        # exactly-once: the first wrapper to create the claim runs the work
        'jl_claim="$JL_UNIT/claim${SLURM_RESTART_COUNT:+.$SLURM_RESTART_COUNT}"',
        "set -C",
        'if ! { printf \'%s %s %s %s %s\\n\' "$JL_PID" "${HOSTNAME:--}" "${JL_START:--}" '
        '"$jl_pg" "$jl_sid" > "$jl_claim"; } 2>/dev/null; then',
        "  set +C",
        '  echo "jobledger: $JL_UNIT is already claimed; not running it twice" >&2',
        "  exit 0",
        "fi",
        "set +C",
        "jl_stopped && jl_finish 1 '' \"${jl_why:-cancelled on request}; it never started\"",
    ]
    out = _q(_absolute(spec.stdout, spec.workdir)) if spec.stdout else '"$JL_UNIT/stdout"'
    if spec.merge_stderr:
        lines.append(f"exec >>{out} 2>&1")
    else:
        err = _q(_absolute(spec.stderr, spec.workdir)) if spec.stderr else '"$JL_UNIT/stderr"'
        lines.append(f"exec >>{out} 2>>{err}")
    lines += [
        f"cd -- {_q(spec.workdir)} || jl_finish 1 '' 'cannot change to the working directory'",
        *(_export(k, v) for k, v in spec.env.items()),
        *spec.setup,
        *(f"module load {_q(m)} || jl_finish 1 '' 'module load failed'" for m in spec.modules),
        "jl_child= ; jl_sig=",
        'trap \'jl_sig=15; [ -n "$jl_child" ] && kill -TERM "$jl_child" 2>/dev/null\' TERM',
        'trap \'jl_sig=2; [ -n "$jl_child" ] && kill -INT "$jl_child" 2>/dev/null\' INT',
        "jl_run() {",
        '  "$1" & jl_child=$!',
        '  wait "$jl_child"; jl_rc=$?',
        '  while kill -0 "$jl_child" 2>/dev/null; do wait "$jl_child"; jl_rc=$?; done',
        "  jl_child=",
        "  return $jl_rc",
        "}",
    ]
    for number, task in enumerate(spec.tasks):
        lines.append(_task_function(number, task))
    lines.append("jl_rc=0")
    for number in range(len(spec.tasks)):
        lines.append(f'[ "$jl_rc" -eq 0 ] && {{ jl_run jl_t{number}; jl_rc=$?; }}')
    lines += [
        'if [ -n "$jl_sig" ]; then',
        "  jl_stopped",
        '  jl_finish "$jl_rc" "$jl_sig" "${jl_why:-terminated by signal $jl_sig}"',
        "fi",
        'if [ "$jl_rc" -gt 128 ] && [ "$jl_rc" -lt 160 ]; then',
        "  jl_stopped",
        '  jl_finish "$jl_rc" "$((jl_rc - 128))" "${jl_why:-task killed by signal $((jl_rc - 128))}"',
        "fi",
        "jl_finish \"$jl_rc\" '' ''",
    ]
    return "\n".join(lines) + "\n"


def env_for_index(index: int) -> dict[str, str]:
    """Environment for one local array element (jobledger's and the schedulers' names)."""
    text = str(index)
    return {
        "JOBLEDGER_ARRAY_INDEX": text,
        "SLURM_ARRAY_TASK_ID": text,
        "SGE_TASK_ID": text,
        "HPC_ARRAY_TASK_ID": text,
    }


def quote_env(env: Mapping[str, str]) -> Sequence[str]:
    """``export`` lines for ``env``."""
    return [_export(k, v) for k, v in env.items()]

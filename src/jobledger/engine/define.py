"""Definitions: validating, keying and recording workflows; deciding what a run reuses."""

from __future__ import annotations

import os
import pickle
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobledger.engine.base import EngineBase, Loaded, compact
from jobledger.engine.plan import Phase, standing
from jobledger.engine.staging import check_picklable, content_digest
from jobledger.errors import JobledgerError, ModelError
from jobledger.gcpause import gc_paused
from jobledger.hosts.local import LOCAL_OVERCOMMIT, check_fits_machine, machine_limits
from jobledger.ledger import events as ev
from jobledger.model.hashing import pack
from jobledger.model.job import SEPARATE, Job
from jobledger.model.names import file_stem
from jobledger.model.workflow import Workflow
from jobledger.project import writing


class DefinitionsMixin(EngineBase):
    """Turns a Workflow into keys, a ``workflow`` event (when it changed) and a
    :class:`~jobledger.engine.base.Loaded`; decides reuse and re-runs for a run."""

    _mutex: Any

    # ================================================================== definitions
    def define(self, workflow: Workflow, *, source: str | None = None, host: str | None = None) -> Loaded:
        """Validate, key and record a workflow definition (only when it changed).

        ``host`` sends the jobs that name no host (``local``) to that host alias.
        """
        with self._mutex, gc_paused():
            keys = workflow.keys()
            by_key: dict[str, Job] = {}
            edges: dict[str, list[tuple[str, str]]] = {}
            workdirs: dict[str, str] = {}
            hosts: dict[str, str] = {}
            signature: list[Any] = []
            remotes: dict[str, bool] = {}
            on_machine: dict[str, bool] = {}
            cwd = os.getcwd()
            checked: set[str] = set()
            for name in workflow.order:
                job = workflow.jobs[name]
                key = keys[name]
                alias = host if host and job.host == "local" else job.host
                remote = remotes.get(alias)
                if remote is None:
                    remote = remotes[alias] = self.host_config(alias).is_remote
                    on_machine[alias] = not remote and self.host_config(alias).scheduler == "local"
                res = job.resources
                if on_machine[alias] and (res.cpus or res.memory or res.memory_per_cpu):
                    check_fits_machine(name, res, *machine_limits(), overcommit=LOCAL_OVERCOMMIT)
                workdir = job.workdir or cwd
                if not remote:
                    workdir = str(Path(workdir).resolve()) if job.workdir else cwd
                    if workdir not in checked:
                        if not Path(workdir).is_dir():
                            raise ModelError(f"job {name!r}: working directory {workdir} does not exist")
                        checked.add(workdir)
                check_picklable(job)
                by_key[key] = job
                workdirs[key] = workdir
                hosts[key] = alias
                edges[key] = [(keys[up], kind) for up, kind in workflow.upstream[name]]
                # what the record holds beyond the key: cheap to pack, so a definition that
                # did not change is recognised without building every record
                signature.append([key, alias, workdir, id_of(job.resources), job.waitfor, job.retry.retries,
                                  job.stdout, job.stderr, list(job.outputs)])  # fmt: skip
            digest = content_digest(pack([workflow.name, signature]))
            down: dict[str, list[str]] = {key: [] for key in by_key}
            for key, ups in edges.items():
                for up, _ in ups:
                    down[up].append(key)
            order = [keys[n] for n in workflow.order]
            local_dirs = dict.fromkeys(by_key, cwd)
            loaded = Loaded(workflow, keys, by_key, edges, workdirs, hosts, local_dirs, order, down)
            loaded.position = {k: i for i, k in enumerate(order)}
            current = self.ledger.raw_state["workflows"].get(workflow.name)
            if current is None or current.get("digest") != digest:
                records = [self._job_record(by_key[k], k, hosts[k], edges[k], workdirs[k]) for k in order]
                self.ledger.record(
                    ev.WORKFLOW,
                    {"name": workflow.name, "jobs": records, "digest": digest,
                     "root": str(self.project.root), "source": source},
                )  # fmt: skip
                self._cache_definition(workflow)
            self.loaded[workflow.name] = loaded
            return loaded

    def _job_record(
        self, job: Job, key: str, alias: str, edges: list[tuple[str, str]], workdir: str
    ) -> dict[str, Any]:
        record: dict[str, Any] = {"workdir": workdir}
        if job.stdout:
            record["stdout"] = posixpath.join(workdir, job.stdout)
        if job.stderr is None:
            record["stderr"] = "<merged>"
        elif job.stderr != SEPARATE:
            record["stderr"] = posixpath.join(workdir, job.stderr)
        if job.outputs:
            record["outputs"] = list(job.outputs)
        return record | {
            "key": key,
            "name": job.name,
            "host": alias,
            "after": [list(e) for e in edges],
            "array": list(job.array.indices) if job.array else None,
            "max_concurrent": job.array.max_concurrent if job.array else None,
            "resources": compact(job.resources),
            "command": job.command[:500],
            "python": any(t.is_python for t in job.tasks),
            "run_dir": self.project.run_dir_name(job.name, key),
            "waitfor": job.waitfor,
            "retries": job.retry.retries,
        }

    def _cache_definition(self, workflow: Workflow) -> None:
        from jobledger.engine.staging import pickler

        folder = self.project.cache_dir / "workflows"
        with writing(folder, "cache folder"):
            folder.mkdir(parents=True, exist_ok=True)
        try:
            data = pickler().dumps(workflow)
        except Exception as exc:
            self.log.debug("workflow %s not cached: %s", workflow.name, exc)
            return
        target = folder / f"{file_stem(workflow.name, 80)}.pkl"
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with writing(target, "cached workflow definition"):
            tmp.write_bytes(data)
            tmp.replace(target)

    def load_cached(self, name: str) -> Workflow | None:
        """The last definition of workflow ``name`` cached on this machine, if any."""
        path = self.project.cache_dir / "workflows" / f"{file_stem(name, 80)}.pkl"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            workflow = pickle.loads(data)  # noqa: S301 - our own cache file
        except Exception as exc:
            raise JobledgerError(f"cannot load the cached definition of workflow {name!r}: {exc}") from None
        return workflow if isinstance(workflow, Workflow) else None

    # ================================================================== begin a run
    def begin(self, name: str, *, force: bool = False, rerun: bool = True) -> dict[str, str]:
        """Decide, for an explicit run, which jobs are reused and which get a new attempt.

        Failed jobs get a new attempt only when this workflow held them before: a new
        workflow that depends on a job which failed elsewhere sees it as failed.
        Returns ``{key: "reused" | "rerun" | "active" | "new" | "failed"}``.
        """
        with self._mutex, gc_paused():
            loaded = self.loaded[name]
            self.ledger.refresh()
            raw = self.ledger.raw_state
            raw_jobs = raw["jobs"]
            previous = raw["workflows"].get(name)
            known = set(previous["jobs"]) if previous else set()
            verdicts: dict[str, str] = {}
            for key in loaded.order:
                job = loaded.by_key[key]
                st = standing(key, raw_jobs.get(key))
                if st.phase is Phase.SUCCESS and not force and _ensure_holds(job):
                    verdicts[key] = "reused"
                    if name not in raw_jobs[key].get("reused_in", ()):
                        self.ledger.append(ev.REUSED, {"workflow": name, "key": key, "attempt": st.attempt})
                elif st.phase is Phase.SUCCESS or (
                    st.phase is Phase.FAILURE and rerun and (key in known or not _elsewhere(raw, key, name))
                ):
                    verdicts[key] = "rerun"
                    if st.phase is Phase.FAILURE:
                        reason = f"re-run after {st.state.value}"
                    else:
                        reason = "forced re-run" if force else "postcondition no longer holds"
                    self.ledger.append(
                        ev.RETRY,
                        {"key": key, "attempt": st.attempt + 1, "reason": reason, "manual": True},
                    )
                elif st.phase in (Phase.ACTIVE, Phase.RECONCILE):
                    verdicts[key] = "active"
                elif st.phase is Phase.FAILURE:
                    verdicts[key] = "failed"
                else:
                    verdicts[key] = "new"
            self.ledger.flush(durable=True)
            loaded.stand.clear()
            return verdicts


def _elsewhere(raw: dict[str, Any], key: str, name: str) -> bool:
    """True when another workflow already holds ``key``."""
    return any(key in wf["jobs"] for other, wf in raw["workflows"].items() if other != name)


def id_of(resources: Any) -> Any:
    """A packable stand-in for a resource request (its set fields)."""
    return sorted(compact(resources).items())


def _ensure_holds(job: Job) -> bool:
    """Every ``ensure`` postcondition holds (array ones for every index)."""
    for predicate in job.ensure:
        try:
            if job.array is not None and _takes_argument(predicate):
                if not all(predicate(i) for i in job.array.indices):
                    return False
            elif not predicate():
                return False
        except Exception:
            return False
    return True


def _takes_argument(func: Callable[..., Any]) -> bool:
    import inspect

    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)

#!/usr/bin/env python3
"""A tiny, stateful fake batch system: PBS Pro, Torque and LSF at the process boundary.

The executables in ``tests/fakes/{pbs,torque,lsf}/bin`` call :func:`main`. Standard library
only: they must run under whatever ``python3`` is first on ``PATH``.

State lives in ``$FAKESCHED_DIR`` (required): ``state.json`` guarded by ``flock`` on
``lock``, copies of submitted scripts, spooled output. A small daemon (``fakesched.py
_daemon``), started on demand by ``qsub``/``bsub``/``qdel``/``bkill`` and exiting when
idle, plays server and MOM: it starts eligible jobs (dependencies, array throttles, a slot
limit), runs each one detached in its own process group, enforces walltime, escalates kills
and records exit statuses. Commands print what the real ones print, in the formats the
adapters parse:

* PBS Pro: ``qsub``, ``qstat [-f] [-F json] [-x] [-t]``, ``qdel``, ``qstat --version``.
  History with ``-x``; finished jobs ``F``, subjobs ``X``; walltime kill -> ``Exit_status
  = -29``; signal deaths ``256 + signal``; deleted jobs substate 91; a job whose
  ``afterok`` upstream failed is deleted ("Job deleted as result of dependency ...").
* Torque: ``qstat -x`` is XML, finished jobs ``C`` kept ``$FAKESCHED_KEEP_COMPLETED``
  seconds, walltime kill -> ``exit_status = -11``, ``-t`` arrays with ``PBS_ARRAYID``.
* LSF: ``bsub`` (script on stdin or as file), ``bjobs [-a] [-o ... [-json|-noheader]]``,
  ``bkill``, ``bjobs -V``. Walltime kill -> ``EXIT`` with ``TERM_RUNLIMIT``; ``bkill`` ->
  ``TERM_OWNER``; a job whose dependency can never be met stays ``PEND``.

Knobs (environment): ``FAKESCHED_SLOTS`` (16 running elements at most),
``FAKESCHED_START_DELAY`` (seconds before a job may start, 0), ``FAKESCHED_KILL_DELAY``
(seconds from SIGTERM to SIGKILL, 2), ``FAKESCHED_WALLTIME_SCALE`` (multiplies every
walltime limit, 1; LSF limits are whole minutes), ``FAKESCHED_QUEUES`` (comma list; the first is the
default), ``FAKESCHED_KEEP_COMPLETED`` (Torque, 300), ``FAKESCHED_CLEAN_PERIOD`` (LSF,
3600), ``FAKESCHED_FAIL_NEXT_SUBMIT=transient|hard|lost[:count]`` and
``FAKESCHED_FAIL_NEXT_STATUS=transient[:count]`` (fail the next ``count`` calls; ``lost``
accepts the job but reports an error, like a client timeout). The same faults can be armed
once by writing the word into ``$FAKESCHED_DIR/fail_next_submit`` or ``fail_next_status``.
``fakesched.py shutdown`` kills the daemon and every job process group it started.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
SELF = os.path.abspath(__file__)
NODE = "fakenode"
PBS_VERSION = "2022.1.0"
TORQUE_VERSION = "6.1.3"
LSF_VERSION = "IBM Spectrum LSF Standard 10.1.0.13, Jun 02 2022"
PBS_WALLTIME_CODE = {"pbs": -29, "torque": -11}
TICK = 0.05


class Fail(Exception):
    """A command error: message for stderr and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# ---------------------------------------------------------------------------- config
def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def state_dir() -> str:
    path = os.environ.get("FAKESCHED_DIR")
    if not path:
        raise Fail("fakesched: FAKESCHED_DIR is not set", 2)
    os.makedirs(path, exist_ok=True)
    return path


def server_name(flavor: str) -> str:
    return os.environ.get("FAKESCHED_SERVER", "fakelsf" if flavor == "lsf" else "fakepbs")


def queues(flavor: str) -> list[str]:
    default = {"pbs": "workq", "torque": "batch", "lsf": "normal"}[flavor]
    raw = os.environ.get("FAKESCHED_QUEUES", default)
    return [q.strip() for q in raw.split(",") if q.strip()] or [default]


def user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


# ---------------------------------------------------------------------------- state
@contextlib.contextmanager
def locked(write: bool = True):
    """The state dict under an exclusive lock; saved atomically when ``write``."""
    root = state_dir()
    with open(os.path.join(root, "lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        path = os.path.join(root, "state.json")
        try:
            with open(path) as f:
                state = json.load(f)
        except FileNotFoundError:
            first = int(os.environ.get("FAKESCHED_FIRST_ID", "1000"))
            state = {"next_seq": first, "jobs": {}, "faults": {}}
        try:
            yield state
        except Fail:  # a refused command still used up its armed fault
            _save(path, state)
            raise
        if write:
            _save(path, state)


def _save(path: str, state: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def consume_fault(state: dict, kind: str) -> str:
    """The armed fault for ``kind`` (``submit``/``status``), or ``""``; uses one shot."""
    marker = os.path.join(state_dir(), f"fail_next_{kind}")
    if os.path.exists(marker):
        with open(marker) as f:
            word = f.read().strip()
        os.unlink(marker)
        return word
    raw = os.environ.get(f"FAKESCHED_FAIL_NEXT_{kind.upper()}", "")
    if not raw:
        return ""
    word, _, count = raw.partition(":")
    used = state["faults"].get(f"{kind}:{raw}", 0)
    if used >= int(count.split(":")[0] or 1):
        return ""
    state["faults"][f"{kind}:{raw}"] = used + 1
    return word


def elements(job: dict) -> list[tuple[str, dict]]:
    return sorted(job["elements"].items(), key=lambda kv: int(kv[0] or 0))


def job_done(job: dict) -> bool:
    return all(el["state"] == "done" for el in job["elements"].values())


def job_ok(job: dict) -> bool:
    return all(el["exit"] == 0 and not el["how"] for el in job["elements"].values())


def find_job(state: dict, text: str) -> tuple[dict | None, str | None]:
    """(job, element index or None) for ``1000``, ``1000.srv``, ``1000[].srv``,
    ``1000[3].srv`` or ``1000[3]``."""
    m = re.match(r"^(\d+)(?:\[(\d*)\])?", text.strip())
    if not m:
        return None, None
    job = state["jobs"].get(m.group(1))
    if job is None:
        return None, None
    idx = m.group(2) or None
    if idx is not None and idx not in job["elements"]:
        return None, None
    return job, idx


# ---------------------------------------------------------------------------- options
PBS_VALUE = set("NoejqAlWvSmMrcaukpCD")
PBS_FLAGS = set("VhzIXf")
FLAVOR_VALUE = {"pbs": set("JP"), "torque": set("td")}
LSF_VALUE = {
    "J", "Jd", "o", "oo", "e", "eo", "cwd", "n", "R", "M", "W", "q", "P", "gpu", "w", "G",
    "m", "u", "app", "sla", "g", "L", "E", "Ep", "i", "We", "c", "sp", "outdir",
}  # fmt: skip
LSF_FLAGS = {"x", "H", "K", "N", "B", "r", "rn", "I", "Ip", "Is"}


def parse_pbs_options(args: list[str], flavor: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(options, rest) of a qsub command line or directive list."""
    values = PBS_VALUE | FLAVOR_VALUE[flavor]
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg == "-":
            break
        letter = arg[1:2]
        if letter in values:
            if len(arg) > 2:
                out.append((letter, arg[2:]))
            elif i + 1 < len(args):
                i += 1
                out.append((letter, args[i]))
            else:
                raise Fail(f"qsub: option requires an argument -- '{letter}'", 2)
        elif letter in PBS_FLAGS and len(arg) == 2:
            out.append((letter, ""))
        else:
            raise Fail(f"qsub: invalid option -- '{arg[1:]}'\n{PBS_USAGE}", 2)
        i += 1
    return out, args[i:]


PBS_USAGE = "usage: qsub [-a date_time] [-A account_string] [-e path] [-h] [-j oe|eo] ... [script]"


def parse_lsf_options(args: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            break
        name = arg[1:]
        if name in LSF_VALUE:
            if i + 1 >= len(args):
                raise Fail(f"bsub: option requires an argument -- {name}\n{LSF_USAGE}", 255)
            i += 1
            out.append((name, args[i]))
        elif name in LSF_FLAGS:
            out.append((name, ""))
        else:
            raise Fail(f"bsub: illegal option -- {name}\n{LSF_USAGE}", 255)
        i += 1
    return out, args[i:]


LSF_USAGE = "Usage: bsub [-h] [-V] [-J job_name] [-q queue_name] ... [command [argument ...]]"


def script_directives(text: str, prefix: str) -> list[str]:
    """Tokens of the ``#PBS``/``#BSUB`` lines before the first command line."""
    tokens: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(prefix) and stripped[len(prefix) : len(prefix) + 1] in (" ", "\t"):
            tokens.extend(shlex.split(stripped[len(prefix) :]))
            continue
        if stripped.startswith("#"):
            continue
        break
    return tokens


def parse_duration(text: str) -> int:
    """``HH:MM:SS``, ``MM:SS`` or seconds (PBS ``walltime``)."""
    parts = [int(p) for p in text.strip().split(":")]
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


# ---------------------------------------------------------------------------- submit
def submit(flavor: str, args: list[str]) -> tuple[str, str, int]:
    if flavor == "lsf":
        opts, rest = parse_lsf_options(args)
        script_text = sys.stdin.read() if not rest else _read_or_command(rest)
        opts = parse_lsf_options(script_directives(script_text, "#BSUB"))[0] + opts
    else:
        opts, rest = parse_pbs_options(args, flavor)
        if rest:
            try:
                with open(rest[0]) as f:
                    script_text = f.read()
            except OSError:
                raise Fail(f"qsub: script file:: No such file or directory: {rest[0]}", 2) from None
        else:
            script_text = sys.stdin.read()
        opts = parse_pbs_options(script_directives(script_text, "#PBS"), flavor)[0] + opts
    with locked() as state:
        fault = consume_fault(state, "submit")
        if fault in ("transient", "hard"):
            raise Fail(SUBMIT_FAULTS[flavor][fault], 1 if flavor != "lsf" else 255)
        job = (build_lsf_job if flavor == "lsf" else build_pbs_job)(state, flavor, opts)
        job["script_text_args"] = " ".join(shlex.quote(a) for a in args)
        path = os.path.join(state_dir(), "scripts", f"{job['seq']}.sh")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(script_text)
        os.chmod(path, 0o755)
        job["script"] = path
        state["jobs"][str(job["seq"])] = job
        state["next_seq"] = job["seq"] + 1
    ensure_daemon(flavor)
    if fault == "lost":
        return "", SUBMIT_FAULTS[flavor]["lost"], 1 if flavor != "lsf" else 255
    if flavor == "lsf":
        where = f"queue <{job['queue']}>" if job["queue_given"] else f"default queue <{job['queue']}>"
        return f"Job <{job['seq']}> is submitted to {where}.\n", "", 0
    suffix = "[]" if job["indices"] is not None else ""
    return f"{job['seq']}{suffix}.{server_name(flavor)}\n", "", 0


def _read_or_command(rest: list[str]) -> str:
    """``bsub command args``: LSF runs the command; it does not read ``#BSUB`` lines
    from a script given this way (unless the site sets ``LSB_BSUB_PARSE_SCRIPT``)."""
    return "#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in rest) + "\n"


SUBMIT_FAULTS = {
    "pbs": {
        "transient": "qsub: cannot connect to server fakepbs (errno=15010)",
        "hard": "qsub: Job violates queue and/or server resource limits",
        "lost": "qsub: End of File",
    },
    "lsf": {
        "transient": "LSF is down. Please wait ...\nJob not submitted.",
        "hard": "Job not submitted: the request was rejected by the esub.",
        "lost": "Batch system not responding: request timed out.",
    },
}
SUBMIT_FAULTS["torque"] = SUBMIT_FAULTS["pbs"]


def new_job(state: dict, flavor: str) -> dict:
    return {
        "seq": state["next_seq"],
        "flavor": flavor,
        "name": "",
        "owner": user_name(),
        "queue": queues(flavor)[0],
        "queue_given": False,
        "submit_time": time.time(),
        "submit_cwd": os.getcwd(),
        "env": dict(os.environ),
        "indices": None,
        "throttle": None,
        "deps": [],
        "dep_text": "",
        "walltime": None,
        "resources": {},
        "out": None,
        "err": None,
        "join": False,
        "vars": {},
        "export_all": False,
        "shell": None,
        "workdir": None,
        "description": "",
        "account": "",
        "hold": False,
    }


def build_pbs_job(state: dict, flavor: str, opts: list[tuple[str, str]]) -> dict:
    job = new_job(state, flavor)
    for opt, value in opts:
        if opt == "N":
            job["name"] = value
        elif opt == "o":
            job["out"] = value
        elif opt == "e":
            job["err"] = value
        elif opt == "j":
            job["join"] = value in ("oe", "eo")
        elif opt == "q":
            if value not in queues(flavor):
                raise Fail("qsub: Unknown queue", 1)
            job["queue"], job["queue_given"] = value, True
        elif opt == "A":
            job["account"] = value
        elif opt == "l":
            for item in split_resources(value):
                key, _, val = item.partition("=")
                job["resources"][key] = val
                if key == "walltime":
                    try:
                        job["walltime"] = parse_duration(val)
                    except ValueError:
                        bad = "qsub: Illegal attribute or resource value Resource_List.walltime"
                        raise Fail(bad, 2) from None
        elif opt in ("J", "t"):
            job["indices"], job["throttle"] = parse_pbs_array(value, flavor)
        elif opt == "W":
            key, _, val = value.partition("=")
            if key == "depend":
                job["dep_text"] = val
                job["deps"] = parse_pbs_depend(state, val, flavor)
        elif opt == "v":
            for item in value.split(","):
                key, _, val = item.partition("=")
                job["vars"][key.strip()] = val if "=" in item else os.environ.get(key.strip(), "")
        elif opt == "V":
            job["export_all"] = True
        elif opt == "S":
            job["shell"] = value
        elif opt == "h":
            job["hold"] = True
        elif opt == "d":
            job["workdir"] = value
    if not job["name"]:
        job["name"] = "STDIN"
    make_elements(job)
    return job


def split_resources(value: str) -> list[str]:
    """``-l a=1,b=2`` items (commas only split ``key=value`` items)."""
    items: list[str] = []
    for part in value.split(","):
        if "=" in part or not items:
            items.append(part)
        else:
            items[-1] += "," + part
    return [i for i in items if i]


def parse_pbs_array(value: str, flavor: str) -> tuple[list[int], int | None]:
    body, _, throttle = value.partition("%")
    indices: list[int] = []
    bad = "qsub: illegal -J value" if flavor == "pbs" else "qsub: illegal -t value"
    for part in body.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part.strip())
        if not m or (flavor == "pbs" and ("," in body or m.group(2) is None)):
            raise Fail(bad, 2)
        start, end = int(m.group(1)), int(m.group(2) or m.group(1))
        step = int(m.group(3) or 1)
        if end < start or (flavor == "pbs" and end == start):
            raise Fail(bad, 2)
        indices.extend(range(start, end + 1, step))
    if throttle and not throttle.isdigit():
        raise Fail(bad, 2)
    return sorted(set(indices)), int(throttle) if throttle else None


def parse_pbs_depend(state: dict, text: str, flavor: str) -> list[list[str]]:
    deps: list[list[str]] = []
    for group in text.split(","):
        kind, _, ids = group.partition(":")
        if kind not in ("afterok", "afterany", "afternotok"):
            raise Fail("qsub: illegal -W value", 2)
        for upstream in ids.split(":"):
            if not upstream:
                continue
            job, _ = find_job(state, upstream)
            if job is None:
                unknown = "Unknown Job Id Error" if flavor == "torque" else "Unknown Job Id"
                raise Fail(f"qsub: {unknown} {upstream}", 153)
            deps.append([kind, str(job["seq"])])
    return deps


def build_lsf_job(state: dict, flavor: str, opts: list[tuple[str, str]]) -> dict:
    job = new_job(state, flavor)
    for opt, value in opts:
        if opt == "J":
            m = re.fullmatch(r"([^\[\]%]*)(?:\[([^\]]*)\])?(?:%(\d+))?", value)
            if not m:
                raise Fail(f"{value}: Bad job name. Job not submitted.", 255)
            job["name"] = m.group(1)
            if m.group(2) is not None:
                job["indices"] = parse_lsf_indices(m.group(2))
                job["throttle"] = int(m.group(3)) if m.group(3) else None
        elif opt == "Jd":
            job["description"] = value
        elif opt in ("o", "oo"):
            job["out"] = value
        elif opt in ("e", "eo"):
            job["err"] = value
        elif opt == "cwd":
            job["workdir"] = value
        elif opt == "q":
            if value not in queues(flavor):
                raise Fail(f"{value}: No such queue. Job not submitted.", 255)
            job["queue"], job["queue_given"] = value, True
        elif opt == "P":
            job["account"] = value
        elif opt == "W":
            hours, _, minutes = value.rpartition(":")
            job["walltime"] = (int(hours or 0) * 60 + int(minutes)) * 60
            job["resources"]["RUNLIMIT"] = value
        elif opt == "w":
            job["dep_text"] = value
            job["deps"] = parse_lsf_depend(state, value)
        elif opt == "H":
            job["hold"] = True
        elif opt in ("n", "R", "M", "gpu"):
            job["resources"][opt] = value
    if not job["name"]:
        job["name"] = "job"
    make_elements(job)
    return job


def parse_lsf_indices(text: str) -> list[int]:
    indices: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:-(\d+)(?::(\d+))?)?\s*", part)
        if not m or int(m.group(1)) < 1:
            raise Fail("Bad job name. Job not submitted.", 255)
        start, end = int(m.group(1)), int(m.group(2) or m.group(1))
        indices.extend(range(start, end + 1, int(m.group(3) or 1)))
    return sorted(set(indices))


def parse_lsf_depend(state: dict, text: str) -> list[list[str]]:
    if "||" in text or "!" in text:
        raise Fail(f"{text}: Dependency condition syntax error. Job not submitted.", 255)
    deps: list[list[str]] = []
    for term in text.split("&&"):
        m = re.fullmatch(r"\s*(done|ended|exit)\(\s*(\d+)\s*\)\s*", term)
        if not m:
            raise Fail(f"{text}: Dependency condition syntax error. Job not submitted.", 255)
        if m.group(2) not in state["jobs"]:
            raise Fail(f"{m.group(2)}: No matching job found. Job not submitted.", 255)
        kind = {"done": "afterok", "ended": "afterany", "exit": "afternotok"}[m.group(1)]
        deps.append([kind, m.group(2)])
    return deps


def make_elements(job: dict) -> None:
    keys = [str(i) for i in job["indices"]] if job["indices"] is not None else [""]
    job["elements"] = {
        k: {"state": "Q", "pid": None, "start": None, "end": None, "exit": None, "how": "",
            "cancel_at": None, "kill_at": None, "pend": ""}
        for k in keys
    }  # fmt: skip


# ---------------------------------------------------------------------------- daemon
def ensure_daemon(flavor: str) -> None:
    pid_file = os.path.join(state_dir(), "daemon.pid")
    with contextlib.suppress(OSError, ValueError):
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return
    with open(os.path.join(state_dir(), "daemon.log"), "a") as log:
        subprocess.Popen(
            [sys.executable, SELF, "_daemon", flavor],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )


class Daemon:
    """Server + MOM: schedules, runs, times out and reaps jobs."""

    def __init__(self, flavor: str) -> None:
        self.flavor = flavor
        self.procs: dict[tuple[str, str], subprocess.Popen] = {}
        self.idle_since: float | None = None

    def run(self) -> None:
        root = state_dir()
        guard = open(os.path.join(root, "daemon.lock"), "a")
        try:
            fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return
        with open(os.path.join(root, "daemon.pid"), "w") as f:
            f.write(str(os.getpid()))
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            with locked() as state:
                self.tick(state)
                if self.should_exit(state):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(root, "daemon.pid"))
                    fcntl.flock(guard, fcntl.LOCK_UN)
                    return
            time.sleep(TICK)

    def should_exit(self, state: dict) -> bool:
        if self.procs:
            self.idle_since = None
            return False
        waiting = [
            el
            for job in state["jobs"].values()
            for el in job["elements"].values()
            if el["state"] != "done" and not (job["hold"] or el["pend"])
        ]
        if waiting:
            self.idle_since = None
            return False
        now = time.time()
        if self.idle_since is None:
            self.idle_since = now
        return now - self.idle_since > env_float("FAKESCHED_IDLE_EXIT", 2.0)

    def tick(self, state: dict) -> None:
        now = time.time()
        kill_delay = env_float("FAKESCHED_KILL_DELAY", 2.0)
        for (seq, idx), proc in list(self.procs.items()):
            job = state["jobs"][seq]
            el = job["elements"][idx]
            code = proc.poll()
            if code is not None:
                del self.procs[(seq, idx)]
                self.finish(job, idx, code)
                continue
            if el["cancel_at"] and now - el["cancel_at"] > kill_delay:
                killpg(el["pid"], signal.SIGKILL)
            limit = job["walltime"] and job["walltime"] * env_float("FAKESCHED_WALLTIME_SCALE", 1)
            if limit and not el["kill_at"] and now - el["start"] > limit:
                el["kill_at"], el["how"] = now, "walltime"
                first = signal.SIGUSR2 if self.flavor == "lsf" else signal.SIGTERM
                killpg(el["pid"], first)
            elif el["kill_at"] and now - el["kill_at"] > kill_delay:
                killpg(el["pid"], signal.SIGKILL)
        for job in state["jobs"].values():  # running without a process: the daemon restarted
            for idx, el in job["elements"].items():
                if el["state"] == "R" and (str(job["seq"]), idx) not in self.procs:
                    if not alive(el["pid"]):
                        el.update(state="done", end=now, exit=None, how="lost")
        self.schedule(state, now)

    def schedule(self, state: dict, now: float) -> None:
        slots = int(env_float("FAKESCHED_SLOTS", 16))
        delay = env_float("FAKESCHED_START_DELAY", 0.0)
        running = sum(el["state"] == "R" for job in state["jobs"].values() for el in job["elements"].values())
        for seq in sorted(state["jobs"], key=int):
            job = state["jobs"][seq]
            if job_done(job) or job["hold"] or now - job["submit_time"] < delay:
                continue
            verdict = dependency_verdict(state, job)
            if verdict == "never":
                if self.flavor == "lsf":
                    for el in job["elements"].values():
                        el["pend"] = "Dependency condition invalid or never satisfied"
                else:
                    for el in job["elements"].values():
                        if el["state"] != "done":
                            el.update(state="done", end=now, how="depfail")
                continue
            if verdict == "wait":
                continue
            active = sum(el["state"] == "R" for el in job["elements"].values())
            for idx, el in elements(job):
                if el["state"] != "Q":
                    continue
                if running >= slots or (job["throttle"] and active >= job["throttle"]):
                    break
                self.start(job, idx, now)
                running += 1
                active += 1

    def start(self, job: dict, idx: str, now: float) -> None:
        el = job["elements"][idx]
        spool = os.path.join(state_dir(), "spool")
        os.makedirs(spool, exist_ok=True)
        base = f"{job['seq']}.{idx or 0}"
        out = open(os.path.join(spool, base + ".OU"), "w")
        err = out if job_joined(job) else open(os.path.join(spool, base + ".ER"), "w")
        cwd = job_cwd(job)
        if not os.path.isdir(cwd):
            out.write(f"fakesched: cannot chdir to {cwd}\n")
            out.close()
            el.update(state="done", start=now, end=now, exit=-2 if job["flavor"] != "lsf" else 1)
            el["how"] = "nocwd"
            deliver(job, idx)
            return
        proc = subprocess.Popen(
            job_argv(job),
            cwd=cwd,
            env=job_env(job, idx),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )
        out.close()
        if err is not out:
            err.close()
        el.update(state="R", pid=proc.pid, start=now, pend="")
        self.procs[(str(job["seq"]), idx)] = proc

    def finish(self, job: dict, idx: str, returncode: int) -> None:
        el = job["elements"][idx]
        sig = -returncode if returncode < 0 else 0
        if job["flavor"] == "lsf":
            value = 128 + sig if sig else returncode
        else:
            value = 256 + sig if sig else returncode
            if el["how"] == "walltime":
                value = PBS_WALLTIME_CODE[job["flavor"]]
        if el["cancel_at"] and el["how"] != "walltime":
            el["how"] = "cancel"
        el.update(state="done", end=time.time(), exit=value)
        deliver(job, idx)


def killpg(pid: int | None, sig: int) -> None:
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dependency_verdict(state: dict, job: dict) -> str:
    """``ok``, ``wait`` or ``never`` for the job's dependencies."""
    verdict = "ok"
    for kind, seq in job["deps"]:
        upstream = state["jobs"].get(seq)
        if upstream is None or not job_done(upstream):
            verdict = "wait"
            continue
        ok = job_ok(upstream)
        if (kind == "afterok" and not ok) or (kind == "afternotok" and ok):
            return "never"
    return verdict


def job_joined(job: dict) -> bool:
    if job["flavor"] == "lsf":
        return not job["err"]
    return job["join"]


def job_cwd(job: dict) -> str:
    if job["flavor"] == "lsf":
        return job["workdir"] or job["submit_cwd"]
    if job["workdir"]:
        return job["workdir"]
    return job["env"].get("HOME") or pwd.getpwuid(os.getuid()).pw_dir


def job_argv(job: dict) -> list[str]:
    if job["flavor"] == "lsf":
        with open(job["script"]) as f:
            shebang = f.readline().startswith("#!")
        return [job["script"]] if shebang else ["/bin/sh", job["script"]]
    shell = job["shell"] or pwd.getpwuid(os.getuid()).pw_shell or "/bin/sh"
    return [shell, job["script"]]


def native_id(job: dict, idx: str | None) -> str:
    if job["flavor"] == "lsf":
        return f"{job['seq']}[{idx}]" if idx else str(job["seq"])
    inner = "" if job["indices"] is None else f"[{idx or ''}]"
    return f"{job['seq']}{inner}.{server_name(job['flavor'])}"


def job_env(job: dict, idx: str) -> dict[str, str]:
    sub = job["env"]
    if job["flavor"] == "lsf":
        env = dict(sub)
        env.update(
            LSB_JOBID=str(job["seq"]),
            LSB_JOBINDEX=idx or "0",
            LSB_JOBNAME=job["name"] + (f"[{idx}]" if idx else ""),
            LSB_QUEUE=job["queue"],
            LS_SUBCWD=job["submit_cwd"],
            LSB_SUB_HOST=NODE,
            LSB_HOSTS=NODE,
            LSB_DJOB_NUMPROC="1",
        )
        return env
    keep = ("HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG", "TZ", "TMPDIR")
    env = dict(sub) if job["export_all"] else {k: sub[k] for k in keep if k in sub}
    env.update(job["vars"])
    env.update(
        PBS_JOBID=native_id(job, idx or None),
        PBS_JOBNAME=job["name"],
        PBS_QUEUE=job["queue"],
        PBS_ENVIRONMENT="PBS_BATCH",
        PBS_O_WORKDIR=job["submit_cwd"],
        PBS_O_HOME=sub.get("HOME", ""),
        PBS_O_PATH=sub.get("PATH", ""),
        PBS_O_LOGNAME=job["owner"],
        PBS_O_SHELL=sub.get("SHELL", "/bin/sh"),
        PBS_O_HOST=NODE,
        PBS_O_SYSTEM="Linux",
        PBS_O_QUEUE=job["queue"],
        PBS_NODEFILE="/dev/null",
    )
    if idx:
        if job["flavor"] == "pbs":
            env["PBS_ARRAY_INDEX"] = idx
            env["PBS_ARRAY_ID"] = native_id(job, None)
        else:
            env["PBS_ARRAYID"] = idx
    return env


def output_paths(job: dict, idx: str) -> tuple[str, str | None]:
    """Final stdout and stderr paths (``None``: joined into stdout)."""
    flavor, seq, name = job["flavor"], job["seq"], job["name"]
    if flavor == "lsf":

        def expand(p: str) -> str:
            return p.replace("%J", str(seq)).replace("%I", idx or "0")

        out = expand(job["out"]) if job["out"] else os.path.join(state_dir(), "mail", f"{seq}")
        return out, expand(job["err"]) if job["err"] else None
    tail = "" if not idx else (f".{idx}" if flavor == "pbs" else f"-{idx}")

    def resolve(path: str | None, letter: str) -> str:
        default = f"{name}.{letter}{seq}{tail}"
        if not path:
            return os.path.join(job["submit_cwd"], default)
        if ":" in path and not path.startswith("/"):
            path = path.split(":", 1)[1]
        if flavor == "pbs":
            path = path.replace("^array_index^", idx or "")
        if path.endswith("/") or os.path.isdir(path):
            return os.path.join(path, default)
        return path + (f"-{idx}" if flavor == "torque" and idx else "")

    out = resolve(job["out"], "o")
    return out, None if job["join"] else resolve(job["err"], "e")


def deliver(job: dict, idx: str) -> None:
    """Copy spooled output to its final place (PBS stages out; LSF adds its report)."""
    base = os.path.join(state_dir(), "spool", f"{job['seq']}.{idx or 0}")
    out_path, err_path = output_paths(job, idx)
    text = _slurp(base + ".OU")
    if job["flavor"] == "lsf":
        text = lsf_report(job, idx, bool(err_path)) + text
    _write(out_path, text)
    if err_path:
        _write(err_path, _slurp(base + ".ER"))


def _slurp(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _write(path: str, text: str) -> None:
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        undelivered = os.path.join(state_dir(), "undelivered")
        os.makedirs(undelivered, exist_ok=True)
        with open(os.path.join(undelivered, os.path.basename(path) or "output"), "w") as f:
            f.write(text)


def lsf_report(job: dict, idx: str, separate_err: bool) -> str:
    el = job["elements"][idx]
    name = job["name"] + (f"[{idx}]" if idx else "")
    status, verdict = lsf_state(job, el)
    outcome = (
        "Successfully completed."
        if status == "DONE"
        else f"Exited with exit code {el['exit']}."
        if el["exit"] is not None
        else "Exited."
    )
    reason = lsf_exit_reason(el)
    lines = [
        "Sender: LSF System <lsfadmin@fakenode>",
        f"Subject: Job {job['seq']}: <{name}> in cluster <{server_name('lsf')}> {verdict}",
        "",
        f"Job <{name}> was submitted from host <{NODE}> by user <{job['owner']}> "
        f"in cluster <{server_name('lsf')}> at {ctime(job['submit_time'])}",
        f"Job was executed on host(s) <{NODE}>, in queue <{job['queue']}>, "
        f"as user <{job['owner']}> in cluster <{server_name('lsf')}> at {ctime(el['start'])}",
        "-" * 60,
        "",
        outcome + (f"\n\n{reason}" if reason else ""),
        "",
        "Resource usage summary:",
        "",
        "    CPU time :                                   0.01 sec.",
        "",
        (f"Read file <{output_paths(job, idx)[1]}> for stderr output of this job." if separate_err
         else "The output (if any) follows:"),
        "",
        "",
    ]  # fmt: skip
    return "\n".join(lines)


# ---------------------------------------------------------------------------- times
def ctime(epoch: float | None) -> str:
    t = datetime.fromtimestamp(epoch or time.time())
    return f"{t:%a %b} {t.day:2d} {t:%H:%M:%S %Y}"


def lsf_time(epoch: float | None, final: bool = False) -> str:
    if not epoch:
        return ""
    t = datetime.fromtimestamp(epoch)
    return f"{t:%b} {t.day:2d} {t:%H:%M}" + (" L" if final else "")


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ---------------------------------------------------------------------------- PBS status
def pbs_letter(state: dict, job: dict, el: dict, subjob: bool) -> str:
    if el["state"] == "done":
        if job["flavor"] == "torque":
            return "C"
        return "X" if subjob else "F"
    if el["state"] == "R":
        return "R"
    if job["hold"] or dependency_verdict(state, job) == "wait":
        return "H"
    return "Q"


def parent_letter(state: dict, job: dict) -> str:
    els = [el for _, el in elements(job)]
    if all(el["state"] == "done" for el in els):
        return "C" if job["flavor"] == "torque" else "F"
    if any(el["state"] != "Q" for el in els):
        return "R" if job["flavor"] == "torque" else "B"
    return pbs_letter(state, job, els[0], False)


def pbs_attributes(state: dict, job: dict, idx: str | None) -> list[tuple[str, object]]:
    """The ``qstat -f`` attributes of a job, subjob (``idx``) or array parent."""
    flavor = job["flavor"]
    parent = job["indices"] is not None and idx is None
    el = job["elements"][idx if idx is not None else elements(job)[0][0]]
    letter = parent_letter(state, job) if parent else pbs_letter(state, job, el, idx is not None)
    host = f"{NODE}.localdomain"
    out_path, err_path = output_paths(job, idx or "")
    started = [e for _, e in elements(job) if e["start"]] if parent else ([el] if el["start"] else [])
    ended = letter in "FXC"
    attrs: list[tuple[str, object]] = [
        ("Job_Name", job["name"]),
        ("Job_Owner", f"{job['owner']}@{host}"),
    ]
    if started:
        run = (el["end"] or time.time()) - (el["start"] or time.time())
        attrs += [
            ("resources_used.cput", "00:00:00"),
            ("resources_used.mem", "1024kb"),
            ("resources_used.ncpus", "1"),
            ("resources_used.walltime", hms(max(run, 0))),
        ]
    attrs += [
        ("job_state", letter),
        ("queue", job["queue"]),
        ("server", server_name(flavor)),
        ("Checkpoint", "u"),
        ("ctime", ctime(job["submit_time"])),
    ]
    if job["dep_text"]:
        depend = ",".join(
            f"{kind}:{native_id(state['jobs'][seq], None)}@{server_name(flavor)}" for kind, seq in job["deps"]
        )
        attrs.append(("depend", depend))
    attrs.append(("Error_Path", f"{host}:{err_path or out_path}"))
    if started and not parent:
        attrs.append(("exec_host", f"{NODE}/0"))
        if flavor == "pbs":
            attrs.append(("exec_vnode", f"({NODE}:ncpus=1)"))
    holds = "u" if job["hold"] else ("s" if letter == "H" else "n")
    attrs += [
        ("Hold_Types", holds),
        ("Join_Path", "oe" if job["join"] else "n"),
        ("Keep_Files", "n"),
        ("Mail_Points", "a"),
        ("mtime", ctime(el["end"] or el["start"] or job["submit_time"])),
        ("Output_Path", f"{host}:{out_path}"),
        ("Priority", 0),
        ("qtime", ctime(job["submit_time"])),
        ("Rerunable", "False" if flavor == "pbs" else "True"),
    ]
    resources = dict(job["resources"])
    if flavor == "pbs":
        resources.setdefault("ncpus", "1")
        resources.setdefault("nodect", "1")
        resources.setdefault("place", "pack")
        resources.setdefault("select", "1:ncpus=1")
    else:
        resources.setdefault("nodect", "1")
        resources.setdefault("nodes", "1")
    attrs += [(f"Resource_List.{k}", v) for k, v in sorted(resources.items())]
    if started and not parent:
        stime_key = "stime" if flavor == "pbs" else "start_time"
        attrs += [(stime_key, ctime(el["start"])), ("session_id", el["pid"] or 0)]
        if flavor == "pbs":
            attrs.append(("jobdir", job["env"].get("HOME", "/")))
    if flavor == "pbs":
        attrs.append(("substate", pbs_substate(state, job, el, letter)))
    else:
        attrs += [("euser", job["owner"]), ("egroup", job["owner"]), ("queue_type", "E")]
    variables = {
        "PBS_O_HOME": job["env"].get("HOME", ""),
        "PBS_O_LOGNAME": job["owner"],
        "PBS_O_PATH": job["env"].get("PATH", ""),
        "PBS_O_SHELL": job["env"].get("SHELL", "/bin/sh"),
        "PBS_O_WORKDIR": job["submit_cwd"],
        "PBS_O_SYSTEM": "Linux",
        "PBS_O_QUEUE": job["queue"],
        "PBS_O_HOST": NODE,
        **job["vars"],
    }
    attrs.append(("Variable_List", variables))
    comment = pbs_comment(state, job, el, letter, parent)
    if comment and flavor == "pbs":
        attrs.append(("comment", comment))
    attrs.append(("etime", ctime(job["submit_time"])))
    if ended and not (parent and flavor == "torque"):
        exit_value = parent_exit(job) if parent else el["exit"]
        if exit_value is not None:
            attrs.append(("Exit_status" if flavor == "pbs" else "exit_status", exit_value))
    if flavor == "pbs":
        attrs.append(("Submit_arguments", job.get("script_text_args", "")))
        if started and not parent:
            attrs.append(("run_count", 1))
        if ended and el["end"]:
            attrs.append(("obittime", ctime(el["end"])))
        if parent:
            compact = ",".join(str(i) for i in job["indices"])
            attrs += [("array", "True"), ("array_indices_submitted", compact)]
        elif idx is not None:
            attrs += [("array_id", native_id(job, None)), ("array_index", int(idx))]
        attrs += [("project", "_pbs_project_default"), ("Submit_Host", host)]
    else:
        attrs.append(("submit_args", job.get("script_text_args", "")))
        if started and not parent:
            attrs.append(("start_count", 1))
        attrs.append(("fault_tolerant", "False"))
        if ended and el["end"] and not parent:
            attrs.append(("comp_time", ctime(el["end"])))
        if idx is not None:
            attrs.append(("job_array_id", int(idx)))
        elif parent:
            throttle = f"%{job['throttle']}" if job["throttle"] else ""
            attrs.append(("job_array_request", ",".join(map(str, job["indices"])) + throttle))
        attrs += [("job_radix", 0), ("submit_host", host), ("init_work_dir", job["submit_cwd"])]
    return attrs


def pbs_substate(state: dict, job: dict, el: dict, letter: str) -> int:
    if letter == "H":
        return 20 if job["hold"] else 22
    if letter == "Q":
        return 10
    if letter in "RB":
        return 42
    if el["how"] in ("cancel", "depfail") or (el["how"] == "" and el["exit"] is None):
        return 91
    return 92 if el["exit"] == 0 else 93


def pbs_comment(state: dict, job: dict, el: dict, letter: str, parent: bool) -> str:
    when = datetime.fromtimestamp(el["start"]) if el["start"] else None
    run = f"Job run at {when:%a %b %d at %H:%M} on ({NODE}:ncpus=1)" if when else ""
    if el["how"] == "depfail":
        upstream = ", ".join(native_id(state["jobs"][s], None) for _, s in job["deps"])
        return f"Job deleted as result of dependency on job {upstream}"
    if letter == "Q":
        return "Not Running: Insufficient amount of resource: ncpus"
    if letter == "H":
        return "Job held by user" if job["hold"] else "Job held, waiting on dependencies"
    if letter in "RB":
        return run if not parent else "Job Array Began"
    if el["how"] == "cancel":
        return (run + " and terminated") if run else "Job deleted"
    if el["how"] == "walltime":
        return run + " and exceeded its walltime limit"
    return run + (" and finished" if el["exit"] == 0 else " and failed")


def parent_exit(job: dict) -> int | None:
    exits = [el["exit"] for _, el in elements(job) if el["how"] != "cancel"]
    if not exits:
        return None
    return 0 if all(e == 0 for e in exits) else 1


def render_pbs_text(jobs: list[tuple[str, list[tuple[str, object]]]]) -> str:
    blocks = []
    for job_id, attrs in jobs:
        lines = [f"Job Id: {job_id}"]
        for key, value in attrs:
            if isinstance(value, dict):
                value = ",".join(f"{k}={v}" for k, v in value.items())
            lines.extend(wrap(f"    {key} = {value}"))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def wrap(line: str, first: int = 79, width: int = 71) -> list[str]:
    """PBS's wrapping: 79 columns, then tab-indented pieces of 71, breaking after a comma
    where one falls in the window."""
    out: list[str] = []
    limit = first
    while len(line) > limit:
        cut = line.rfind(",", 0, limit)
        cut = cut + 1 if cut > limit // 2 else limit
        out.append(line[:cut] if not out else "\t" + line[:cut])
        line = line[cut:]
        limit = width
    out.append(line if not out else "\t" + line)
    return out


def render_pbs_json(jobs: list[tuple[str, list[tuple[str, object]]]]) -> str:
    doc: dict[str, object] = {
        "timestamp": int(time.time()),
        "pbs_version": PBS_VERSION,
        "pbs_server": server_name("pbs"),
    }
    if jobs:
        out: dict[str, dict[str, object]] = {}
        for job_id, attrs in jobs:
            record: dict[str, object] = {}
            for key, value in attrs:
                head, dot, tail = key.partition(".")
                if dot:
                    nested = record.setdefault(head, {})
                    assert isinstance(nested, dict)
                    nested[tail] = int(value) if str(value).isdigit() else value
                else:
                    record[key] = value
            out[job_id] = record
        doc["Jobs"] = out
    return json.dumps(doc, indent=4, separators=(",", ":")) + "\n"


def render_torque_xml(jobs: list[tuple[str, list[tuple[str, object]]]]) -> str:
    """Torque's one-line ``qstat -x`` document; ``a.b`` attributes nest as ``<a><b>``."""
    times = ("ctime", "mtime", "qtime", "etime", "start_time", "comp_time")
    out = ["<Data>"]
    for job_id, attrs in jobs:
        items: dict[str, object] = {"Job_Id": job_id}
        for key, value in attrs:
            head, dot, tail = key.partition(".")
            if dot:
                group = items.setdefault(head, {})
                assert isinstance(group, dict)
                group[tail] = value
            elif isinstance(value, dict):
                items[key] = ",".join(f"{k}={v}" for k, v in value.items())
            elif key in times:
                items[key] = int(datetime.strptime(str(value), "%a %b %d %H:%M:%S %Y").timestamp())
            else:
                items[key] = value
        out.append("<Job>")
        for key, value in items.items():
            if isinstance(value, dict):
                inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in value.items())
                out.append(f"<{key}>{inner}</{key}>")
            else:
                out.append(f"<{key}>{escape(str(value))}</{key}>")
        out.append("</Job>")
    out.append("</Data>")
    return "".join(out) + "\n"


def qstat(flavor: str, args: list[str]) -> tuple[str, str, int]:
    full = history = subjobs = False
    fmt = ""
    ids: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--version":
            text = f"pbs_version = {PBS_VERSION}" if flavor == "pbs" else f"Version: {TORQUE_VERSION}"
            return text + "\n", "", 0
        if arg in ("-F", "-u"):
            if arg == "-F" and flavor != "pbs":
                raise Fail("qstat: invalid option -- 'F'", 2)
            i += 1
            if arg == "-F":
                fmt = args[i] if i < len(args) else ""
        elif arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                if letter == "f":
                    full = True
                elif letter == "x":
                    history = True
                elif letter == "t":
                    subjobs = True
                elif letter not in "aJHn1s":
                    raise Fail(f"qstat: invalid option -- '{letter}'", 2)
        else:
            ids.append(arg)
        i += 1
    xml = flavor == "torque" and history
    with locked() as state:
        if consume_fault(state, "status") == "transient":
            raise Fail(f"qstat: cannot connect to server {server_name(flavor)} (errno=15010)", 1)
        rows, errors, code = select_pbs(state, flavor, ids, history, subjobs)
        rendered = [(native_id(job, idx), pbs_attributes(state, job, idx)) for job, idx in rows]
    if xml:
        text = render_torque_xml(rendered) if rendered else ""
    elif fmt == "json":
        text = render_pbs_json(rendered)
    elif full:
        text = render_pbs_text(rendered)
    else:
        text = render_pbs_table(rendered)
    return text, "\n".join(errors) + ("\n" if errors else ""), code


def select_pbs(
    state: dict, flavor: str, ids: list[str], history: bool, subjobs: bool
) -> tuple[list[tuple[dict, str | None]], list[str], int]:
    """Rows (job, element index or None for a job/parent) that ``qstat`` shows."""
    now = time.time()
    keep = env_float("FAKESCHED_KEEP_COMPLETED", 300)
    rows: list[tuple[dict, str | None]] = []
    errors: list[str] = []
    code = 0

    def expired(job: dict) -> bool:
        if not job_done(job):
            return False
        if flavor == "torque":
            end = max(el["end"] or 0 for el in job["elements"].values())
            return now - end > keep
        return False

    def expand(job: dict) -> list[tuple[dict, str | None]]:
        if job["indices"] is None:
            return [(job, None)]
        if flavor == "torque":
            return [(job, idx) for idx, _ in elements(job)] if subjobs else [(job, None)]
        return [(job, None)] + ([(job, idx) for idx, _ in elements(job)] if subjobs else [])

    if ids:
        for text in ids:
            job, idx = find_job(state, text)
            if job is None or expired(job):
                unknown = "Unknown Job Id Error" if flavor == "torque" else "Unknown Job Id"
                errors.append(f"qstat: {unknown} {text}")
                code = 153
                continue
            done = job["elements"][idx]["state"] == "done" if idx else job_done(job)
            if flavor == "pbs" and done and not history:
                errors.append(
                    f"qstat: {text} Job has finished, use -x or -H to obtain historical job information"
                )
                code = code or 35
                continue
            rows.extend([(job, idx)] if idx else expand(job))
    else:
        for seq in sorted(state["jobs"], key=int):
            job = state["jobs"][seq]
            if expired(job) or (flavor == "pbs" and job_done(job) and not history):
                continue
            rows.extend(expand(job))
    return rows, errors, code


def render_pbs_table(rows: list[tuple[str, list[tuple[str, object]]]]) -> str:
    if not rows:
        return ""
    lines = [
        "Job id            Name             User              Time Use S Queue",
        "----------------  ---------------- ----------------  -------- - -----",
    ]
    for job_id, attrs in rows:
        a = dict(attrs)
        used = str(a.get("resources_used.walltime", "0"))
        owner = str(a["Job_Owner"]).split("@")[0]
        lines.append(
            f"{job_id[:16]:<16}  {str(a['Job_Name'])[:16]:<16} {owner[:16]:<16}  "
            f"{used:>8} {a['job_state']} {a['queue']}"
        )
    return "\n".join(lines) + "\n"


def qdel(flavor: str, args: list[str]) -> tuple[str, str, int]:
    ids = [a for a in args if not a.startswith("-")]
    if not ids:
        usage = "usage:\n\tqdel [-W force|suppress_email=X] [-x] job_identifier...\n\tqdel --version"
        raise Fail(usage, 2)
    errors: list[str] = []
    code = 0
    with locked() as state:
        for text in ids:
            if not re.match(r"^\d+(\[\d*\])?(\.\S+)?$", text):
                errors.append(f"qdel: illegally formed job identifier: {text}")
                code = 1
                continue
            job, idx = find_job(state, text)
            if job is None:
                unknown = "Unknown Job Id Error" if flavor == "torque" else "Unknown Job Id"
                errors.append(f"qdel: {unknown} {text}")
                code = 153 if flavor == "torque" else 1
                continue
            targets = [idx] if idx else [i for i, _ in elements(job)]
            if all(job["elements"][t]["state"] == "done" for t in targets):
                if flavor == "torque":
                    errors.append(
                        f"qdel: Request invalid for state of job MSG=invalid state for job - COMPLETE {text}"
                    )
                    code = 170
                else:
                    errors.append(f"qdel: Job has finished {text}")
                    code = 1
                continue
            cancel(job, targets, (signal.SIGTERM,))
    ensure_daemon(flavor)
    return "", "\n".join(errors) + ("\n" if errors else ""), code


def cancel(job: dict, targets: list[str], signals: tuple[int, ...]) -> None:
    now = time.time()
    for t in targets:
        el = job["elements"][t]
        if el["state"] == "R":
            if not el["cancel_at"]:
                el["cancel_at"] = now
                for sig in signals:
                    killpg(el["pid"], sig)
        elif el["state"] != "done":
            el.update(state="done", end=now, how="cancel", exit=None)


# ---------------------------------------------------------------------------- LSF status
def lsf_state(job: dict, el: dict) -> tuple[str, str]:
    """(STAT, subject word) of an element."""
    if el["state"] == "R":
        return "RUN", "Running"
    if el["state"] != "done":
        return ("PSUSP" if job["hold"] else "PEND"), "Pending"
    ok = el["exit"] == 0 and not el["how"]
    return ("DONE", "Done") if ok else ("EXIT", "Exited")


def lsf_exit_reason(el: dict) -> str:
    return {
        "walltime": "TERM_RUNLIMIT: job killed after reaching LSF run time limit",
        "cancel": "TERM_OWNER: job killed by owner",
        "nocwd": "TERM_CWD_NOTEXIST: current working directory not accessible",
    }.get(el["how"], "")


def lsf_fields(state: dict, job: dict, idx: str) -> dict[str, str]:
    el = job["elements"][idx]
    stat, _ = lsf_state(job, el)
    pend = ""
    if stat in ("PEND", "PSUSP"):
        running = sum(e["state"] == "R" for e in job["elements"].values())
        pend = el["pend"] or (
            "The job was suspended by the user while pending"
            if job["hold"]
            else "Job dependency condition not satisfied"
            if dependency_verdict(state, job) == "wait"
            else "The job array has reached its job slot limit"
            if job["throttle"] and running >= job["throttle"]
            else "New job is waiting for scheduling"
        )
    exit_code = str(el["exit"]) if stat == "EXIT" and el["exit"] is not None else ""
    return {
        "jobid": str(job["seq"]),
        "jobindex": idx or "0",
        "stat": stat,
        "user": job["owner"],
        "queue": job["queue"],
        "job_name": job["name"] + (f"[{idx}]" if idx else ""),
        "job_description": job["description"],
        "proj_name": job["account"] or "default",
        "dependency": job["dep_text"],
        "exit_code": exit_code,
        "exit_reason": lsf_exit_reason(el) if stat == "EXIT" else "",
        "pend_reason": pend,
        "from_host": NODE,
        "exec_host": NODE if el["start"] else "",
        "submit_time": lsf_time(job["submit_time"]),
        "start_time": lsf_time(el["start"]),
        "finish_time": lsf_time(el["end"], final=True),
        "runtimelimit": job["resources"].get("RUNLIMIT", ""),
        "pids": str(el["pid"]) if el["state"] == "R" else "",
    }


LSF_ALIASES = {"id": "jobid", "name": "job_name", "desc": "job_description"}


def bjobs(args: list[str]) -> tuple[str, str, int]:
    show_all = as_json = noheader = False
    fmt = ""
    name_filter = ""
    ids: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-V":
            return (
                "",
                f"{LSF_VERSION}\nCopyright International Business Machines Corp. 1992, 2016.\n",
                0,
            )
        if arg in ("-o", "-u", "-J", "-q"):
            i += 1
            value = args[i] if i < len(args) else ""
            if arg == "-o":
                fmt = value
            elif arg == "-J":
                name_filter = value
        elif arg == "-a":
            show_all = True
        elif arg == "-json":
            as_json = True
        elif arg == "-noheader":
            noheader = True
        elif arg.startswith("-"):
            raise Fail(f"bjobs: illegal option -- {arg[1:]}", 255)
        else:
            ids.append(arg)
        i += 1
    if as_json and not fmt:
        raise Fail("The -json option must be used together with the -o option.", 255)
    delimiter = " "
    m = re.search(r"delimiter='(.)'", fmt)
    if m:
        delimiter = m.group(1)
        fmt = fmt[: m.start()] + fmt[m.end() :]
    fields = [LSF_ALIASES.get(f.split(":")[0].lower(), f.split(":")[0].lower()) for f in fmt.split()]
    now = time.time()
    clean = env_float("FAKESCHED_CLEAN_PERIOD", 3600)
    records: list[dict[str, str]] = []
    errors: list[str] = []
    code = 0
    with locked() as state:
        if consume_fault(state, "status") == "transient":
            raise Fail("LSF is down. Please wait ...", 255)

        def visible(job: dict, el: dict) -> bool:
            return el["state"] != "done" or now - (el["end"] or now) <= clean

        if ids:
            for text in ids:
                job, idx = find_job(state, text)
                shown = [
                    (i2, el)
                    for i2, el in (elements(job) if job else [])
                    if (idx is None or i2 == idx) and visible(job, el)
                ]
                if not shown:
                    errors.append(f"Job <{text}> is not found")
                    records.append({"JOBID": text, "ERROR": f"Job <{text}> is not found"})
                    code = 255
                    continue
                records.extend(lsf_fields(state, job, i2) for i2, _ in shown)
        else:
            for seq in sorted(state["jobs"], key=int):
                job = state["jobs"][seq]
                if name_filter and job["name"] != name_filter:
                    continue
                for i2, el in elements(job):
                    if visible(job, el) and (show_all or el["state"] != "done"):
                        records.append(lsf_fields(state, job, i2))
    good = [r for r in records if "ERROR" not in r]
    if as_json:
        out_records = []
        for r in records:
            if "ERROR" in r:
                out_records.append(r)
            else:
                out_records.append({f.upper(): r.get(f, "") for f in fields})
        doc = {"COMMAND": "bjobs", "JOBS": len(out_records), "RECORDS": out_records}
        text = json.dumps(doc, indent=2, separators=(",", ":")).replace("/", "\\/") + "\n"
        return text, "", code
    stderr = "\n".join(errors) + ("\n" if errors else "")
    if not good:
        stderr += "" if ids else ("No job found\n" if show_all else "No unfinished job found\n")
        return "", stderr, code
    if fields:
        lines = [] if noheader else [delimiter.join(f.upper() for f in fields)]
        lines += [delimiter.join(r.get(f, "") or "-" for f in fields) for r in good]
    else:
        lines = ["JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   SUBMIT_TIME"]
        lines += [
            f"{r['jobid']:<7} {r['user'][:7]:<7} {r['stat']:<5} {r['queue'][:10]:<10} "
            f"{r['from_host'][:11]:<11} {r['exec_host'][:11]:<11} {r['job_name'][:10]:<10} "
            f"{r['submit_time']}"
            for r in good
        ]
    return "\n".join(lines) + "\n", stderr, code


def bkill(args: list[str]) -> tuple[str, str, int]:
    ids = [a for a in args if not a.startswith("-")]
    if not ids:
        raise Fail("Usage: bkill [-l] [-b] [-C kill_reason] ... [job_ID ...]", 255)
    out: list[str] = []
    errors: list[str] = []
    code = 0
    with locked() as state:
        for text in ids:
            job, idx = find_job(state, text)
            if job is None:
                errors.append(f"Job <{text}>: No matching job found")
                code = 255
                continue
            targets = [idx] if idx else [i for i, _ in elements(job)]
            if all(job["elements"][t]["state"] == "done" for t in targets):
                errors.append(f"Job <{text}>: Job has already finished")
                code = 255
                continue
            cancel(job, targets, (signal.SIGINT, signal.SIGTERM))
            out.append(f"Job <{text}> is being terminated")
    ensure_daemon("lsf")
    return (
        "\n".join(out) + ("\n" if out else ""),
        "\n".join(errors) + ("\n" if errors else ""),
        code,
    )


# ---------------------------------------------------------------------------- entry
def shutdown() -> tuple[str, str, int]:
    """Kill the daemon and every job process group the fake started."""
    root = state_dir()
    with contextlib.suppress(OSError, ValueError):
        with open(os.path.join(root, "daemon.pid")) as f:
            pid = int(f.read().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with locked() as state:
        for job in state["jobs"].values():
            for el in job["elements"].values():
                if el["state"] == "R":
                    killpg(el["pid"], signal.SIGKILL)
    return "", "", 0


COMMANDS = {
    "qsub": lambda flavor, args: submit(flavor, args),
    "qstat": qstat,
    "qdel": qdel,
    "bsub": lambda flavor, args: submit("lsf", args),
    "bjobs": lambda flavor, args: bjobs(args),
    "bkill": lambda flavor, args: bkill(args),
}


def main(flavor: str, command: str, args: list[str]) -> int:
    """Run one fake command; returns its exit code."""
    try:
        if command == "_daemon":
            Daemon(flavor).run()
            return 0
        if command == "shutdown":
            out, err, code = shutdown()
        else:
            out, err, code = COMMANDS[command](flavor, args)
    except Fail as fail:
        sys.stderr.write(fail.message.rstrip("\n") + "\n")
        return fail.code
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write("usage: fakesched.py shutdown | _daemon FLAVOR\n")
        sys.exit(2)
    if sys.argv[1] == "_daemon":
        sys.exit(main(sys.argv[2], "_daemon", []))
    sys.exit(main("pbs", sys.argv[1], sys.argv[2:]))

"""Names the sweep's modules share: parameter types, the files of a run folder, the run's environment."""

from __future__ import annotations

from typing import Any, Literal

ParamValue = Any
"""A parameter value: anything JSON can hold is stored readably, the rest is pickled."""
ParamMap = dict[str, Any]
"""The parameters of one run."""
FileLinkage = Literal["copy", "shared", "link"]
"""How an input file reaches a run folder."""
RunStatus = Literal["skipped", "pending", "running", "success", "failure"]
"""The state of one run."""

LINKAGES: tuple[str, ...] = ("copy", "shared", "link")
PARAMS_FILE = "params.json"
PARAMS_PICKLE = "params.pkl"
RESULTS_FILE = "results.pkl"
STATUS_FILE = "run_status.json"
INPUTS_FILE = "run_inputs.txt"
MANIFEST_FILE = "multirun.json"
SHARED_DIR = "shared"
STDOUT_LINK = "jobledger.stdout"
STDERR_LINK = "jobledger.stderr"
#: Environment variables set for each run (both are optional for the helpers).
RUN_DIR_ENV = "JOBLEDGER_RUN_DIR"
PARAMS_ENV = "JOBLEDGER_RUN_PARAMS"
INDEX_ENV = "JOBLEDGER_RUN_INDEX"
#: Lines of stderr kept on a run record.
STDERR_TAIL = 20

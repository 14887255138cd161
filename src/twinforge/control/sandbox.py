"""Running a proposal's closed loop in a separate, limited process.

The parent (:func:`run_sandboxed`) starts ``python -m twinforge.control.sandbox``, writes the job
(the twin's text, the proposal, replications, seed) to its stdin as JSON and reads the result from
its stdout, killing it after a wall-clock timeout. The child:

1. parses the twin and the proposal and runs the current-control (baseline) runs, which need no
   user code and load every module a run needs;
2. then locks itself down before any user code is compiled: memory (address space) limited to
   what it uses plus :data:`MEMORY_MB`, no file may be written (``RLIMIT_FSIZE`` 0), no file or
   socket may be opened (every descriptor but stdin/stdout/stderr closed and ``RLIMIT_NOFILE`` 3),
   a CPU ceiling, and, when it runs as root, the ``nobody`` user;
3. compiles the controller with only the allowed builtins (:mod:`twinforge.control.code`) and runs
   the proposal's runs, each call under a CPU timer (:mod:`twinforge.control.loop`).

A child that is killed (CPU ceiling, memory, timeout) or dies is reported with how it ended.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from typing import Any

#: memory a controller may use beyond what the simulation already holds
MEMORY_MB = 256
#: CPU seconds the whole child may use
CPU_S = 120
#: wall-clock seconds before the child is killed
TIMEOUT_S = 180.0


def run_sandboxed(
    twin_text: str, proposal: dict[str, Any], reps: int, seed: int, timeout: float = TIMEOUT_S
) -> dict[str, Any]:
    """The runs of a proposal and of the current control, computed in a limited child process.
    A child that does not finish gives ``{"killed": reason}``."""
    job = json.dumps({"twin": twin_text, "proposal": proposal, "reps": reps, "seed": seed})
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "twinforge.control.sandbox"],
            input=job,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"killed": f"the run did not finish within {timeout:g} s and was stopped"}
    if done.returncode != 0:
        if done.returncode < 0:
            sig = signal.Signals(-done.returncode).name
            why = {
                "SIGXCPU": f"it exceeded its CPU limit ({sig})",
                "SIGKILL": f"it was killed ({sig}), usually for exceeding its memory limit",
                "SIGSEGV": f"it crashed ({sig})",
            }.get(sig, f"it was stopped by {sig}")
        else:
            last = done.stderr.strip().splitlines()[-1:] or ["no message"]
            why = f"it exited with status {done.returncode}: {last[0][:300]}"
        return {"killed": f"the sandboxed run ended abnormally: {why}"}
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"killed": "the sandboxed run returned no readable result"}


def _lock_down() -> None:
    """Limits for everything that runs after this (see the module docstring)."""
    with open("/proc/self/status", encoding="ascii") as f:
        vm = next((int(line.split()[1]) for line in f if line.startswith("VmSize:")), 0) * 1024
    limit = vm + MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime) + CPU_S
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write then fails with an error instead
    os.closerange(3, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, 3))
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _child() -> None:
    job = json.loads(sys.stdin.read())
    from twinforge.control.code import load_controller
    from twinforge.control.loop import run_proposal
    from twinforge.control.proposal import ControllerProposal, parse_proposal
    from twinforge.spec.io import loads_spec

    twin = loads_spec(job["twin"])
    proposal = parse_proposal(job["proposal"])
    reps, seed = int(job["reps"]), int(job["seed"])
    base = run_proposal(twin, proposal, reps, seed, proposed=False)
    if base["problems"]:
        out = base
    else:
        _lock_down()
        controller = None
        if isinstance(proposal, ControllerProposal):
            try:
                controller = load_controller(proposal.code)
            except Exception as exc:  # the module body of the controller raised
                print(
                    json.dumps(
                        {"problems": [f"the controller code failed to load: {type(exc).__name__}: {exc}"]}
                    )
                )
                return
        out = run_proposal(twin, proposal, reps, seed, controller=controller, baseline=False)
        out["baseline"] = base["baseline"]
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    _child()

"""Ray: connect (or start a local cluster on 127.0.0.1), run one task per video with a bounded
number in flight, gather the outcomes in the driver.

``--ray local`` starts a private cluster on this machine (loopback only, no dashboard, no usage
statistics) and stops it at the end; ``--ray auto`` joins the cluster ``ray start`` runs here;
``--ray ADDRESS`` joins that cluster. Tasks need ``langvad`` importable on every node, and the
cache file (``--cache``) on storage every worker can write (one machine, or a shared folder
with working POSIX locks: the cache is SQLite in WAL mode, one writer at a time, with a busy
timeout)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from langvad.errors import LangvadError

INSTALL = "pip install 'langvad[ray]'"
LOCAL = "local"
OBJECT_STORE_BYTES = 256 * 1024 * 1024  # tasks pass configs and scores: small objects


class ScaleError(LangvadError):
    """Ray is missing, cannot be reached, or a task was lost."""


def _quiet_env(local: bool) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if local:
        # The node address a local cluster binds and announces: loopback, not the address
        # Ray would otherwise look up for reaching other machines.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


def require_ray(spec: str = LOCAL) -> Any:
    """Import Ray (set up to stay quiet, and on loopback for a local cluster) or raise the one
    error that names the extra to install."""
    _quiet_env(spec == LOCAL)
    try:
        import ray
    except ImportError:
        raise ScaleError(
            f"--ray needs Ray, which is not installed: {INSTALL}",
            hint=f"install the extra ({INSTALL}) or run without --ray",
        ) from None
    if spec == LOCAL:  # Ray imported before the env was set: the same switch, by hand
        constants = sys.modules.get("ray._private.ray_constants")
        if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
            constants.ENABLE_RAY_CLUSTER = False
    return ray


def check_task_cpus(task_cpus: float) -> None:
    if not task_cpus > 0:
        raise ScaleError(f"--ray-cpus {task_cpus}: must be > 0", hint="give e.g. --ray-cpus 1")


def local_cpus() -> int:
    """The CPUs this process may use (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def ray_session(spec: str, console: Console | None = None) -> Iterator[Any]:
    """Ray connected for the block: ``local`` starts a cluster on 127.0.0.1 (stopped at the
    end), ``auto`` or an address joins a running one. An already connected Ray is reused."""
    ray = require_ray(spec)
    if ray.is_initialized():
        yield ray
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if spec == LOCAL:
            ray.init(
                num_cpus=local_cpus(),
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                object_store_memory=OBJECT_STORE_BYTES,
                **quiet,
            )
        else:
            ray.init(address=spec, **quiet)
    except Exception as e:  # ConnectionError, ValueError, RuntimeError: all "cannot connect"
        where = "start a local Ray cluster" if spec == LOCAL else f"reach Ray at {spec!r}"
        raise ScaleError(
            f"cannot {where}: {' '.join(str(e).split())[:300]}",
            hint="start the cluster (ray start --head) for --ray auto, check the address, "
            "or use --ray local",
        ) from None
    if console is not None:
        cpus = ray.cluster_resources().get("CPU", 0)
        console.print(f"Ray: {spec}, {cpus:g} CPUs")
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass
class Outcome:
    """What a task gave back: its value, or the error it raised."""

    value: Any = None
    error: BaseException | None = None


@dataclass
class _Raised:
    """A LangvadError raised in a worker, carried back intact (its hint survives)."""

    kind: type[LangvadError]
    message: str
    hint: str


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """What runs in the worker: ``fn(*args)``, with a LangvadError returned, not raised."""
    try:
        return fn(*args)
    except LangvadError as e:
        return _Raised(type(e), e.message, e.hint)


def in_flight(ray: Any, task_cpus: float) -> int:
    """How many tasks to keep submitted: the cluster's CPUs / CPUs per task (at least 1)."""
    check_task_cpus(task_cpus)
    cpus = float(ray.cluster_resources().get("CPU", 0))
    if task_cpus > cpus:
        raise ScaleError(
            f"--ray-cpus {task_cpus:g} is more than the cluster's {cpus:g} CPUs",
            hint=f"give --ray-cpus {max(cpus, 1):g} or less",
        )
    return max(1, int(cpus // task_cpus))


def _outcome(ray: Any, ref: Any, name: str) -> Outcome:
    try:
        value = ray.get(ref)
    except Exception as e:  # the task crashed (worker killed, import error on the node)
        cause = getattr(e, "cause", None) or e
        first = next((ln for ln in str(cause).splitlines() if ln.strip()), type(cause).__name__)
        return Outcome(
            error=ScaleError(
                f"the Ray task for {name} failed: {first.strip()[:300]}",
                hint="see the Ray worker logs (/tmp/ray/session_latest/logs)",
            )
        )
    if isinstance(value, _Raised):
        return Outcome(error=value.kind(value.message, hint=value.hint))
    return Outcome(value=value)


def run_tasks(
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    names: Sequence[str],
    task_cpus: float = 1.0,
    on_done: Callable[[int, Outcome], None] | None = None,
) -> list[Outcome]:
    """``fn(*args[k])`` as one Ray task each (``task_cpus`` CPUs per task), at most
    :func:`in_flight` submitted at a time; the outcomes in the order of ``args``.

    ``fn`` must be a module-level function of an installed module (workers import it)."""
    ray = sys.modules.get("ray") or require_ray()
    remote = ray.remote(_call).options(num_cpus=task_cpus, max_retries=1)
    slots = in_flight(ray, task_cpus)
    outcomes: list[Outcome | None] = [None] * len(args)
    pending: dict[Any, int] = {}
    todo = iter(range(len(args)))
    while True:
        while len(pending) < slots and (k := next(todo, None)) is not None:
            pending[remote.remote(fn, *args[k])] = k
        if not pending:
            break
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            k = pending.pop(ref)
            outcomes[k] = _outcome(ray, ref, names[k])
            if on_done is not None:
                on_done(k, outcomes[k])
    return [o if o is not None else Outcome(error=ScaleError("task lost")) for o in outcomes]

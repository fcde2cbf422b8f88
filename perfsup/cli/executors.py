"""Which experiment executor a config asks for (`[executor] kind`)."""

from __future__ import annotations

from perfsup.config import Config
from perfsup.workspace.experiments import ExperimentExecutor


class ExecutorUnavailable(Exception):
    """The configured executor cannot be reached or is not installed."""


def experiment_executor(config: Config) -> ExperimentExecutor | None:
    """None for "local" (the engine runs commands here, as always)."""
    settings = config.executor
    if settings.kind == "local":
        return None
    if settings.kind == "dask":
        try:
            from perfsup.workspace.dask_executor import DaskExperiments
        except ImportError:
            raise ExecutorUnavailable(
                "executor kind 'dask' needs Dask: pip install 'perfsup[dask]'"
            ) from None
        try:
            return DaskExperiments(settings.scheduler)
        except (OSError, TimeoutError) as exc:
            raise ExecutorUnavailable(
                f"cannot reach the Dask scheduler at {settings.scheduler}: {exc}"
            ) from None
    from perfsup.workspace.sky_executor import SkyExperiments

    try:
        return SkyExperiments(settings.cluster)
    except RuntimeError as exc:
        raise ExecutorUnavailable(str(exc)) from None

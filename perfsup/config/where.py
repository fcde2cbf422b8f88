"""Where and how commands run: the sandbox and the executor tables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from perfsup.config.strict import _Strict


class SandboxSettings(_Strict):
    """The box build, check and bench commands run in (the model wrote that code)."""

    kind: Literal["auto", "bwrap", "unshare", "none"] = "auto"
    network: bool = Field(False, description="allow network access (off by default)")
    cpu_s: int = Field(3600, ge=1, description="CPU seconds per command")
    memory_mb: int = Field(8192, ge=64, description="address space per process, MiB")
    file_mb: int = Field(2048, ge=1, description="largest file a command may write, MiB")
    processes: int = Field(512, ge=8, description="processes and threads at once")
    pass_env: list[str] = Field(default_factory=list, description="variables passed through")
    writable_paths: list[str] = Field(
        default_factory=list, description="extra writable folders (for example a build cache)"
    )
    unix_sockets: bool = Field(
        False,
        description="let commands open Unix sockets (off: a socket file outside the box's "
        "private folders, Docker's for example, could otherwise be reached)",
    )


class ExecutorSettings(_Strict):
    """Where experiments run: here, on a Dask cluster, or on a SkyPilot cluster."""

    kind: Literal["local", "dask", "skypilot"] = Field(
        "local", description="local: this machine; dask: a Dask scheduler; skypilot: a cloud"
    )
    scheduler: str = Field("", description="dask: the scheduler address, tcp://host:8786")
    cluster: str = Field("", description="skypilot: the cluster name (one experiment at a time)")
    pipeline: bool = Field(
        False,
        description="propose the next experiment while one benchmarks (remote executor or a "
        "model served off this CPU only)",
    )
    max_requeues: int = Field(
        2, ge=0, le=20, description="re-submissions of an experiment whose host was lost"
    )

    @model_validator(mode="after")
    def _kind_needs(self) -> ExecutorSettings:
        if self.kind == "dask" and not self.scheduler:
            raise ValueError("kind = 'dask' needs scheduler (for example 'tcp://box1:8786')")
        if self.kind == "skypilot" and not self.cluster:
            raise ValueError("kind = 'skypilot' needs cluster (a SkyPilot cluster name)")
        return self

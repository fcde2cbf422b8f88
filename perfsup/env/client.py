"""The client of a perfsup environment server: OpenEnv's WebSocket client with
perfsup's action, observation and state types.

    from perfsup.env.client import PerfEnvClient
    from perfsup.env.models import PerfAction

    with PerfEnvClient("http://127.0.0.1:8000").sync() as env:
        env.reset(task="go-demo")
        result = env.step(PerfAction(kind="tests"))
"""

from __future__ import annotations

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from perfsup.env.models import PerfAction, PerfObservation, PerfState

__all__ = ["PerfEnvClient"]

# A step that changes code builds, tests and benchmarks in pairs: minutes, not seconds.
STEP_TIMEOUT_S = 1800.0


class PerfEnvClient(EnvClient[PerfAction, PerfObservation, PerfState]):
    """Talks to `perfsup env serve` over its WebSocket."""

    def __init__(self, base_url: str, message_timeout_s: float = STEP_TIMEOUT_S) -> None:
        super().__init__(base_url, message_timeout_s=message_timeout_s)

    def _step_payload(self, action: PerfAction) -> dict[str, Any]:
        return action.model_dump(exclude_defaults=True) | {"kind": action.kind}

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[PerfObservation]:
        fields = dict(payload.get("observation", {}))
        fields["reward"] = payload.get("reward")
        fields["done"] = bool(payload.get("done", False))
        obs = PerfObservation.model_validate(fields)
        return StepResult(observation=obs, reward=obs.reward, done=obs.done)

    def _parse_state(self, payload: dict[str, Any]) -> PerfState:
        return PerfState.model_validate(payload)

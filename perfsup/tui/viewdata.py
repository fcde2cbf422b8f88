"""What the overview and the progress chart show, read in the app's store worker.

No Textual here. The readers keep what is costly (the best node's path, the
samples read so far) between the once-a-second reads, so a refresh is a few
aggregate queries whatever the size of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from perfsup.config import Config
from perfsup.results.overview import Overview, OverviewReader
from perfsup.results.progress import Progress, ProgressReader
from perfsup.results.wording import unit_of
from perfsup.store import Run, Store

__all__ = ["ViewData", "ViewReader"]


@dataclass(frozen=True)
class ViewData:
    overview: Overview | None
    progress: Progress | None


class ViewReader:
    def __init__(self, store: Store, config: Config | None, now: Callable[[], datetime]) -> None:
        self.store = store
        self.overview = OverviewReader(config, now)
        spec = config.metrics[0] if config else None
        self.progress = ProgressReader(spec, unit_of(spec.name, spec.unit)) if spec else None

    def read(self, run_id: int | None) -> ViewData:
        with self.store.session() as s:
            query = select(Run).order_by(col(Run.id).desc())
            if run_id is not None:
                query = select(Run).where(Run.id == run_id)
            run = s.exec(query).first()
            if run is None:
                return ViewData(None, None)
            progress = self.progress.read(s, run) if self.progress else None
            return ViewData(self.overview.read(s, run), progress)

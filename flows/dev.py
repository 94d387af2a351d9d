"""One process that serves every flow as a deployment (`make dev`): local development with
the Prefect UI and no worker or work pool. Each flow gets a `dev` deployment that runs in
this process when triggered from the UI or with `prefect deployment run <flow>/dev`.

    make server        # in one shell: the API and UI on http://127.0.0.1:4200
    make dev           # in another: serve the flows until Ctrl-C
"""

from __future__ import annotations

from prefect import serve

from recsys.flows.backfill import backfill
from recsys.flows.pipeline import pipeline
from recsys.flows.refresh import refresh
from recsys.flows.tune import tune


def main() -> None:
    """Serve the four flows (blocks until interrupted)."""
    serve(
        pipeline.to_deployment(name="dev", tags=["recsys", "dev"]),
        refresh.to_deployment(name="dev", tags=["recsys", "dev"]),
        tune.to_deployment(name="dev", tags=["recsys", "dev"]),
        backfill.to_deployment(name="dev", tags=["recsys", "dev"]),
    )


if __name__ == "__main__":
    main()

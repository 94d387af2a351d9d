"""Running the suites as GX 1.x checkpoints on one-row aggregate frames, with Data Docs.

One ephemeral context per quality stage holds every checkpoint, so GX starts once; when a
docs folder is given, `build_docs` renders all their validation results there at the end.
`Checkpoint.run()` does not raise on failed expectations: results are read, never assumed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from recsys.expectations.offline import make_offline

SITE = "run"


class Checkpoints:
    """An ephemeral GX context that validates one-row frames and (optionally) builds docs."""

    def __init__(self, docs_dir: Path | None = None) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        self.gx = gx
        self.ctx = gx.get_context(mode="ephemeral")
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.docs_dir = docs_dir
        if docs_dir is not None:
            self.ctx.add_data_docs_site(
                site_name=SITE,
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(docs_dir),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )

    @property
    def docs_index(self) -> Path | None:
        return self.docs_dir / "index.html" if self.docs_dir else None

    def run(self, name: str, expectations: list, profile: dict) -> list[dict]:
        """Validate `profile` (one row); one result dict per expectation, in suite order."""
        gx = self.gx
        batch = (
            self.ctx.data_sources.add_pandas(f"{name}_source")
            .add_dataframe_asset(f"{name}_profile")
            .add_batch_definition_whole_dataframe("profile")
        )
        suite = self.ctx.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        validation = self.ctx.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        checkpoint = self.ctx.checkpoints.add(
            gx.Checkpoint(name=f"{name}_checkpoint", validation_definitions=[validation])
        )
        result = checkpoint.run(batch_parameters={"dataframe": pd.DataFrame([profile])})
        rows = []
        for validation_result in result.run_results.values():
            for r in validation_result.results:
                meta = r.expectation_config.meta or {}
                observed = (r.result or {}).get("observed_value")
                rows.append(
                    {
                        "checkpoint": name,
                        "id": meta.get("id", r.expectation_config.type),
                        "rule": meta.get("rule", r.expectation_config.type),
                        "severity": meta.get("severity", "fail"),
                        "fix": meta.get("fix", ""),
                        "column": r.expectation_config.kwargs.get("column"),
                        "observed": observed.item() if hasattr(observed, "item") else observed,
                        "passed": bool(r.success),
                    }
                )
        if len(rows) != len(expectations):
            raise RuntimeError(f"GX returned {len(rows)} results for {len(expectations)} checks")
        return rows

    def build_docs(self) -> Path | None:
        """Render every validation of this context into the docs folder, once (rendering
        per checkpoint costs ~0.8 s each); returns its index.html."""
        if self.docs_dir is None:
            return None
        self.ctx.build_data_docs(site_names=[SITE])
        make_offline(self.docs_dir)
        return self.docs_index

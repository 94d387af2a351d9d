"""Co-occurrence fusion channel: next-item HR@20 of the exported item lists on MovieLens-100K.

Not a speed benchmark: a quality measurement kept beside them so `make bench ARGS=fusion`
reproduces the number. The pipeline's stage functions (no Prefect) extract and train once;
export then runs with `export.cooccurrence_weight` 0 (embedding only), several blends, and
co-occurrence dominating, and each export scores its own `item_recs.parquet` against the
held-out next-item pairs (the split evaluate uses; counts come from training sessions only).
Also reports the genre rule (same first genre only) on the same model, from ml-100k.item.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ml-100k"
if SHARED.is_dir():  # the team's copy; otherwise datasets.py fetches the pinned one
    import os

    os.environ.setdefault("RECSYS_ML100K_DIR", str(SHARED))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from recsys.config import PipelineConfig  # noqa: E402
from recsys.data import movielens  # noqa: E402
from recsys.layout import RunPaths  # noqa: E402
from recsys.tasks.export import export  # noqa: E402
from recsys.tasks.extract import extract  # noqa: E402
from recsys.tasks.train import train  # noqa: E402

HR = "item_recs hr@20 (test split)"


def genres(raw: Path, out: Path) -> Path:
    """item_id -> first genre token, from the RecBole-style ml-100k.item file."""
    lines = (raw / "ml-100k.item").read_text(encoding="latin-1").splitlines()
    header = lines[0].split("\t")
    col_id = next(i for i, h in enumerate(header) if h.startswith("item_id"))
    col_genre = next(i for i, h in enumerate(header) if h.startswith("class"))
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    ids = [r[col_id] for r in rows]
    first = [
        (r[col_genre].split() or ["unknown"])[0] if len(r) > col_genre else "unknown" for r in rows
    ]
    pq.write_table(pa.table({"item_id": ids, "genre": first}), out)
    return out


def main(quick: bool = False) -> list[dict]:
    data = Path(tempfile.mkdtemp(prefix="bench-fusion-"))
    cfg = PipelineConfig()
    if quick:
        cfg.train.epochs = 5
    paths = RunPaths.new(data, str(movielens.ml100k_events(data))).ensure()
    extract(paths, cfg)
    train(paths, cfg)
    rows = []
    attrs = genres(movielens.ml100k_raw(data), data / "genres.parquet")
    variants = {
        "embedding only": {},
        "fusion w=0.2": {"cooccurrence_weight": 0.2},
        "fusion w=0.5": {"cooccurrence_weight": 0.5},
        "fusion w=1": {"cooccurrence_weight": 1.0},
        "fusion w=2": {"cooccurrence_weight": 2.0},
        "fusion w=10 (co-occurrence leads)": {"cooccurrence_weight": 10.0},
        "embedding, same first genre": {
            "item_attributes": str(attrs),
            "same_attribute": "genre",
        },
    }
    for label, over in variants.items():
        export_cfg = cfg.export.model_copy(update=over)
        start = time.perf_counter()
        details = export(paths, cfg.model_copy(update={"export": export_cfg})).details
        rows.append(
            {
                "ml-100k export": label,
                "hr@20": details[HR],
                "rows from co-occurrence": details["item_rows_from_cooccurrence"],
                "same_attribute removed": details["item rule same_attribute removed"],
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
    return rows


if __name__ == "__main__":
    for row in main(quick="--quick" in sys.argv):
        print(row)

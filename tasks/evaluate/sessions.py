"""The session task: each case is scored from its whole recent session, not its last item.

This is what user lists and live session recall (`POST /recommend`) answer, and where
item2vec's decay-weighted session vector is strongest. Cases are a sample of whole held-out
sessions (`evaluate.session_cases`), so the per-case baselines (session-kNN above all) stay
bounded on big logs. Scored unsharded: the sample is what bounds the cost.
"""

from __future__ import annotations

from pathlib import Path

from recsys import sqlrun
from recsys.config import PipelineConfig
from recsys.tasks.evaluate import baselines
from recsys.tasks.evaluate.gate import CHAMPION, EMBEDDING, MODEL
from recsys.tasks.evaluate.lists import channels_of, session_lists
from recsys.tasks.evaluate.shards import (
    ALL_SESSIONS,
    Scored,
    combine_paired,
    paired_counts,
    rates,
)

LIST_TABLES = {"lists": "session_candidates"}
HIT_TABLES = {"cases": "session_cases", "lists": "session_candidates", "hits": "session_hits"}


def score_sessions(
    stage_db: Path,
    model: Scored,
    champion: Scored | None,
    lists_path: Path,
    cfg: PipelineConfig,
    depth: int,
    sample_ppm: int = ALL_SESSIONS,
) -> dict:
    """{'cases', 'models'} of the session task ({} when it is off or has no cases)."""
    ev, ex = cfg.evaluate, cfg.export
    if ev.session_cases == 0:
        return {}
    with sqlrun.connect(stage_db, read_only=True) as con:
        sqlrun.run(
            con,
            "evaluate/pairs",
            {"lo": None, "hi": None, "sample_lo": 0, "sample_ppm": sample_ppm},
        )
        sqlrun.run(con, "evaluate/session_cases", {"max_cases": ev.session_cases})
        cases = con.execute("select count(*) from session_cases").fetchone()[0]
        if cases == 0:
            return {}
        sqlrun.run(con, "evaluate/session_prefix")
        sqlrun.run(con, "evaluate/all_lists", {"path": str(lists_path)})
        sqlrun.run(con, "evaluate/session_lists")
        baselines.session_lists(con, ev, depth)
        counts = sqlrun.arrow(con, "evaluate/channel_lists", {"source": ex.count_channel})
        prefix = con.sql("select pair_id, item_id, recency from session_prefix").to_arrow_table()
        scored = [(MODEL, model), *([(CHAMPION, champion)] if champion else [])]
        for source, m in scored:
            channels = channels_of(m.emb, m.scoring, counts, m.emb.counts)
            made = session_lists(
                channels,
                m.emb,
                prefix,
                ex.user_history,
                m.recency_decay,
                depth,
                m.session_weights,
            )
            names = {"item2vec": source, "embedding": EMBEDDING if source == MODEL else None}
            for kind, name in names.items():
                if name is not None:
                    con.register("model_neighbours", made[kind])
                    sqlrun.run(con, "evaluate/model_candidates", {"source": name}, LIST_TABLES)
            fallback = {"source": source, "fallback": "spop"}
            sqlrun.run(con, "evaluate/cold_fallback", fallback, LIST_TABLES)
        sqlrun.run(con, "evaluate/hits", {"exclude_seen": ev.exclude_session_items}, HIT_TABLES)
        hits = sqlrun.run(con, "evaluate/hit_counts", idents=HIT_TABLES).fetchall()
        sources = [r[0] for r in sqlrun.run(con, "evaluate/sources", idents=LIST_TABLES).fetchall()]
        paired = combine_paired([paired_counts(con, cfg.gate.k, HIT_TABLES)])
    return {"cases": cases, "models": rates(hits, sources, cases, ev.ks), "paired": paired}

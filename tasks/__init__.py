"""The stages, one package each: plain functions doing the work, a thin Prefect task, and
the helpers only that stage uses. Every stage task takes (paths, cfg): the run's
`RunPaths` and the whole `PipelineConfig`, of which it reads its own section.

    extract/    events -> typed, cleaned, sessionized events and the corpus (+ warehouse)
    quality/    GX checkpoints on DuckDB aggregates, drift against the published run
    train/      gensim item2vec (+ DeepWalk, warm start), or adopt the published vectors
    evaluate/   metrics vs baselines and the champion, gate, diagnostics, run report
    export/     the serving index and the recommendation lists
    tune/       the tasks of a hyperparameter search
    publish.py  manifest and the atomic switch of published/current
    rundir.py   the run as a Prefect transaction, rolled back to its reports on failure
"""

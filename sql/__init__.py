"""SQL models, a folder per stage, one statement per file; run only through recsys.sqlrun."""

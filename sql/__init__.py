"""SQL models, one statement per file; run only through recsys.sqlrun."""

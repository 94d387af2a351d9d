"""Great Expectations suites, one per checkpoint, built in code."""

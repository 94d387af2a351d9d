"""`recsys serve`: the published model over HTTP, with live session recall and hot swaps.

model.py     a verified run loaded read-only: its channels, lists, rules, popularity order
lookup.py    rows of one id in a sorted Arrow table (binary search)
rules.py     the export's business rules as numpy masks
recall.py    the answers: similar items, a user's list, live session recall, `because`
swap.py      following `published/current`: verify, load beside, switch, free the old
metrics.py   Prometheus metrics and the middleware that records every request
limits.py    request limits and the oversized-body guard
reports.py   kept runs' HTML reports, read-only
app.py       the FastAPI app: routes, answers, error shapes
server.py    uvicorn in one process, clean exit on SIGINT/SIGTERM
startup.py   a stop signal before uvicorn runs is a clean exit too

Importing this package imports none of its modules: `recsys similar` uses model.py and
recall.py without loading the web stack.
"""

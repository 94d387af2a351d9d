"""Print the command-line part of the hostile catalogue as a Markdown table (case, exit code,
the one error line), as docs/robustness.md shows it:

    python tests/hostile/catalogue_table.py > /tmp/table.md
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile_catalogue import PREFLIGHT, fake_champion
from recsys.cli import main
from recsys.ops import server


def _refuse_prefect() -> None:
    raise SystemExit("a preflight case started Prefect")


def rows() -> list[tuple[str, int, str]]:
    server.start_local_api = _refuse_prefect
    out = []
    for name in sorted(PREFLIGHT):
        case = PREFLIGHT[name]
        with tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)
            data = fake_champion(scratch / "data")
            args = case.args(scratch)
            if "--data-dir" not in args and args[0] in ("run", "similar", "rollback", "tune"):
                args = [args[0], "--data-dir", str(data), *args[1:]]
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(args)
            line = (err.getvalue().strip().splitlines() or [""])[0]
            out.append((name, code, line.replace(str(scratch), "…")))
    return out


if __name__ == "__main__":
    print("| case | exit | the one line on stderr |\n|---|---:|---|")
    for name, code, line in rows():
        print(f"| {name} | {code} | {line.replace('|', chr(92) + '|')} |")

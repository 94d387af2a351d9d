#!/usr/bin/env bash
# Refresh the README's Prefect UI screenshots from a real local server (`make screenshots`).
# Needs Debian's chromium (apt-get install chromium). Runs the pipeline once on
# MovieLens-100K against a throw-away server home, then photographs the flow run, two
# artifacts and a run the gate refused (rolled back) with headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
PORT=${PORT:-4290}
WORK=$(mktemp -d)
export PREFECT_HOME="$WORK/home" PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_API_URL="http://127.0.0.1:$PORT/api"
"$BIN/prefect" server start --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 90); do curl -sf "$PREFECT_API_URL/health" >/dev/null && break; sleep 1; done
"$BIN/recsys" run --data-dir "$WORK/data" >/dev/null
FLOW_RUN=$(curl -sf -X POST "$PREFECT_API_URL/flow_runs/filter" -H 'content-type: application/json' \
  -d '{"limit": 1, "sort": "START_TIME_DESC"}' | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
shot() {  # shot NAME URL_PATH
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/chromium" --window-size=1400,1000 --virtual-time-budget=15000 \
    --screenshot="docs/img/$1.png" "http://127.0.0.1:$PORT$2" >/dev/null 2>&1
  echo "docs/img/$1.png"
}
artifact() {  # artifact KEY -> id of its newest version
  curl -sf -X POST "$PREFECT_API_URL/artifacts/filter" -H 'content-type: application/json' \
    -d "{\"artifacts\": {\"key\": {\"any_\": [\"$1\"]}}, \"limit\": 1, \"sort\": \"CREATED_DESC\"}" \
    | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'
}
shot flow-run "/runs/flow-run/$FLOW_RUN"
shot metrics-artifact "/artifacts/artifact/$(artifact recsys-metrics)"
shot evaluate-artifact "/artifacts/artifact/$(artifact recsys-evaluate)"
# A run the gate refuses (exit 4): its open-run task shows RolledBack, the failure artifact why.
"$BIN/recsys" run --data-dir "$WORK/data" --set gate.min_hr=1.0 >/dev/null 2>&1 || true
REFUSED=$(curl -sf -X POST "$PREFECT_API_URL/flow_runs/filter" -H 'content-type: application/json' \
  -d '{"limit": 1, "sort": "START_TIME_DESC"}' | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
shot refused-run "/runs/flow-run/$REFUSED"

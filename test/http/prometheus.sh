#!/usr/bin/env bash
# A real Prometheus server (Debian package prometheus) scrapes the http
# endpoint's /metrics on loopback, and its query API returns xalloc's
# allocated bytes for the program (which holds 8 MiB).  Fails against a
# library without the endpoint (the target stays down, the query is empty).
. "$(dirname "$0")/common.sh"
need curl python3 prometheus

port=$(free_port)
start_child "http:127.0.0.1:$port" 8
wait_http "http://127.0.0.1:$port/metrics"
pport=$(free_port)
cat > "$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: xalloc
    static_configs:
      - targets: ['127.0.0.1:$port']
YML
# 9>&-: the server must not hold the child's stdin fifo open (stop_child
# ends the child by closing it)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$pport" > "$work/prometheus.log" 2>&1 9>&- &
extra_pids=$!
api="http://127.0.0.1:$pport/api/v1/query?query=xalloc_allocated_bytes"
val=
for _ in $(seq 120); do
    val=$(curl -sf "$api" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null)
    [ -n "$val" ] && break
    sleep 0.5
done
if [ -z "$val" ]; then
    tail -20 "$work/prometheus.log" >&2
    curl -s "http://127.0.0.1:$pport/api/v1/targets" >&2
    fail "prometheus has no xalloc_allocated_bytes after 60 s"
fi
python3 -c "import sys; v = float('$val'); sys.exit(0 if v >= 8 * 2**20 else 1)" ||
    fail "prometheus reports xalloc_allocated_bytes $val, the program holds >= 8 MiB"
health=$(curl -sf "http://127.0.0.1:$pport/api/v1/targets" | python3 -c '
import json, sys
print(json.load(sys.stdin)["data"]["activeTargets"][0]["health"])')
[ "$health" = up ] || fail "target health $health"
echo "$name: prometheus scraped 127.0.0.1:$port: xalloc_allocated_bytes = $val, target $health"
stop_child
echo "$name: 1 passed, 0 failed"

#!/bin/bash
# A/B of two Rempart builds on the same machine in the same run: one server behind each, same
# configuration (detection, rate limits and access log off), nginx `return 200` as the origin,
# wrk -t1 -c50 for 5 s against each, rounds interleaved. Usage: bench/ab-dist.sh <distA> <distB> [rounds]
# DETECTION=dryrun: detection on in dry run (every decision computed, none enforced: wrk is one
# client flooding), for a change to what detection does per request. URLPATH: the path wrk asks for
# (default /track/1, which has no cost key; /search?q=colis+suivi has one).
# METHOD=POST with URLPATH=/search: a posted form (q=colis+suivi), for the body's cost key.
# Run it under the bench lock (flock /tmp/rempart-bench.lock ...): it is load.
set -eu
A=$1; B=$2; ROUNDS=${3:-4}
D=$(mktemp -d); mkdir -p "$D/ng"
cat > "$D/ng/nginx.conf" <<NG
worker_processes 1; pid $D/ng/nginx.pid; error_log $D/ng/error.log error; daemon off;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:19380; location / { return 200 "ok"; } } }
NG
nginx -p "$D/ng" -c "$D/ng/nginx.conf" & NG=$!
PIDS=()
for v in A B; do
  port=$([ $v = A ] && echo 19381 || echo 19382); dist=$([ $v = A ] && echo "$A" || echo "$B")
  cat > "$D/$v.yaml" <<Y
listen: { address: 127.0.0.1, port: $port }
admin: { address: 127.0.0.1, port: $((port+100)) }
upstreams: { origin: { url: http://127.0.0.1:19380, connections: 64 } }
routes: [ { match: { path: / }, upstream: origin, class: normal } ]
rateLimits: { enabled: false }
detection: $([ "${DETECTION:-off}" = dryrun ] && echo '{ enabled: true, dryRun: true }' || echo '{ enabled: false }')
log: { level: warn, access: false }
Y
  node "$dist/src/cli/main.js" start --config "$D/$v.yaml" > "$D/$v.log" 2>&1 & PIDS+=($!)
done
trap 'kill ${PIDS[@]} $NG 2>/dev/null; rm -rf "$D"' EXIT
SCRIPT=
if [ "${METHOD:-GET}" = POST ]; then
  SCRIPT="$D/post.lua"
  printf '%s\n' 'wrk.method = "POST"' 'wrk.body = "q=colis+suivi"' 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"' > "$SCRIPT"
fi
sleep 3
for r in $(seq 1 "$ROUNDS"); do
  for v in A B; do
    port=$([ $v = A ] && echo 19381 || echo 19382)
    echo "round $r $v $(wrk -t1 -c50 -d5s ${SCRIPT:+-s "$SCRIPT"} "http://127.0.0.1:$port${URLPATH:-/track/1}" | awk '/Requests\/sec/ {print $2}') req/s"
  done
done

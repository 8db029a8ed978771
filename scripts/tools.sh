#!/usr/bin/env bash
# Shared helpers for run.sh and test.sh: install the npm tooling from the lockfile and manage Azurite.
# Sourced, not executed.

LLMCOST_ROOT="${LLMCOST_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
LLMCOST_TOOLS="$LLMCOST_ROOT/tools"

# Installs Azurite and the genai-prices oracle exactly as pinned by tools/package-lock.json (npm ci),
# only when missing or when the lockfile changed since the last install.
ensure_node_tools() {
  local stamp="$LLMCOST_TOOLS/node_modules/.llmcost-lock.sha256"
  local want
  want="$(sha256sum "$LLMCOST_TOOLS/package-lock.json" | cut -d' ' -f1)"
  if [[ -x "$LLMCOST_TOOLS/node_modules/.bin/azurite" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  echo "installing node tooling (azurite, genai-prices) from tools/package-lock.json" >&2
  (cd "$LLMCOST_TOOLS" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" > "$stamp"
}

# azurite_answers PORT: true when something answers HTTP on the table port.
azurite_answers() {
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/devstoreaccount1/Tables"
}

# start_azurite BLOB_PORT QUEUE_PORT TABLE_PORT: starts an in-memory Azurite on loopback in the background
# and waits until it answers. Sets AZURITE_PID. The caller stops it (stop_azurite).
start_azurite() {
  local blob="$1" queue="$2" table="$3"
  ensure_node_tools
  "$LLMCOST_TOOLS/node_modules/.bin/azurite" --inMemoryPersistence --silent --skipApiVersionCheck --loose \
    --blobHost 127.0.0.1 --blobPort "$blob" --queueHost 127.0.0.1 --queuePort "$queue" \
    --tableHost 127.0.0.1 --tablePort "$table" --disableProductStyleUrl >"${AZURITE_LOG:-/dev/null}" 2>&1 &
  AZURITE_PID=$!
  for _ in $(seq 1 150); do
    if azurite_answers "$table" && curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$blob/devstoreaccount1?comp=list" \
       && curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$queue/devstoreaccount1?comp=list"; then
      return 0
    fi
    if ! kill -0 "$AZURITE_PID" 2>/dev/null; then
      echo "azurite exited during start-up" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "azurite did not answer within 30 s" >&2
  return 1
}

# Azurite's SIGTERM handler closes its servers gracefully and can wait on idle keep-alive connections for a
# long time (seen: forever after the service it served had exited), so ask once, give it 5 s, then kill it.
# It runs in memory: there is nothing on disk to lose.
stop_azurite() {
  if [[ -n "${AZURITE_PID:-}" ]] && kill -0 "$AZURITE_PID" 2>/dev/null; then
    kill "$AZURITE_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$AZURITE_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$AZURITE_PID" 2>/dev/null || true
    wait "$AZURITE_PID" 2>/dev/null || true
  fi
  AZURITE_PID=""
}

# free_loopback_ports N: N distinct TCP ports free on 127.0.0.1 right now, space-separated (parallel test runs
# on one machine must not collide on fixed ports).
free_loopback_ports() {
  node -e 'const net=require("net");const n=+process.argv[1];const ports=[];const socks=[];
    (function next(){ if(ports.length===n){ socks.forEach(s=>s.close()); console.log(ports.join(" ")); return; }
      const s=net.createServer(); s.listen(0,"127.0.0.1",()=>{ ports.push(s.address().port); socks.push(s); next(); }); })();' "$1"
}

# The well-known Azurite development account (public, documented by Microsoft; not a secret).
azurite_connection_string() {
  local blob="$1" queue="$2" table="$3"
  echo "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"
}

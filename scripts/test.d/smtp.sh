#!/usr/bin/env bash
# Sourced by test.sh before Azurite starts. Starts a REAL SMTP server on loopback for the alert e-mail tests:
# aiosmtpd (Debian package python3-aiosmtpd) with a handler that writes every received message to a folder as
# an .eml file. Exports LLMCOST_TEST_SMTP (host:port) and LLMCOST_TEST_SMTP_DIR; stops and cleans up on exit.
# Usage outside test.sh: source scripts/test.d/smtp.sh (optionally LLMCOST_TEST_SMTP_PORT=NNNN first).

llmcost_smtp_python="/usr/bin/python3"
if ! "$llmcost_smtp_python" -c 'import aiosmtpd' 2>/dev/null; then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    echo "installing python3-aiosmtpd (SMTP server for the e-mail tests)" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-aiosmtpd >&2
  else
    echo "python3-aiosmtpd is missing: apt-get install python3-aiosmtpd (as root)" >&2
    return 1
  fi
fi

# A free loopback port unless one is given (parallel test runs on one machine must not collide).
LLMCOST_TEST_SMTP_PORT="${LLMCOST_TEST_SMTP_PORT:-$("$llmcost_smtp_python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
LLMCOST_TEST_SMTP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/llmcost-smtp.XXXXXX")"
llmcost_smtp_script="$LLMCOST_TEST_SMTP_DIR.py"
cat > "$llmcost_smtp_script" <<'PY'
import os, signal, sys, threading, time, uuid
from aiosmtpd.controller import Controller

folder, port = sys.argv[1], int(sys.argv[2])

class Sink:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(folder, f"{time.time_ns()}-{uuid.uuid4().hex}.eml")
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name)  # readers only ever see complete messages
        return "250 OK"

controller = Controller(Sink(), hostname="127.0.0.1", port=port)
controller.start()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
controller.stop()
PY
"$llmcost_smtp_python" "$llmcost_smtp_script" "$LLMCOST_TEST_SMTP_DIR" "$LLMCOST_TEST_SMTP_PORT" \
  >"$LLMCOST_TEST_SMTP_DIR.log" 2>&1 &
LLMCOST_SMTP_PID=$!
LLMCOST_CLEANUP+=("kill $LLMCOST_SMTP_PID 2>/dev/null; wait $LLMCOST_SMTP_PID 2>/dev/null; rm -rf '$LLMCOST_TEST_SMTP_DIR' '$LLMCOST_TEST_SMTP_DIR.log' '$llmcost_smtp_script'")
for _ in $(seq 1 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$LLMCOST_TEST_SMTP_PORT") 2>/dev/null; then
    break
  fi
  if ! kill -0 "$LLMCOST_SMTP_PID" 2>/dev/null; then
    echo "SMTP sink exited during start-up: $(cat "$LLMCOST_TEST_SMTP_DIR.log")" >&2
    return 1
  fi
  sleep 0.1
done
export LLMCOST_TEST_SMTP="127.0.0.1:$LLMCOST_TEST_SMTP_PORT"
export LLMCOST_TEST_SMTP_DIR

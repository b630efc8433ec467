#!/usr/bin/env bash
# `make run`: migrate, seed the demo, simulate a month, serve. With no STRIPE_API_KEY, invoices settle
# against the local Stripe-compatible test server (devtools/stripe_server), started here and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export DEBUG=${DEBUG:-true}
mkdir -p var

if [ -z "${STRIPE_API_KEY:-}" ]; then
  STRIPE_PORT=${LOCAL_STRIPE_PORT:-12111}
  export STRIPE_API_KEY=sk_test_local_demo
  export STRIPE_API_BASE="http://127.0.0.1:${STRIPE_PORT}"
  export STRIPE_WEBHOOK_SECRET=whsec_local_demo_only_not_a_secret
  "$PY" -m devtools.stripe_server --port "$STRIPE_PORT" \
    --webhook-url "http://${HOST}:${PORT}/webhooks/stripe" --webhook-secret "$STRIPE_WEBHOOK_SECRET" \
    > var/stripe-test-server.log 2>&1 &
  STRIPE_PID=$!
  trap 'kill "$STRIPE_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/${STRIPE_PORT}") 2>/dev/null && break
    sleep 0.1
  done
  echo "No STRIPE_API_KEY: payments go to the LOCAL Stripe test server at ${STRIPE_API_BASE} (nothing real is charged)."
fi

# Outbound webhooks go to a local receiver that verifies their signatures and logs them (the portal shows
# each endpoint's delivery log). Loopback is refused to endpoints unless an operator allows it: this demo does.
# The secrets are seed_demo's fixed dev-only DEMO_WEBHOOK_SECRET and DEMO_CUSTOMER_WEBHOOK_SECRET.
RECEIVER_PORT=12112
export WEBHOOKS_OUT_ALLOWED_NETWORKS=127.0.0.0/8
"$PY" -m devtools.webhook_receiver --port "$RECEIVER_PORT" \
  --secret whsec_dmVyaXR5LWRlbW8tcmVjZWl2ZXI6dmVuZG9yOm5vdC1hLXNlY3JldA== \
  --secret whsec_dmVyaXR5LWRlbW8tcmVjZWl2ZXI6Y29udG9zbzpub3QtYS1zZWNyZXQ= \
  > var/webhook-receiver.log 2>&1 &
RECEIVER_PID=$!
trap 'kill "$RECEIVER_PID" ${STRIPE_PID:+"$STRIPE_PID"} 2>/dev/null || true' EXIT

"$PY" manage.py migrate --no-input
"$PY" manage.py seed_demo --if-empty
LOG_LEVEL=WARNING "$PY" manage.py demo_activity --if-quiet

cat <<MSG

  Verity is running:
    Portal    http://${HOST}:${PORT}/         (demo login: demo@verity.test / verity-demo)
    Customer  http://${HOST}:${PORT}/customer/ (Contoso Legal's person: buyer@contoso.test / verity-customer)
    API docs  http://${HOST}:${PORT}/api/docs/
    Admin     http://${HOST}:${PORT}/admin/   (operator login: operator / verity-operator; every vendor's data)
    Schema    http://${HOST}:${PORT}/api/schema/
    Webhooks  the demo receiver at http://127.0.0.1:${RECEIVER_PORT}/ logs every event to var/webhook-receiver.log
  The demo API key and webhook secrets are shown once, by seed_demo on the first run; later runs say
  where to get new ones.

MSG
# The banner above says this is a local demo; Django's "development server" warning would only repeat it.
DJANGO_RUNSERVER_HIDE_WARNING=true "$PY" manage.py runserver "${HOST}:${PORT}"

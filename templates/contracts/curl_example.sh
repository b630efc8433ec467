{% autoescape off %}SECRET={{ secret }}
BODY={{ body }}

MSG_ID="msg_$(date +%s%N)"
TS=$(date +%s)
KEY_HEX=$(printf '%s' "${SECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
SIG=$(printf '%s' "$MSG_ID.$TS.$BODY" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY_HEX" -binary | base64)

curl -sS -X POST '{{ url }}' \
  -H 'content-type: application/json' \
  -H "webhook-id: $MSG_ID" -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \
  --data-binary "$BODY"
{% endautoescape %}

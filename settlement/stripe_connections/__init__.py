"""Which Stripe account a vendor settles in: connect its own account (a secret or restricted key and the
signing secret of its webhook endpoint) or, in platform mode, a connected account; test, rotate, set tax,
disconnect.

Every credential is checked in Stripe before it is saved (GET /v1/account, outside any transaction), and
nothing changes when Stripe refuses it or cannot be reached. Secrets are stored encrypted
(core.crypto), never returned, logged or audited: only the key's last 4 characters are kept in clear.
Only an owner, or the vendor API with a write key, changes the connection; every change is audited.
A vendor changes account only when no settlement is under way in the current one.
"""

"""Writes of the outbound webhooks app: endpoints and their secrets (endpoints.py), and the resends and
test events people ask for (deliveries.py)."""

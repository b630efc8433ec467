"""Webhook ingestion: the request path from a signed delivery to stored raw events (delivery_receive)."""

"""The vendor REST API (/api/v1): API-key authentication, one error shape, views per resource."""

"""Write operations of the outcomes app, one module per domain word."""

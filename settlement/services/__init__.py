"""Write operations of the settlement app, one module per domain word."""

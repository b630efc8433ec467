"""Write operations of the contracts app, one module per domain word."""

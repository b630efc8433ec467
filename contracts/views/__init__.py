"""Portal pages of the contracts app: contracts (contracts.py), settings (settings.py), the audit log (audit.py)."""

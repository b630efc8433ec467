"""Portal pages of the contracts app, a module per area: contracts.py, settings.py (the settings page),
sources.py, api_keys.py, team.py, invoice_details.py, audit.py. Page views end in `_page`, so a search for
a service's name finds the service, not its page."""

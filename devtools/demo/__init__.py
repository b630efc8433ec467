"""The demo `make run` serves: a seeded vendor (`manage.py seed_demo`) and a simulated month of its activity
(`manage.py demo_activity`).

A Django app of its own, under devtools/ rather than beside the product apps: like the local Stripe server
it exists for `make run` and the tests, is not part of the installed package, and is installed into
INSTALLED_APPS only in a debug run from a source checkout (config/settings.py), so a production deployment
has no command that creates a known login. It needs nothing beyond the runtime dependencies.
"""

"""Helpers the tests import (builders, clients, stories, pollers); the pytest fixtures stay in conftest.py
files and build on these."""

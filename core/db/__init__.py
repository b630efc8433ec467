"""Database helpers any app's services and migrations use: bulk writers and append-only triggers."""

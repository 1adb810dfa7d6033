"""Real servers for the tests, started from their Debian packages: see fixtures.py."""

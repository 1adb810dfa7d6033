"""Every repo's CI pipeline from shared templates: render, validate, write, and catch drift.

jinja2 (and the validators' libraries) are imported here only, lazily.
"""

from __future__ import annotations

PROVIDERS = ("jenkins", "circleci", "github", "gitlab")

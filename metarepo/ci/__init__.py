"""Every repo's CI pipeline from shared templates: render, validate, write, and catch drift.

Templates render through ``metarepo.templating`` (where jinja2 lives); the
validators' libraries (check-jsonschema, tree-sitter-groovy) are imported
here only, lazily.
"""

from __future__ import annotations

PROVIDERS = ("jenkins", "circleci", "github", "gitlab", "travis")

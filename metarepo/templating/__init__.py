"""Files rendered from templates: the sandboxed Jinja environment every rendered file goes through.

The core below the capabilities that write files from templates (``ci``
for pipelines, ``images`` for Kubernetes manifests). jinja2 is imported
here only, lazily, inside the functions that render.

- ``escape``: ``Dialect`` (how a template's values are escaped) and the filters.
- ``environment``: the built-in templates and the meta repo's ``ci-templates/``
  overrides, in Jinja's immutable sandbox; ``template_origin``.
- ``overrides``: an override's blocks must exist in what it extends.
- ``render``: ``render_template`` and ``invalid_render``, errors naming the template.
- ``readback``: a rendered YAML file parsed strictly (``parse_yaml``, ``Problem``).

Templates are files named ``*.j2`` (a failing line is found by that suffix).
"""

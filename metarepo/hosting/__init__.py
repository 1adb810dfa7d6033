"""The GitHub seam: the one place PyGithub is imported (lazily).

``github_client`` builds the client (token from ``GITHUB_TOKEN``; GitHub
Enterprise's API URL from ``--github-url`` or the manifest's
``metarepo.github.base_url``). Every call goes through ``with_backoff``,
which waits out primary and secondary rate limits (``Retry-After`` or
``X-RateLimit-Reset``) and tries again. Callers get plain frozen values,
never PyGithub objects.
"""

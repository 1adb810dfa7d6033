"""The fleet scorecard (``meta doctor``): which repositories follow the architecture, check by check.

- ``model``: checks, their states, results, a repository's card and score, the fleet's scorecard.
- ``checks``: the built-in checks of one repository (containerised, proxy, monitoring, logging, meta).
- ``image``, ``logfiles``, ``repository``: what those checks read from a repository's files.
- ``settings``: the other capabilities' manifest settings, read in one place (the seam for their readers).
- ``delivery``, ``fleet_contracts``: the checks asked of the whole fleet at once (pipelines, contracts).
- ``custom``: the meta repo's own checks, shell commands from ``.meta``, run through the runner.
- ``scorecard``: ``run_doctor``, all of it; ``page``: the HTML report.
"""

"""Release trains: many services released together (``meta release plan|apply|promote|status|rollback``).

This package sits above ``images`` and ``contracts`` (it uses their build,
rollout, gate and planner) and below ``cli``:

- ``version``, ``conventional``: versions and Conventional Commits, pure.
- ``settings``: each project's ``release`` settings (tag prefix, version files, unparsed commits).
- ``history``: the last release tag and the commits since, read with ``git`` (the hot path of ``plan``).
- ``plan``: the next version of every project with commits, its changelog lines, the contract verdicts
  and the order the train rolls out in. Writes nothing.
- ``changelog``, ``version_files``: what a release commit changes.
- ``publish``: pre-flight, release commits and tags, and the push that lands everywhere or nowhere.
- ``train``: ``releases/NAME.json`` in the meta repo.
- ``apply``, ``promote``: the commands' work, build and rollout included.
"""

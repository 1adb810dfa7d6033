"""One change across many repos: a branch from each default branch, a commit, a push, a pull request.

Work happens in the workspace's own clones. A dirty clone is skipped, never
stashed. The batch branch is ours when meta made it (a marker in the clone's
config, or every commit on it carries a ``Meta-Batch: BRANCH`` trailer); a
branch of the same name that someone else made is a clear failure, never
overwritten. After committing, each clone goes back to the branch it was on.
"""

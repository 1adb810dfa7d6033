"""The workspace: the meta repo and its project clones on disk (clone, update, status, exec)."""

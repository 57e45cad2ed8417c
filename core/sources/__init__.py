"""Definitions synced from git: a source is a repository, a branch and a folder; `SyncSourceWorkflow` clones it
(the git CLI through the command runner, a token as an HTTP header, never in a URL), validates every definition
in the folder, and creates or versions the changed ones, each version recording the commit it came from. Invalid
files are reported with file and line and leave the current version alone. Syncs run on a push to the branch
(GitHub webhook), on the source's Temporal Schedule, and on request."""

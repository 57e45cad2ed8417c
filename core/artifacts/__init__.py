"""Artifacts: files a pipeline step declared (`artifacts: {paths, retention}`) or an agent's task produced, kept
in an artifact store (the local filesystem under the data dir, or an S3-compatible bucket) with size and sha256,
served at `GET /api/v2/artifacts/{id}` to whoever may read the run or task they belong to, and deleted by a
retention Schedule once they expire."""

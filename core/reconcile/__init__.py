"""Reconciliation: rebuild the run and entity projections from Temporal, the source of truth for everything that
runs (`service.reconcile`), on demand (`stellarflow reconcile`) and daily (`schedule.ensure_schedule`)."""

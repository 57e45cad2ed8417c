"""The event log: every workflow's append-only events and the one write path that records them together with the
projection row a list view reads (`store.record`), through a projection writer per kind of resource."""

"""Concurrency groups: at most one run (or step) of a group active at a time, the others queued in order.

The lock is a Temporal workflow per group (`ConcurrencyGroupWorkflow`, workflows/concurrency.py), never a database
flag: runs ask it with signal-with-start (`request_lock` activity), it answers each with a `concurrency_update`
signal (queued at position n, granted, preempted), and runs release it with a signal when they are done. `queue.py`
holds its decisions as pure functions; `contracts.py` what crosses the boundary."""

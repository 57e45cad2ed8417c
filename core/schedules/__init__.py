"""Schedule triggers (`{type: schedule, cron|every, …}`) as Temporal Schedules: one per trigger, created, updated
and deleted with the workflow's definition (idempotently: `reconcile`), described for `nextRun`/`lastRun`, and
paused, resumed, triggered or backfilled on request. Each schedule starts PipelineWorkflow itself, so its overlap
policy applies to the runs, and the Temporal UI's Schedules page lists them."""

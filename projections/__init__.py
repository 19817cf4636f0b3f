"""Read models and the projector runner (case view, caseloads, access log, federal inputs).

Projectors consume the global log through `events.subscription.Subscription` (or
`PostgresEventStore.read_all_batches` to catch up) and keep their checkpoint, a
`events.log_order.LogPosition`, in the same transaction as their writes.
"""

"""The audit log: every change to the database, who made it and when, append-only and hash-chained.

`recorder` turns each flushed change into an event with SQLAlchemy session events (so models added
later are covered without their code changing) and appends the events, hash-chained, just before
the transaction commits. `chain` computes and verifies the hashes; `views` lets admins browse it.
"""

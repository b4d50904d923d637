"""Admission: the transaction that turns a submission into a recorded decision, a reservation and a queued job."""

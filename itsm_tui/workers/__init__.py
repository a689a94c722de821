"""Background loops (SLA evaluator, feed listener) started by the app or `itsm worker`."""

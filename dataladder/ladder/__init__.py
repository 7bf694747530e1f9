"""The ladder: rung schedule, curve fits, stop rule, recommendation and the run store."""

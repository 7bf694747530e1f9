"""The ladder: the engine and its kinds, curve fits, estimate and recommendation (the stop rule is
`forecast/stop.py`, the rung sizes `core/schedule.py`, the run store `core/store.py`)."""

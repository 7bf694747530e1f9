"""A whole study from one plan (`dataladder run plan.yaml`): the plan's typed steps (`plan`), the pool that runs
independent steps side by side (`pool`) and the run itself (`run`)."""

"""The core every layer uses: errors, the registry, result files, the run store, interval math, logs, threads and
the YAML loader. Nothing here imports the rest of dataladder."""

"""The command line: `main` holds the Typer app (`dataladder --help`); one module per command family."""

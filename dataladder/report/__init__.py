"""The report: result files → one self-contained report.html."""

"""What operators run: the status report, the rescue and retention jobs, the schema, the shell."""

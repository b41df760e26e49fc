"""Temperature data logger CSV exports -> TEMPERATURE_READING; see README.md."""

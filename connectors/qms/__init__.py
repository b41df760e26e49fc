"""QMS deviations and batch record reviews (JSON); see README.md."""

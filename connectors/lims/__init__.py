"""LIMS QC result exports (CSV and JSON) -> QC_RESULT_RECORDED; see README.md."""

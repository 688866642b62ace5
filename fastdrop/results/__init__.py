"""The hand-off between bench and report: run folders, records, statistics, tables."""

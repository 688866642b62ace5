"""The hand-off between the benchmarks and the report: what a run leaves on disk.

    folder.py        the run folder: paths, task records, plan, manifest (atomic writes)
    schema.py        the schema string of every file fastdrop writes
    manifest.py      the machine and package versions recorded with a run
    records.py       the record of one finished task (tasks/<id>.json)
    stats.py         statistics over seeds and pyperf values (Student t, no scipy)
    tables.py        the tables T1..T8 as data, built from the records
    pyperf_files.py  pyperf's files in a run (kernels.json, timings/, train-timing.json)
    consolidate.py   results.json, one function for the harness and the report
    inference.py     paired t, TOST equivalence, Holm, sign test, binomial half-width

fastdrop.bench writes these files and fastdrop.report reads them; this package imports
neither (tests/results/test_results_imports.py checks it).
"""

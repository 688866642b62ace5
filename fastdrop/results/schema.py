"""The schema string of every file fastdrop writes, in one place.

Each JSON file carries its schema as "name/version"; a reader checks it before trusting
the file (fastdrop.report.load.check_schema tells a newer version from a foreign file).
The strings are file formats, not module paths: they stay as they are when modules move.
"""

PLAN_SCHEMA = "fastdrop.bench.plan/1"  # plan.json: every task of a run
RECORD_SCHEMA = "fastdrop.bench.task/1"  # tasks/<id>.json: one finished task
RESULTS_SCHEMA = "fastdrop.bench.results/1"  # results.json: records and tables
MANIFEST_SCHEMA = "fastdrop.manifest/1"  # manifest.json: machine and versions
GPU_SCHEMA = "fastdrop.gpu-bench/1"  # bench/gpu.py's reports/gpu/<date>-<card>.json

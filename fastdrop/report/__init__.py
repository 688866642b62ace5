"""Reports: read result files (never run a benchmark) and render them as text, markdown, HTML."""

"""Reports: read run folders through fastdrop.results (never run a benchmark) and render
them as text, markdown, HTML and plots. This package never imports fastdrop.bench."""

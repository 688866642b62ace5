"""The exit codes of every `fastdrop` command, in one table.

    fastdrop bench    0 all tasks ok; 1 a task failed or a file could not be written;
                      2 bad options or an unreadable run folder; 130 interrupted
    fastdrop train    0 done (or stopped early); 1 the --json file cannot be written;
                      2 bad options; 3 the loss became NaN/Inf
    fastdrop report   0 rendered; 2 the run folder cannot be read or an option is wrong
    fastdrop compare  0 no regression; 1 a regression; 2 a run folder cannot be read
"""

EXIT_OK = 0
EXIT_FAILED = 1  # bench: a task or a write failed; train: a write failed; compare: a regression
EXIT_USAGE = 2  # bad options, or a file or folder that cannot be read
EXIT_DIVERGED = 3  # train: the loss became NaN or Inf
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)

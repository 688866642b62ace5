"""The kernel suite (K1) as a pyperf script of its own, outside `fastdrop bench`:

    python bench/kernel_suite.py --sizes 10,13,16,20,23,26 --rates 0.1,0.5,0.9 -o kernels.json

`fastdrop bench kernels` runs the same script (fastdrop.bench.kernel_suite) after checking every
kernel against the numpy reference, and renders the table.
"""

from fastdrop.bench.kernel_suite import main

if __name__ == "__main__":
    main()

"""The kernel suite (K1) as a pyperf script of its own, outside `fastdrop bench`:

    python bench/kernels.py --sizes 10,13,16,20,23,26 --rates 0.1,0.5,0.9 -o kernels.json

`fastdrop bench kernels` runs the same script (fastdrop.bench.kernels) after checking every
kernel against the numpy reference, and renders the table.
"""

from fastdrop.bench.kernels import main

if __name__ == "__main__":
    main()

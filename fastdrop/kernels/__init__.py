"""Dropout kernels: reference (numpy), cpu (Numba, parallel), cuda (Numba CUDA).

Each module defines forward(x, y, mask, plan), backward(dy, dx, mask, plan) and
inference(x, y, plan) over flat contiguous arrays, for a validated `Plan`.
"""

"""Launching the CUDA kernels: launch bounds, a grid of one resident wave, the current
device, device addresses. Kernels are in cuda.py; nothing here validates or raises.

The grid is sized from the compiled kernel: its register count (numba-cuda reads it from
the loaded module) gives the blocks one SM keeps resident, times the SM count of the
current device (cached per device id, so it follows cuda.select_device). Each block then
walks units grid-stride, so large inputs pay for one wave of block launches only.
"""

from __future__ import annotations

import functools

from numba import cuda

from .cuda_device import SIMULATOR

BLOCK = 256  # threads per block
MIN_BLOCKS = 6  # launch bounds: 6 x 256 threads per SM, so at most 40 registers a thread
# gaussian's float64 Box-Muller spills at 40 registers: 4 blocks (64 registers) for it
GAUSS_MIN_BLOCKS = 4
SIMULATOR_BLOCKS = 2  # the simulator runs every thread in Python: keep grids tiny
# Cap on blocks per launch; None = one wave of the device. Tests set it to 1 to make every
# block walk several units of the grid-stride loop, on the simulator or a GPU.
GRID_LIMIT: int | None = None
# Resident-thread limits of sm_70 .. sm_90, for the wave the compiled kernel allows.
REGS_PER_SM, THREADS_PER_SM, BLOCKS_PER_SM, REG_GRANULE = 65536, 2048, 32, 256


def jit(fn, min_blocks: int = MIN_BLOCKS):
    """A kernel with launch bounds: BLOCK threads, min_blocks resident per SM, which caps
    its registers (the simulator's jit takes no bounds)."""
    if SIMULATOR:
        return cuda.jit(fn)
    return cuda.jit(launch_bounds=(BLOCK, min_blocks))(fn)


def resident_blocks(regs_per_thread: int, threads: int = BLOCK) -> int:
    """Blocks of `threads` one SM keeps resident at this register count (sm_70..sm_90:
    registers are allocated per warp in units of REG_GRANULE)."""
    warps = -(-threads // 32)
    per_warp = -(-max(regs_per_thread, 1) * 32 // REG_GRANULE) * REG_GRANULE
    return max(1, min(REGS_PER_SM // (per_warp * warps), THREADS_PER_SM // threads,
                      BLOCKS_PER_SM))


@functools.cache
def _sm_count(device_id: int) -> int:
    """Multiprocessors of a device, by id: the cache follows the current device."""
    return cuda.get_current_device().MULTIPROCESSOR_COUNT


def current_device_id() -> int:
    return 0 if SIMULATOR else cuda.get_current_device().id


def launch(kernel, units: int, stream, *args) -> None:
    """Launch over `units` units: one wave of the blocks this compiled kernel keeps
    resident on the current device, fewer for small inputs, at least one."""
    if SIMULATOR:
        wave, launch = SIMULATOR_BLOCKS, kernel
    else:
        launch = kernel.specialize(*args)  # compiled for these argument types
        dev = current_device_id()
        wave = _sm_count(dev) * resident_blocks(launch.get_regs_per_thread())
    limit = GRID_LIMIT if GRID_LIMIT is not None else wave
    blocks = max(1, min(-(-units // BLOCK), limit))
    launch[blocks, BLOCK, stream](*args)


def address(a) -> int:
    """Device address of a's first element (the simulator wraps a host numpy array)."""
    iface = getattr(a, "__cuda_array_interface__", None)
    if iface is None:
        iface = a.__array_interface__
    return int(iface["data"][0])

"""Static evidence for the CUDA kernels, without a GPU: registers, spills and SASS per element.

    make gpu-static                     # installs the NVIDIA wheels it needs, then runs this
    python bench/gpu_static.py [--cc 9.0] [--sass DIR]

Each kernel of fastdrop/kernels/cuda.py is compiled for one dtype and signature with
numba-cuda's `compile_ptx` (no device needed: NVVM and NVRTC from NVIDIA's pip wheels), then
assembled with `ptxas -v` (registers per thread, spill bytes, stack) and disassembled with
`nvdisasm`. The main loop is found in the SASS as the backward branch whose body holds the
most global stores (ties: the longest body); its instruction count divided by the elements
its stores write per trip (data stores' bits over the dtype's; 8 per mask byte in a
mask-only kernel) is "SASS/elem". "int/elem" counts the integer-pipe opcodes
among them (IMAD, IADD3, LOP3, SHF, ISETP, LEA, SEL, PRMT, ...), which bound Philox-heavy
kernels; "ld"/"st" list the widths of the global accesses in the loop (128 = 16-byte
vectors). These are static counts of one compiled binary, not timings.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

INT_OPS = {"IMAD", "IADD3", "LOP3", "SHF", "ISETP", "LEA", "SEL", "PRMT", "IMNMX", "IABS",
           "POPC", "FLO", "BREV", "SGXT", "BMSK", "IADD", "ISCADD", "IMUL", "IDP", "VIADD",
           "VIMNMX"}


def _tool(name: str) -> str:
    """ptxas / nvdisasm from the nvidia-cuda-nvcc / -nvdisasm wheels, else from PATH."""
    wheel = Path(sysconfig.get_paths()["purelib"]) / "nvidia" / "cu13" / "bin" / name
    if wheel.exists():
        return str(wheel)
    found = shutil.which(name)
    if not found:
        sys.exit(f"gpu_static: {name} not found (make gpu-static installs the NVIDIA wheels)")
    return found


def _compile_env(cc):
    """numba-cuda asks the current device's compute capability while compiling device
    functions; there is none here, so it is told the target's."""
    import numba.cuda.dispatcher as dispatcher

    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=cc)


def targets(ck):
    """(label, dtype, kernel dispatcher, signature) for every kernel of
    fastdrop.kernels.cuda, in float32 and float16: the aligned uint32-index kernels that
    arrays under 2^31 elements use, plus the forward's scalar (misaligned) and uint64
    variants."""
    from numba import types as T

    u8, u32, f32, f64 = T.uint8[::1], T.uint32, T.float32, T.float64
    words = (u32,) * 5
    out = []
    for dtype in ("float32", "float16"):
        A = getattr(T, dtype)[::1]
        for label, wide, aligned in (("", False, True), (" (scalar)", False, False),
                                     (" (uint64)", True, True)):
            k = ck._kernels(dtype, wide, aligned)
            i = T.uint64 if wide else T.uint32
            out.append((f"forward{label}", dtype, k.forward, (A, A, u8, i, u32, *words, f32)))
            if label:
                continue
            out += [
                ("backward.stored", dtype, k.stored, (A, A, u8, i, u32, *words, f32)),
                ("backward.regen", dtype, k.regen, (A, A, u8, i, u32, *words, f32)),
                ("alpha", dtype, k.affine, (A, A, u8, i, u32, *words, f32, f32, f32)),
                ("gaussian", dtype, k.gaussian, (A, A, i, u32, u32, u32, u32, u32, f64)),
                ("spatial", dtype, k.spatial, (A, A, u8, i, u32, i, f32)),
                ("scale_copy", dtype, k.scale_copy, (A, A, i, u32, f32)),
            ]
    out.append(("channel_mask", "-", ck._mask_kernel(False), (u8, u32, u32, *words)))
    return out


def _sass_lines(text: str):
    """(address, opcode text) of each instruction, and label -> address."""
    instrs, labels, pending = [], {}, []
    for line in text.splitlines():
        m = re.match(r"\s*(\.L_x_\d+):", line)
        if m:
            pending.append(m.group(1))
            continue
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if m:
            addr = int(m.group(1), 16)
            for lab in pending:
                labels[lab] = addr
            pending = []
            instrs.append((addr, m.group(2)))
    return instrs, labels


def _opcode(ins: str) -> str:
    ins = re.sub(r"^@!?U?P\w+\s+", "", ins)
    return ins.split()[0] if ins else ""


def main_loop(sass: str):
    """The main loop's instructions, or all instructions when the kernel has no loop."""
    instrs, labels = _sass_lines(sass)
    loops = []
    for i, (addr, ins) in enumerate(instrs):
        if _opcode(ins).startswith("BRA"):
            m = re.search(r"`\((\.L_x_\d+)\)", ins)
            if m and labels.get(m.group(1), addr + 1) <= addr:
                start = labels[m.group(1)]
                body = [x for a, x in instrs[: i + 1] if a >= start]
                stores = sum(_opcode(x).startswith("STG") for x in body)
                loops.append((stores, len(body), body))
    if not loops:
        return None
    return max(loops, key=lambda t: (t[0], t[1]))[2]


def _elements_stored(body, dtype) -> int:
    """Elements one trip of the loop writes: data stores' bits over the dtype's, or 8 per
    mask byte in a kernel that stores only the mask."""
    bits = {"float32": 32, "float16": 16}.get(dtype)
    data = masks = 0
    for ins in body:
        op = _opcode(ins)
        if not op.startswith("STG"):
            continue
        parts = op.split(".")
        width = next((p for p in parts if p in ("U8", "S8", "U16", "S16", "64", "128")), "32")
        if width in ("U8", "S8"):
            masks += 1
        else:
            data += int(width.lstrip("US")) // bits if bits else 0
    return data or 8 * masks


def _widths(body, prefix):
    counts = collections.Counter()
    for ins in body:
        op = _opcode(ins)
        if op.startswith(prefix):
            parts = op.split(".")
            width = next((p for p in parts if p in ("U8", "S8", "U16", "S16", "64", "128")),
                         "32")
            counts[width.lstrip("US")] += 1
    return " ".join(f"{n}x{w}" for w, n in sorted(counts.items())) or "-"


def analyse(label, dtype, kernel, sig, cc, workdir: Path, keep: Path | None):
    from numba import cuda

    bounds = kernel_launch_bounds(kernel)
    ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc, launch_bounds=bounds)
    stem = f"{label}-{dtype}"
    ptx_path, cubin = workdir / f"{stem}.ptx", workdir / f"{stem}.cubin"
    ptx_path.write_text(ptx)
    arch = f"sm_{cc[0]}{cc[1]}"
    info = subprocess.run([_tool("ptxas"), f"-arch={arch}", "-v", str(ptx_path), "-o",
                           str(cubin)], capture_output=True, text=True, check=True).stderr
    regs = int(re.search(r"Used (\d+) registers", info).group(1))
    spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", info)
    stack = int(re.search(r"(\d+) bytes stack frame", info).group(1))
    sass = subprocess.run([_tool("nvdisasm"), "-c", str(cubin)], capture_output=True,
                          text=True, check=True).stdout
    if keep is not None:
        (keep / f"{stem}.sass").write_text(sass)
    body = main_loop(sass)
    row = {"kernel": label, "dtype": dtype, "regs": regs,
           "spill": int(spill.group(1)) + int(spill.group(2)), "stack": stack,
           "bounds": bounds}
    if body is None:
        row.update(loop=None, elems=None, per_elem=None, int_per_elem=None, ld="-", st="-", bar=0)
    else:
        ints = sum(_opcode(x).split(".")[0] in INT_OPS for x in body)
        per_trip = _elements_stored(body, dtype)
        row.update(loop=len(body), elems=per_trip, per_elem=len(body) / per_trip,
                   int_per_elem=ints / per_trip, ld=_widths(body, "LDG"),
                   st=_widths(body, "STG"), bar=sum(_opcode(x).startswith("BAR") for x in body))
    return row


def kernel_launch_bounds(kernel):
    return getattr(kernel, "targetoptions", {}).get("launch_bounds")


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def table(rows) -> list[str]:
    lines = ["| kernel | dtype | regs | spill B | launch bounds | loop instrs | elems/trip | "
             "SASS/elem | int/elem | loop ld | loop st | bar |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['dtype']} | {r['regs']} | {r['spill']} | "
                     f"{r['bounds'] or '-'} | {fmt(r['loop'], 'd')} | {fmt(r['elems'], 'd')} | "
                     f"{fmt(r['per_elem'])} | "
                     f"{fmt(r['int_per_elem'])} | {r['ld']} | {r['st']} | {r['bar']} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cc", default="9.0", help="compute capability (default 9.0)")
    ap.add_argument("--sass", help="folder to keep each kernel's SASS in")
    args = ap.parse_args(argv)
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        sys.exit("gpu_static: unset NUMBA_ENABLE_CUDASIM: the simulator compiles nothing")
    cc = tuple(int(x) for x in args.cc.split("."))
    _compile_env(cc)
    sys.path.insert(0, str(ROOT))
    from fastdrop.kernels import cuda as ck

    keep = Path(args.sass) if args.sass else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, dtype, kernel, sig in targets(ck):
            rows.append(analyse(label, dtype, kernel, sig, cc, Path(tmp), keep))
            print(table(rows[-1:])[-1], flush=True)
    print(f"\nsm_{cc[0]}{cc[1]}; SASS/elem = main-loop instructions / elements one thread "
          "stores per trip\n")
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

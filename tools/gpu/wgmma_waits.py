"""Where ptxas put each warpgroup-MMA wait of the kernels in libraries
attn-compile built (--target gpu), read from their machine code.

usage: wgmma_waits.py LIBRARY... [--match TEXT]
       wgmma_waits.py --sass FILE...      (cuobjdump -sass output)

The overlapped forward (docs/lowering.md, "Overlapped steps") issues
S_j = Q K_j^T and the last step's P V, waits for S alone
(`wgmma.wait_group 1`), runs the online softmax, and only then waits for
the P V (`wait_group 0`), so that the softmax runs beside the P V. ptxas
places the machine's waits (`WARPGROUP.DEPBAR.LE gsb0, N`) itself: in
the kernels read so far (tools/attn-bench/NOTES.md, session 64) it moved
the wait for the P V up to the first instruction that writes a register
the in-flight HGMMAs read or write, and it adds waits of its own (its
C7517 note). For each wait this prints how many instructions came since the
last one, and the exponentials (MUFU.EX2) and HGMMAs among them: the
softmax work between a wait for S (all but one group, `0x1`) and the
wait for the P V (`0x0`) is what runs beside the P V. The libraries
keep their kernels as cubins inside their data (kernel_resources.py finds
them); cuobjdump (on the machine with the CUDA driver) disassembles them.
Exits 1 where a file holds no cubin.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_resources import cubins, sections  # noqa: E402

INSTRUCTION = re.compile(r"^\s+/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
FUNCTION = re.compile(r"Function : (\S+)")
WAIT = re.compile(r"WARPGROUP\.DEPBAR\.LE gsb0, 0x([0-9a-f]+)")
SHT_NOBITS = 8  # a section that takes no bytes in the file


def elf_bytes(elf):
    """The ELF file at the start of `elf` alone: up to its section headers'
    end or its last section's, whichever is further."""
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    ends = [offset + size for _, kind, offset, size, _ in sections(elf)
            if kind != SHT_NOBITS]
    return elf[:max([shoff + shentsize * shnum] + ends)]


def functions(sass):
    """{kernel: [instruction text]} of cuobjdump -sass output."""
    out, current = {}, None
    for line in sass.splitlines():
        m = FUNCTION.search(line)
        if m:
            current = out.setdefault(m.group(1), [])
            continue
        m = INSTRUCTION.match(line)
        if m and current is not None:
            current.append(m.group(2))
    return out


def waits(instructions):
    """(index, N, instructions since the last wait, EX2 and HGMMA among
    them) for each wait `WARPGROUP.DEPBAR.LE gsb0, N`."""
    rows, last = [], -1
    for i, text in enumerate(instructions):
        m = WAIT.search(text)
        if not m:
            continue
        between = instructions[last + 1 : i]
        rows.append((i, int(m.group(1), 16), i - last,
                     sum("MUFU.EX2" in t for t in between),
                     sum(t.startswith("HGMMA") for t in between)))
        last = i
    return rows


def report(sass, match):
    for kernel, instructions in functions(sass).items():
        if match and match not in kernel:
            continue
        total = sum("MUFU.EX2" in t for t in instructions)
        print(f"{kernel}: {len(instructions)} instructions, {total} EX2")
        for at, n, distance, ex2, hgmma in waits(instructions):
            print(f"  {at:6d}  wait for all but {n}: {distance} instructions"
                  f" after the last wait ({ex2} EX2, {hgmma} HGMMA)")


def main(argv):
    match, sass, files = "", False, []
    args = iter(argv)
    for a in args:
        if a == "--match":
            match = next(args, "")
        elif a == "--sass":
            sass = True
        else:
            files.append(a)
    if not files:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    status = 0
    for path in files:
        if sass:
            with open(path) as f:
                report(f.read(), match)
            continue
        with open(path, "rb") as f:
            found = [elf_bytes(elf) for elf in cubins(f.read())]
        if not found:
            print(f"wgmma_waits: {path} holds no cubin", file=sys.stderr)
            status = 1
        # A cubin for each of the library's kernel modules.
        for elf in found:
            with tempfile.NamedTemporaryFile(suffix=".cubin") as cubin:
                cubin.write(elf)
                cubin.flush()
                listing = subprocess.run(["cuobjdump", "-sass", cubin.name],
                                         check=True, capture_output=True,
                                         text=True).stdout
            print(f"== {path}")
            report(listing, match)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

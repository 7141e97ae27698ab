"""Registers, stack frame, static shared memory and code size of each GPU
kernel in libraries attn-compile built (--target gpu), read from their
cubins.

usage: kernel_resources.py LIBRARY... [--match TEXT]

A library holds its kernels as a cubin (an ELF file for the CUDA machine)
inside its data; this finds every such cubin in each file and reads, per
kernel, what ptxas recorded in the cubin's `.nv.info` section: the registers
a thread takes (EIATTR_REGCOUNT) and its stack frame in bytes
(EIATTR_FRAME_SIZE: local memory, which is where ptxas spills registers that
do not fit), and the size of the kernel's `.nv.shared.<kernel>` section (its
static shared memory as ptxas placed it, with the 1 KiB the system reserves
from sm_80 on where the kernel has any: attn's kernels declare one byte and
take their staging buffers as dynamic shared memory, which only the launch
knows), and its machine instructions (the size of its `.text.<kernel>`
section over 16 bytes, the size of one from sm_70 on: fewer instructions
for the same work is a change that can be compared without a GPU).
Functions the kernels call may be listed too, with "?" registers (a
kernel's count covers what it calls). Needs no GPU and no CUDA tool:
the numbers `ptxas -v` prints, for the code as built. Prints a table; exits
1 where a file holds no cubin.
"""
import re
import struct
import sys

EM_CUDA = 190
EIATTR_FRAME_SIZE = 0x11
EIATTR_REGCOUNT = 0x2F
EIFMT_SVAL = 0x04  # a 16-bit size and a payload; the other formats take 4 bytes
INSTRUCTION_BYTES = 16  # every machine instruction from sm_70 on


def cubins(data):
    """The CUDA ELF files inside `data` (64-bit, little-endian)."""
    for m in re.finditer(b"\x7fELF", data):
        start = m.start()
        if data[start + 4 : start + 6] != b"\x02\x01":
            continue
        (machine,) = struct.unpack_from("<H", data, start + 0x12)
        if machine == EM_CUDA:
            yield data[start:]


def sections(elf):
    """(name, type, offset, size, link) of each section."""
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    headers = [
        struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize)
        for i in range(shnum)
    ]
    names = headers[shstrndx][4]

    def name(at):
        end = elf.index(b"\0", names + at)
        return elf[names + at : end].decode()

    return [(name(h[0]), h[1], h[4], h[5], h[6]) for h in headers]


def kernel_resources(elf):
    """{kernel: {"registers", "frame", "shared", "instructions"}} of one
    cubin."""
    secs = sections(elf)
    symtab = next(s for s in secs if s[1] == 2)  # SHT_SYMTAB
    strtab = secs[symtab[4]]
    symbols = []
    for i in range(symtab[3] // 24):
        at, _, _, _, _, _ = struct.unpack_from("<IBBHQQ", elf, symtab[2] + i * 24)
        end = elf.index(b"\0", strtab[2] + at)
        symbols.append(elf[strtab[2] + at : end].decode())
    kernels = {}
    shared = {}
    code = {}
    for name, _, offset, size, _ in secs:
        if name.startswith(".nv.shared."):
            shared[name[len(".nv.shared.") :]] = size
        if name.startswith(".text."):
            code[name[len(".text.") :]] = size
        if name != ".nv.info":
            continue
        p, end = offset, offset + size
        while p < end:
            fmt, attr, length = struct.unpack_from("<BBH", elf, p)
            if fmt != EIFMT_SVAL:
                p += 4
                continue
            if attr in (EIATTR_REGCOUNT, EIATTR_FRAME_SIZE) and length >= 8:
                symbol, value = struct.unpack_from("<II", elf, p + 4)
                key = "registers" if attr == EIATTR_REGCOUNT else "frame"
                kernels.setdefault(symbols[symbol], {})[key] = value
            p += 4 + length
    for kernel, r in kernels.items():
        r["shared"] = shared.get(kernel, 0)
        r["instructions"] = code.get(kernel, 0) // INSTRUCTION_BYTES
    return kernels


def library_resources(path):
    """[(kernel, {"registers"?, "frame"?, "shared", "instructions"})] of
    every cubin in the file at `path` (a library holds one for each of its
    kernel modules), sorted by kernel within each cubin; None where it
    holds no cubin."""
    with open(path, "rb") as f:
        data = f.read()
    found = list(cubins(data))
    if not found:
        return None
    return [row for elf in found for row in sorted(kernel_resources(elf).items())]


HEADER = (f"{'kernel':60s} {'registers':>9s} {'frame B':>8s} {'shared B':>9s} "
          f"{'instructions':>12s}")


def row_text(kernel, r):
    """One row of the table: "?" registers for a function ptxas recorded no
    count for (one the kernels call)."""
    return (f"{kernel:60s} {r.get('registers', '?'):>9} "
            f"{r.get('frame', 0):>8} {r.get('shared', 0):>9} "
            f"{r.get('instructions', 0):>12}")


def main(argv):
    match = ""
    files = []
    args = iter(argv)
    for a in args:
        if a == "--match":
            match = next(args, "")
        else:
            files.append(a)
    if not files:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    status = 0
    print(HEADER)
    for path in files:
        rows = library_resources(path)
        if rows is None:
            print(f"kernel_resources: {path} holds no cubin (a library built "
                  f"with attn-compile --target gpu has one)", file=sys.stderr)
            status = 1
            continue
        for kernel, r in rows:
            if match in kernel:
                print(row_text(kernel, r))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Seeds of the ir fuzz target: every split of the lit tests (test/dialect,
test/passes) and every example module, RUN and CHECK lines dropped; with
MAX_BYTES, only those of at most that size (ir-gpu: whole models through
--lower-to-gpu take seconds each under the sanitizers).
  seed-ir.py SRC OUT [MAX_BYTES]"""
import glob
import os
import re
import sys

src, out = sys.argv[1], sys.argv[2]
max_bytes = int(sys.argv[3]) if len(sys.argv) > 3 else None
os.makedirs(out, exist_ok=True)
files = sorted(glob.glob(f"{src}/test/dialect/*.mlir") +
               glob.glob(f"{src}/test/passes/*.mlir") +
               glob.glob(f"{src}/examples/*.mlir") +
               glob.glob(f"{src}/examples/listops/*.mlir"))
directive = re.compile(r"\s*//\s*(RUN|[A-Z]+(-[A-Z]+)*):")
for path in files:
    for i, part in enumerate(open(path).read().split("// -----")):
        body = "\n".join(l for l in part.splitlines()
                         if not directive.match(l)).strip() + "\n"
        if "func.func" not in body:
            continue
        if max_bytes is not None and len(body.encode()) > max_bytes:
            continue
        name = f"{os.path.basename(path)[:-5]}-{i}.mlir"
        with open(os.path.join(out, name), "w") as f:
            f.write(body)

#!/usr/bin/env bash
# The installed CMake package, used as a project outside attn would:
#   package-test.sh BUILD SRC WORK
# installs BUILD into WORK, moves the installation (the package must be
# relocatable), builds examples/longformer against it as a project of its
# own, runs its pattern check (GoogleTest) and uses its own attn-opt and
# attn-compile on a module with its op.
set -euo pipefail
build="$1"
src="$2"
work="$3"
rm -rf "$work"
mkdir -p "$work"
echo "package: installing into $work/first"
cmake --install "$build" --prefix "$work/first" > "$work/install.log"
mv "$work/first" "$work/moved"
prefix="$work/moved"
test -f "$prefix/lib/cmake/Attn/AttnConfig.cmake"
if grep -rq "$work/first" "$prefix/lib/cmake/Attn"; then
  echo "package: FAILED: the package names the folder it was installed in"
  grep -r "$work/first" "$prefix/lib/cmake/Attn" | head -5
  exit 1
fi

echo "package: building examples/longformer against $prefix"
launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$src/examples/longformer" -B "$work/longformer" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" \
  > "$work/configure.log"
cmake --build "$work/longformer" > "$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; exit 1; }

echo "package: the pattern's own check and tools"
"$work/longformer/LongformerTest" --gtest_brief=1
cat > "$work/model.mlir" <<'MLIR'
func.func @attend(%q: tensor<1x2x300x16xf32>) -> tensor<1x2x300x16xf32> {
  %m = attn.mask.longformer radius 4 dilation 2 globals [0, 17]
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x300x16xf32>, tensor<1x2x300x16xf32>, tensor<1x2x300x16xf32>, !attn.mask -> tensor<1x2x300x16xf32>
  return %o : tensor<1x2x300x16xf32>
}
MLIR
"$work/longformer/longformer-opt" "$work/model.mlir" \
  --attn-schedule-blocks="verify=true" | grep -q "#attn.schedule<"
"$work/longformer/longformer-compile" "$work/model.mlir" --verify-masks \
  -o "$work/model.so"
nm -D "$work/model.so" | grep -q " attn_call_attend$"
# The installed attn-opt does not know the pattern: it is the project's.
if "$prefix/bin/attn-opt" "$work/model.mlir" > /dev/null 2>&1; then
  echo "package: FAILED: attn-opt accepted a pattern it does not link"
  exit 1
fi
echo "package: passed"

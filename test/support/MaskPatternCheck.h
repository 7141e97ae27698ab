//===- MaskPatternCheck.h - checking a pattern's classification -*- C++ -*-===//
//
// The check every mask pattern must pass, shared by the dialect's patterns
// and patterns defined elsewhere (examples/longformer): for every sequence
// length from 1 to 200 and 257, 333, 1024 and 2047, in square power-of-two
// tiles (16 to 128) and tiles that are neither (48x80, 100x36, 7x13): the
// predicate (evaluate) agrees with an independent statement of the
// definition on every pair; the predicate IR (buildPredicate, interpreted)
// agrees with evaluate on every pair; each tile's classification agrees
// with the pairs of the tile; and no query tile keeps a key outside its
// keyRanges.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_SUPPORT_MASKPATTERNCHECK_H
#define ATTN_TEST_SUPPORT_MASKPATTERNCHECK_H

#include "attn/IR/AttnOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <ostream>
#include <vector>

namespace attn::test {

/// Key-padding lengths derived from n, one per batch entry (4 entries).
std::vector<int64_t> paddingLengths(int64_t n);

using Reference =
    std::function<bool(int64_t b, int64_t q, int64_t k, int64_t n)>;

struct MaskCase {
  const char *name;
  const char *body; // ops of a function (%len: tensor<4xi32>), the last one
                    // defining the mask under test
  Reference reference;
};

inline void PrintTo(const MaskCase &c, std::ostream *os) { *os << c.name; }

/// Owns the parsed function of one case.
class ParsedCase {
public:
  ParsedCase(const MaskCase &c,
             std::function<void(mlir::DialectRegistry &)> extend = {});
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::attn::MaskPattern pattern;
};

/// Runs the check with GoogleTest assertions.
void checkMaskCase(const MaskCase &c,
                   std::function<void(mlir::DialectRegistry &)> extend = {});

} // namespace attn::test

#endif // ATTN_TEST_SUPPORT_MASKPATTERNCHECK_H

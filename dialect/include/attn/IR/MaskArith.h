//===- MaskArith.h - stating a mask's predicate once ------------*- C++ -*-===//
//
// A pattern op answers with its element predicate twice: as plain C++
// (MaskPattern::evaluate, used by checks and classification) and as arith IR
// (buildPredicate, inlined into partial tiles). Written as one template over
// an integer "arithmetic", the two cannot drift apart:
//
//   template <class A>
//   typename A::B myPredicate(MyMaskOp op, A &a, typename A::I q,
//                             typename A::I k) {
//     return withinRadius(a, a.sub(q, k), op.getRadius());
//   }
//   bool MyMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
//     NumArith a;
//     return myPredicate(*this, a, q, k);
//   }
//   Value MyMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
//     IRArith a{pb.builder, pb.loc};
//     return myPredicate(*this, a, q, k);
//   }
//
// Also here: exact classification of predicates of the difference q - k
// alone (windows, dilations, strides), and key ranges of such bands.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_IR_MASKARITH_H
#define ATTN_IR_MASKARITH_H

#include "attn/IR/MaskPattern.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <algorithm>
#include <cstdint>

namespace mlir::attn {

/// Floor and ceiling of a / b for b != 0, as arith.floordivsi and
/// arith.ceildivsi define them.
inline int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
inline int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

/// Integer arithmetic on numbers: predicates evaluated directly.
struct NumArith {
  using I = int64_t;
  using B = bool;
  I cst(int64_t v) { return v; }
  I add(I a, I b) { return a + b; }
  I sub(I a, I b) { return a - b; }
  I mul(I a, int64_t c) { return a * c; }
  I div(I a, int64_t c) { return floorDiv(a, c); }
  I ceilDiv(I a, int64_t c) { return ::mlir::attn::ceilDiv(a, c); }
  I rem(I a, int64_t c) { return a % c; }
  B lt(I a, I b) { return a < b; }
  B le(I a, I b) { return a <= b; }
  B eq(I a, I b) { return a == b; }
  B both(B a, B b) { return a && b; }
  B either(B a, B b) { return a || b; }
  B negate(B a) { return !a; }
  B truth(bool v) { return v; }
};

/// The same operations emitted as arith IR on index values (div is
/// arith.floordivsi, ceilDiv arith.ceildivsi, rem arith.remsi).
struct IRArith {
  OpBuilder &b;
  Location loc;
  using I = Value;
  using B = Value;
  I cst(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  I add(I x, I y) { return arith::AddIOp::create(b, loc, x, y); }
  I sub(I x, I y) { return arith::SubIOp::create(b, loc, x, y); }
  I mul(I x, int64_t c) { return arith::MulIOp::create(b, loc, x, cst(c)); }
  I div(I x, int64_t c) {
    return arith::FloorDivSIOp::create(b, loc, x, cst(c));
  }
  I ceilDiv(I x, int64_t c) {
    return arith::CeilDivSIOp::create(b, loc, x, cst(c));
  }
  I rem(I x, int64_t c) { return arith::RemSIOp::create(b, loc, x, cst(c)); }
  B cmp(arith::CmpIPredicate p, I x, I y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  B lt(I x, I y) { return cmp(arith::CmpIPredicate::slt, x, y); }
  B le(I x, I y) { return cmp(arith::CmpIPredicate::sle, x, y); }
  B eq(I x, I y) { return cmp(arith::CmpIPredicate::eq, x, y); }
  B both(B x, B y) { return arith::AndIOp::create(b, loc, x, y); }
  B either(B x, B y) { return arith::OrIOp::create(b, loc, x, y); }
  B negate(B x) { return arith::XOrIOp::create(b, loc, x, truth(true)); }
  B truth(bool v) { return arith::ConstantIntOp::create(b, loc, v, 1); }
};

/// |d| <= bound, in either arithmetic.
template <class A>
typename A::B withinRadius(A &a, typename A::I d, int64_t bound) {
  return a.both(a.le(d, a.cst(bound)), a.le(a.cst(-bound), d));
}

/// A bound that no position difference reaches (positions are below 2^31).
inline constexpr int64_t kUnboundedDifference = int64_t(1) << 60;

/// A tile in units of `unit`-sized blocks (unit 1: elements): the blocks
/// its ranges touch.
inline TileRange inUnits(const TileRange &t, int64_t unit) {
  return {t.qBegin / unit, (t.qEnd - 1) / unit + 1, t.kBegin / unit,
          (t.kEnd - 1) / unit + 1};
}

/// Kind of a tile for a predicate of d = q - k alone that keeps d when
/// dLo <= d <= dHi and d is a multiple of `modulus`. Every d between the
/// tile's extreme differences occurs in the tile, so this is exact.
inline TileKind classifyDifferences(const TileRange &t, int64_t dLo,
                                    int64_t dHi, int64_t modulus) {
  int64_t lo = t.qBegin - (t.kEnd - 1), hi = (t.qEnd - 1) - t.kBegin;
  int64_t a = std::max(lo, dLo), b = std::min(hi, dHi);
  if (a > b || ceilDiv(a, modulus) * modulus > b)
    return TileKind::Empty;
  if (lo >= dLo && hi <= dHi && (modulus == 1 || lo == hi))
    return TileKind::Full;
  return TileKind::Partial;
}

/// The keys that queries in [qBegin, qEnd) may keep under a predicate of
/// d = q - k that keeps only dLo <= d <= dHi: k in [qBegin - dHi,
/// qEnd - dLo).
inline KeyRanges differenceKeyRanges(int64_t qBegin, int64_t qEnd, int64_t dLo,
                                     int64_t dHi) {
  return {{qBegin - dHi, qEnd - dLo}};
}

} // namespace mlir::attn

#endif // ATTN_IR_MASKARITH_H

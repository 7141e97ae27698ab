//===- Gradients.cpp - vector-Jacobian products of attn and upstream ops --===//
//
// Each op's buildVjp states its derivative once, as IR on tensors: its own
// gradient op where the forward is a fused computation (layer norm, GELU,
// pooling, the loss, the embedding lookup), otherwise the forward's ops and
// structural linalg/tensor ops (a projection's input gradient is a
// projection by the transposed weight; its weight gradient a product; its
// bias gradient a sum). attn-generate-backward knows no op by name.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/Gradients.h"
#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

RankedTensorType tensorTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Structural tensor ops the products are written with.
struct TensorBuilder {
  OpBuilder &b;
  Location loc;

  Value zeros(RankedTensorType type) { return buildZeros(b, loc, type); }
  Value transpose(Value x, ArrayRef<int64_t> permutation) {
    auto type = tensorTypeOf(x);
    SmallVector<int64_t> shape;
    for (int64_t p : permutation)
      shape.push_back(type.getDimSize(p));
    Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
    return linalg::TransposeOp::create(b, loc, x, init, permutation)
        .getResult()[0];
  }
  /// The sum of `x` over `dims`.
  Value sum(Value x, ArrayRef<int64_t> dims) {
    auto type = tensorTypeOf(x);
    SmallVector<int64_t> shape;
    for (auto [i, extent] : llvm::enumerate(type.getShape()))
      if (!llvm::is_contained(dims, int64_t(i)))
        shape.push_back(extent);
    Value init =
        zeros(RankedTensorType::get(shape, type.getElementType()));
    return linalg::ReduceOp::create(
               b, loc, ValueRange{x}, ValueRange{init}, dims,
               [](OpBuilder &nb, Location l, ValueRange args) {
                 Value s = arith::AddFOp::create(nb, l, args[0], args[1]);
                 linalg::YieldOp::create(nb, l, s);
               })
        .getResult(0);
  }
  /// [d0, ..., dk] -> [d0 * ... * dk-1, dk]; 2-D values as they are.
  Value rows(Value x) {
    auto type = tensorTypeOf(x);
    if (type.getRank() == 2)
      return x;
    ReassociationIndices leading;
    int64_t count = 1;
    for (int64_t i = 0; i + 1 < type.getRank(); ++i) {
      leading.push_back(i);
      count *= type.getDimSize(i);
    }
    return tensor::CollapseShapeOp::create(
        b, loc,
        RankedTensorType::get({count, type.getShape().back()},
                              type.getElementType()),
        x, SmallVector<ReassociationIndices>{leading, {type.getRank() - 1}});
  }
  /// a [M, K] x b [K, N] -> [M, N]
  Value matmul(Value lhs, Value rhs) {
    auto l = tensorTypeOf(lhs), r = tensorTypeOf(rhs);
    Value init = zeros(RankedTensorType::get(
        {l.getDimSize(0), r.getDimSize(1)}, l.getElementType()));
    return linalg::MatmulOp::create(b, loc, ValueRange{lhs, rhs},
                                    ValueRange{init})
        .getResult(0);
  }
};

/// Checks that an op with one result was given its cotangent.
LogicalResult singleResultGrad(Operation *op, ArrayRef<Value> resultGrads) {
  if (resultGrads.size() != 1 || !resultGrads[0])
    return op->emitOpError("buildVjp needs the cotangent of its result");
  return success();
}

} // namespace

Value mlir::attn::buildFilled(OpBuilder &b, Location loc,
                             RankedTensorType type, double value) {
  Value empty =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  Value scalar = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(type.getElementType(), value));
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

Value mlir::attn::buildAdd(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  auto type = tensorTypeOf(lhs);
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::AddOp::create(b, loc, ValueRange{lhs, rhs}, ValueRange{init})
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// attn encoder ops
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> wanted,
                                    SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  operandGrads.push_back(Value()); // ids
  operandGrads.push_back(
      wanted[1] ? EmbeddingGradOp::create(b, getLoc(), getTable().getType(),
                                          getIds(), resultGrads[0])
                      .getResult()
                : Value());
  return success();
}

LogicalResult AddPositionsOp::buildVjp(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       ArrayRef<bool> wanted,
                                       SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  Value dy = resultGrads[0];
  operandGrads.push_back(wanted[0] ? dy : Value());
  if (!wanted[1]) {
    operandGrads.push_back(Value());
    return success();
  }
  // Positions the sequence does not reach get zeros.
  TensorBuilder tb{b, getLoc()};
  Value used = tb.sum(dy, {0});
  auto tableType = tensorTypeOf(getTable());
  if (tensorTypeOf(used).getShape() != tableType.getShape()) {
    SmallVector<OpFoldResult> offsets(2, b.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    SmallVector<OpFoldResult> sizes;
    for (int64_t extent : tensorTypeOf(used).getShape())
      sizes.push_back(b.getIndexAttr(extent));
    used = tensor::InsertSliceOp::create(b, getLoc(), used,
                                         tb.zeros(tableType), offsets, sizes,
                                         strides);
  }
  operandGrads.push_back(used);
  return success();
}

LogicalResult LayerNormOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> wanted,
                                    SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  auto grad = LayerNormGradOp::create(b, getLoc(), getInput(), getGamma(),
                                      resultGrads[0], getEpsilonAttr());
  operandGrads.push_back(wanted[0] ? grad.getInputGrad() : Value());
  operandGrads.push_back(wanted[1] ? grad.getGammaGrad() : Value());
  operandGrads.push_back(wanted[2] ? grad.getBetaGrad() : Value());
  return success();
}

LogicalResult ProjectOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> wanted,
                                  SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  TensorBuilder tb{b, getLoc()};
  Value dy = resultGrads[0];
  // dx = dy W^T, itself a projection.
  operandGrads.push_back(
      wanted[0] ? ProjectOp::create(b, getLoc(), getInput().getType(), dy,
                                    tb.transpose(getWeight(), {1, 0}), Value())
                      .getResult()
                : Value());
  // dW = x^T dy over every leading position; db = the sum of dy over them.
  Value dyRows = tb.rows(dy);
  operandGrads.push_back(
      wanted[1] ? tb.matmul(tb.transpose(tb.rows(getInput()), {1, 0}), dyRows)
                : Value());
  if (getBias())
    operandGrads.push_back(wanted[2] ? tb.sum(dyRows, {0}) : Value());
  return success();
}

LogicalResult GeluOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> wanted,
                               SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  operandGrads.push_back(wanted[0]
                             ? GeluGradOp::create(b, getLoc(), getInput(),
                                                  resultGrads[0],
                                                  getApproximate())
                                   .getResult()
                             : Value());
  return success();
}

LogicalResult DropoutOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> wanted,
                                  SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  // Dropout is linear in its input with the mask its seed and stream give:
  // the same dropout of the cotangent regenerates that mask.
  operandGrads.push_back(
      wanted[0] ? DropoutOp::create(b, getLoc(), resultGrads[0], getSeed(),
                                    getRateAttr(), getStreamAttr())
                      .getResult()
                : Value());
  operandGrads.push_back(Value()); // seed
  return success();
}

LogicalResult PoolOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> wanted,
                               SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  operandGrads.push_back(wanted[0]
                             ? PoolGradOp::create(b, getLoc(),
                                                  getInput().getType(),
                                                  resultGrads[0], getKind(),
                                                  getLengths())
                                   .getResult()
                             : Value());
  if (getLengths())
    operandGrads.push_back(Value());
  return success();
}

LogicalResult CrossEntropyOp::buildVjp(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       ArrayRef<bool> wanted,
                                       SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  operandGrads.push_back(
      wanted[0] ? CrossEntropyGradOp::create(b, getLoc(), getLogits(),
                                             getLabels(), resultGrads[0])
                      .getResult()
                : Value());
  operandGrads.push_back(Value()); // labels
  return success();
}

//===----------------------------------------------------------------------===//
// Upstream ops, as external models
//===----------------------------------------------------------------------===//

namespace {

/// linalg.add: both addends receive the cotangent.
struct AddVjp : public Differentiable::ExternalModel<AddVjp, linalg::AddOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto add = cast<linalg::AddOp>(op);
    for (OpOperand &operand : op->getOpOperands()) {
      bool input = add.isDpsInput(&operand);
      operandGrads.push_back(input && wanted[operand.getOperandNumber()]
                                 ? resultGrads[0]
                                 : Value());
    }
    return success();
  }
};

/// linalg.transpose: the cotangent transposed back.
struct TransposeVjp
    : public Differentiable::ExternalModel<TransposeVjp, linalg::TransposeOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto transpose = cast<linalg::TransposeOp>(op);
    ArrayRef<int64_t> perm = transpose.getPermutation();
    SmallVector<int64_t> inverse(perm.size());
    for (auto [i, p] : llvm::enumerate(perm))
      inverse[p] = i;
    TensorBuilder tb{b, op->getLoc()};
    operandGrads.push_back(wanted[0] ? tb.transpose(resultGrads[0], inverse)
                                     : Value());
    operandGrads.push_back(Value()); // init
    return success();
  }
};

/// tensor.expand_shape and tensor.collapse_shape: the inverse reshape.
template <typename ReshapeOp, typename InverseOp>
struct ReshapeVjp
    : public Differentiable::ExternalModel<ReshapeVjp<ReshapeOp, InverseOp>,
                                           ReshapeOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto reshape = cast<ReshapeOp>(op);
    if (!reshape.getSrcType().hasStaticShape())
      return op->emitOpError("reverse mode needs static shapes");
    operandGrads.push_back(
        wanted[0] ? InverseOp::create(b, op->getLoc(), reshape.getSrcType(),
                                      resultGrads[0],
                                      reshape.getReassociationIndices())
                        .getResult()
                  : Value());
    // Dynamic output sizes of an expand_shape, if any.
    while (operandGrads.size() < op->getNumOperands())
      operandGrads.push_back(Value());
    return success();
  }
};

/// tensor.extract_slice: the cotangent placed in zeros where the slice was.
struct ExtractSliceVjp
    : public Differentiable::ExternalModel<ExtractSliceVjp,
                                           tensor::ExtractSliceOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto slice = cast<tensor::ExtractSliceOp>(op);
    if (!slice.getSourceType().hasStaticShape() ||
        op->getNumOperands() != 1)
      return op->emitOpError(
          "reverse mode needs static shapes, offsets and sizes");
    TensorBuilder tb{b, op->getLoc()};
    operandGrads.push_back(
        wanted[0] ? tensor::InsertSliceOp::create(
                        b, op->getLoc(), resultGrads[0],
                        tb.zeros(slice.getSourceType()),
                        slice.getMixedOffsets(), slice.getMixedSizes(),
                        slice.getMixedStrides())
                        .getResult()
                  : Value());
    return success();
  }
};

} // namespace

void mlir::attn::registerVjpExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, linalg::LinalgDialect *) {
    linalg::AddOp::attachInterface<AddVjp>(*ctx);
    linalg::TransposeOp::attachInterface<TransposeVjp>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::ExpandShapeOp::attachInterface<
        ReshapeVjp<tensor::ExpandShapeOp, tensor::CollapseShapeOp>>(*ctx);
    tensor::CollapseShapeOp::attachInterface<
        ReshapeVjp<tensor::CollapseShapeOp, tensor::ExpandShapeOp>>(*ctx);
    tensor::ExtractSliceOp::attachInterface<ExtractSliceVjp>(*ctx);
  });
}

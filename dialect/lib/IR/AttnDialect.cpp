//===- AttnDialect.cpp - attn dialect, types and generated code ----------===//

#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::attn;

#include "attn/IR/AttnDialect.cpp.inc"
#include "attn/IR/AttnEnums.cpp.inc"
#include "attn/IR/AttnInterfaces.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "attn/IR/AttnTypes.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/IR/AttnAttrs.cpp.inc"

namespace mlir::attn {
void registerCollectiveOps(AttnDialect &dialect); // CollectiveOps.cpp
} // namespace mlir::attn

void AttnDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "attn/IR/AttnTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "attn/IR/AttnAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "attn/IR/AttnOps.cpp.inc"
      >();
  registerCollectiveOps(*this);
}

LogicalResult AttnDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (attr.getName() != TargetAttr::kAttrName)
    return success();
  if (!isa<TargetAttr>(attr.getValue()))
    return op->emitError() << "'" << TargetAttr::kAttrName
                           << "' must be an #attn.target, got "
                           << attr.getValue();
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << TargetAttr::kAttrName
                           << "' belongs on a module";
  return success();
}

// `!attn.mask` or `!attn.mask<block = 64>`.
Type MaskType::parse(AsmParser &parser) {
  int64_t block = 0;
  if (succeeded(parser.parseOptionalLess())) {
    SMLoc loc = parser.getCurrentLocation();
    if (parser.parseKeyword("block") || parser.parseEqual() ||
        parser.parseInteger(block) || parser.parseGreater())
      return {};
    if (block <= 0 || !llvm::isPowerOf2_64(block)) {
      parser.emitError(loc, "mask block size must be a positive power of two, "
                            "got ")
          << block;
      return {};
    }
  }
  return MaskType::get(parser.getContext(), block);
}

void MaskType::print(AsmPrinter &printer) const {
  if (getBlock() != 0)
    printer << "<block = " << getBlock() << ">";
}

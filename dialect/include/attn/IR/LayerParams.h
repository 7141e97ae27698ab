//===- LayerParams.h - parameter schemas of encoder layers ----*- C++ -*-===//
#ifndef ATTN_IR_LAYERPARAMS_H
#define ATTN_IR_LAYERPARAMS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <optional>
#include <string>

namespace mlir::attn {

/// Symbolic dimensions of layer parameters.
enum class ParamDim : uint8_t {
  Model,      ///< D: model width
  Hidden,     ///< F: feed-forward width
  State,      ///< S: complex SSM modes per channel
  TwiceModel, ///< 2D: concatenated branches
  Directions, ///< 2 for bidirectional SSMs; absent otherwise
};

/// How the runtime initialises a parameter.
enum class ParamInit : uint8_t {
  Normal, ///< N(0, scale^2)
  Zeros,
  Ones,
  S4DLogAReal, ///< log(0.5)   (S4D-Lin)
  S4DAImag,    ///< pi * n     (S4D-Lin, n = mode index)
  S4DLogDt,    ///< uniform in [log 1e-3, log 1e-1]
  S4DC,        ///< N(0, 1/2) per real and imaginary part
};

struct ParamSpec {
  const char *name;
  llvm::SmallVector<ParamDim, 3> shape;
  ParamInit init;
  double scale = 0.0;
};

/// Sizes that give a schema concrete shapes.
struct LayerDims {
  int64_t model = 0, hidden = 0, state = 0;
  bool bidirectional = false;
};

/// The concrete shape of `spec` for `dims`.
llvm::SmallVector<int64_t, 3> concreteShape(const ParamSpec &spec,
                                            const LayerDims &dims);

/// "normal:0.02", "zeros", "ones", "s4d_log_a_real", ...: how a parameter's
/// initialisation is written in IR (attn.init) and read by the runtime.
std::string stringifyParamInit(ParamInit init, double scale);

/// The schemas, by layer kind: the mixing sublayer's parameters, its norm
/// (ln1), then -- with `feedForward` -- the feed-forward sublayer (ffn.*)
/// and its norm (ln2). An SSM layer with `glu` has a gate map (gate.w,
/// gate.b) beside its output map.
llvm::ArrayRef<ParamSpec> attentionLayerParams(bool feedForward = true);
llvm::ArrayRef<ParamSpec> ssmLayerParams(bool feedForward = true,
                                         bool glu = false);
llvm::ArrayRef<ParamSpec> spadeLayerParams(bool feedForward = true);

/// The buffers of a layer (state it reads and returns updated, not
/// trained): with `batchNorm`, each norm's running mean (zeros) and
/// variance (ones), [D] -- ln1's, then with `feedForward` ln2's; none
/// otherwise.
llvm::ArrayRef<ParamSpec> layerBuffers(bool batchNorm, bool feedForward);

} // namespace mlir::attn

#endif // ATTN_IR_LAYERPARAMS_H

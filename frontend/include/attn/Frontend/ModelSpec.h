//===- ModelSpec.h - model specifications -------------------------*- C++
//-*-===//
//
// A model spec is a JSON document describing an encoder: the task's
// vocabulary and classes, the shapes it is compiled for, the width, and its
// stack of layers. `examples/*.json` are specs; the format is documented on
// parseModelSpec below.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_FRONTEND_MODELSPEC_H
#define ATTN_FRONTEND_MODELSPEC_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attn {

enum class LayerKind { Full, Window, Chunk, BigBird, Linear, Ssm, Spade };

struct LayerSpec {
  LayerKind kind = LayerKind::Full;
  // window: radius in tokens, or in blocks with `block`.
  int64_t radius = 0;
  std::optional<int64_t> block;
  // chunk: chunk size; spade: the local attention's size (window radius or
  // chunk size, per `local`).
  int64_t size = 0;
  // bigbird (block is required): window radius, global and random blocks.
  int64_t window = 1, global = 1, random = 3, seed = 0;
  // linear
  std::string featureMap = "elu_plus_one";
  std::optional<int64_t> features, featureSeed;
  bool causal = false;
  // ssm, spade
  int64_t state = 64;
  bool bidirectional = false;
  // ssm: the output map gated by a second map through a sigmoid (S4's GLU).
  bool glu = false;
  std::string local = "chunk";
};

struct ModelSpec {
  std::string name;
  std::string task;  ///< e.g. "listops"; informs the runtime's data
  int64_t vocab = 0; ///< token ids are in [0, vocab)
  int64_t classes = 0;
  int64_t batch = 0;  ///< compiled batch size
  int64_t seqLen = 0; ///< compiled sequence length (batches are padded)
  int64_t width = 0, ffn = 0;
  int64_t heads = 0; ///< required unless every layer is an SSM layer
  double dropout = 0.1;
  std::string pool = "cls"; ///< "cls" or "mean"
  /// "post": each layer norms the residual stream after each sublayer
  /// (BERT); "pre": each sublayer runs on a normed copy of the stream,
  /// which the model norms once after the last layer.
  std::string norm = "post";
  /// The layers' norms: "layer" (over channels, per token) or "batch" (per
  /// channel over the batch's real tokens, with running statistics for
  /// evaluation: S4's). Batch norms need `norm` "post".
  std::string normKind = "layer";
  /// "f32", or "bf16": mixed precision (bf16 activations and products on
  /// f32 master parameters; docs/training.md).
  std::string dtype = "f32";
  /// The learning rate of the SSM layers' A and B relative to the others'
  /// (S4 trains them at a tenth, without weight decay; log dt at the full
  /// rate).
  double ssmLrScale = 1.0;
  /// The learning rate of the attention projections (Q, K, V and output,
  /// with their biases; in SPADE layers too) relative to the others: a
  /// hybrid can train its SSM at S4's rate and its attention lower.
  double attentionLrScale = 1.0;
  /// "learned": a table of seq_len position embeddings added to the token
  /// embeddings (BERT's); "none": token embeddings only (S4's models,
  /// whose SSM layers see positions through their kernels).
  std::string positions = "learned";
  std::vector<LayerSpec> layers;
};

/// Parses a spec. Keys (defaults in ModelSpec/LayerSpec):
///   name, task, vocab, classes, batch, seq_len, width, heads, ffn, dropout,
///   pool, norm, norm_kind, dtype, ssm_lr_scale, attention_lr_scale, positions,
///   layers: [ { kind:
///   full|window|chunk|bigbird|linear|ssm|spade,
///     radius, block, size, window, global, random, seed, feature_map,
///     features, feature_seed, causal, state, bidirectional, glu, local } ]
/// `ffn` is the feed-forward sublayer's width; 0 leaves that sublayer out of
/// every layer (S4's blocks: the mixing sublayer alone).
/// Errors name `filename` and the line (syntax) or the JSON path (meaning).
/// Unknown keys are errors, so that a typo is never silently ignored.
llvm::Expected<ModelSpec> parseModelSpec(llvm::StringRef json,
                                         llvm::StringRef filename);

const char *stringifyLayerKind(LayerKind kind);

} // namespace attn

#endif // ATTN_FRONTEND_MODELSPEC_H

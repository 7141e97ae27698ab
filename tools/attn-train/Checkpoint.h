//===- Checkpoint.h - checkpoints in the safetensors layout --*- C++ -*-===//
//
// A checkpoint is one safetensors file (docs/training.md): an 8-byte
// little-endian header length, a JSON header naming every tensor's dtype,
// shape and byte range, then the tensors' bytes; string metadata under
// "__metadata__". Written atomically: to a temporary file beside the
// target, flushed, then renamed over it, so that a run killed at any moment
// leaves the previous checkpoint or the new one, never a torn file.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRAIN_CHECKPOINT_H
#define ATTN_TRAIN_CHECKPOINT_H

#include "attn/Runtime/Library.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace attn::train {

struct CheckpointTensor {
  std::string name;
  rt::DType dtype = rt::DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

struct Checkpoint {
  std::map<std::string, std::string> metadata;
  std::vector<CheckpointTensor> tensors;

  const CheckpointTensor *find(const std::string &name) const;
};

/// Writes `checkpoint` to `path` atomically; false and `error` on failure
/// (the file at `path`, if any, is then left as it was).
bool writeCheckpoint(const std::string &path, const Checkpoint &checkpoint,
                     std::string *error);

/// Reads a checkpoint; errors name the file and what is wrong with it.
std::optional<Checkpoint> readCheckpoint(const std::string &path,
                                         std::string *error);

/// safetensors' dtype names ("F32", "BF16", ...).
const char *safetensorsDType(rt::DType t);
std::optional<rt::DType> parseSafetensorsDType(const std::string &name);

} // namespace attn::train

#endif // ATTN_TRAIN_CHECKPOINT_H

//===- FuzzListOps.cpp - libFuzzer target: ListOps TSV and batches --------===//
//
// parseTsv on arbitrary bytes, then batches of what it accepted: errors
// name the line, accepted examples evaluate to their label, batches hold
// every example once.
//
//===----------------------------------------------------------------------===//

#include "attn/Data/ListOps.h"

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

using namespace attn::listops;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char *>(data), size));
  std::string error;
  std::optional<Dataset> d = parseTsv(in, "fuzz.tsv", &error);
  if (!d) {
    if (error.rfind("fuzz.tsv", 0) != 0)
      std::abort(); // every error names the input
    return 0;
  }
  for (size_t i = 0; i < d->tokens.size(); ++i) {
    std::optional<int32_t> value = evaluate(d->tokens[i], &error);
    if (!value || *value != d->labels[i])
      std::abort();
  }
  BatchOptions options;
  options.batchSize = 3;
  options.roundTo = 8;
  std::optional<std::vector<Batch>> batches = makeBatches(*d, options, 0,
                                                          &error);
  if (!batches)
    std::abort(); // no maximum length: every accepted set batches
  int64_t examples = 0;
  for (const Batch &b : *batches)
    examples += b.examples;
  if (examples != static_cast<int64_t>(d->tokens.size()))
    std::abort();
  return 0;
}

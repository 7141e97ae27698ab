//===- FuzzModelSpec.cpp - libFuzzer target: model specs (JSON) -----------===//
//
// parseModelSpec on arbitrary text: a spec or an error naming the file,
// never a crash, a stack overflow (deep nesting) or a silent duplicate key.
//
//===----------------------------------------------------------------------===//

#include "attn/Frontend/ModelSpec.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<attn::ModelSpec> spec = attn::parseModelSpec(text, "fuzz.json");
  if (!spec) {
    std::string message = llvm::toString(spec.takeError());
    if (message.rfind("fuzz.json", 0) != 0)
      std::abort(); // every error names the file
  }
  return 0;
}

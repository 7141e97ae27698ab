//===- FuzzSignature.cpp - libFuzzer target: a library's signature text ---===//
//
// Signature::parse on arbitrary text: it returns a signature or an error,
// never throws, traps or reads out of bounds; a parsed tensor's size fits.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/Library.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  std::optional<attn::rt::Signature> sig = attn::rt::Signature::parse(
      std::string(reinterpret_cast<const char *>(data), size), &error);
  if (!sig) {
    if (error.empty())
      std::abort(); // a failure must say why
    return 0;
  }
  for (const auto *list : {&sig->args, &sig->results})
    for (const attn::rt::TensorSpec &t : *list)
      if (t.numel() < 0 || t.bytes() > (size_t(1) << 48))
        std::abort();
  return 0;
}

//===- NumberText.h - numbers in the library signature's text ---*- C++ -*-===//
//
// attn-compile writes a training step's settings into the library's
// signature ("optimizer lr=0.0005 ..."); attn-train writes the same settings
// to compile with and compares them with a library's. Both write a number
// as this does (header-only: attn-train links no MLIR).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_NUMBERTEXT_H
#define ATTN_SUPPORT_NUMBERTEXT_H

#include <charconv>
#include <string>

namespace attn {

/// `v` in the fewest digits that read back as it.
inline std::string numberText(double v) {
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof text, v).ptr);
}

} // namespace attn

#endif // ATTN_SUPPORT_NUMBERTEXT_H

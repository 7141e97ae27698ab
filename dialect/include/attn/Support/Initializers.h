//===- Initializers.h - the vocabulary of attn.init -------------*- C++ -*-===//
//
// A parameter's `attn.init` argument attribute says how attn-train fills it
// before the first step; attn-compile copies it into the library's
// signature. Both check it against this list (header-only: the runtime side
// links no MLIR).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_INITIALIZERS_H
#define ATTN_SUPPORT_INITIALIZERS_H

#include <cstdlib>
#include <string>
#include <string_view>

namespace attn {

/// Initialisations without a parameter: zeros, ones, and S4D's (log A's
/// real part log 0.5; A's imaginary part pi n; log dt uniform in
/// [log 1e-3, log 1e-1]; C normal with variance 1/2).
inline constexpr std::string_view kPlainInitializers[] = {
    "zeros", "ones", "s4d_log_a_real", "s4d_a_imag", "s4d_log_dt", "s4d_c"};

/// The plain initialisations and "normal:<std>", comma-separated.
inline std::string knownInitializers() {
  std::string list = "normal:<std>";
  for (std::string_view plain : kPlainInitializers)
    list.append(", ").append(plain);
  return list;
}

/// Whether `init` is an initialisation attn-train knows: one of the plain
/// ones or "normal:<s>", s a positive finite standard deviation.
inline bool isKnownInitializer(std::string_view init) {
  for (std::string_view plain : kPlainInitializers)
    if (init == plain)
      return true;
  constexpr std::string_view normal = "normal:";
  if (init.substr(0, normal.size()) != normal || init.size() == normal.size())
    return false;
  std::string text(init.substr(normal.size()));
  char *end = nullptr;
  double s = std::strtod(text.c_str(), &end);
  return *end == '\0' && s > 0 && s < 1e30;
}

} // namespace attn

#endif // ATTN_SUPPORT_INITIALIZERS_H

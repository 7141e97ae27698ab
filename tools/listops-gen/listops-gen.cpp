//===- listops-gen.cpp - regenerate LRA's ListOps -------------------------===//
//
//   listops-gen --out DIR [--seed S] [--train N] [--val N] [--test N]
//               [--min-length N] [--max-length N]
//
// Writes DIR/basic_train.tsv, basic_val.tsv and basic_test.tsv in LRA's
// layout (defaults: LRA's 96,000 / 2,000 / 2,000), deterministic for a seed.
//
//===----------------------------------------------------------------------===//

#include "attn/Data/ListOps.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

using namespace attn::listops;

static void usage(FILE *f) {
  std::fprintf(f,
               "usage: listops-gen --out DIR [--seed S] [--train N] [--val N] "
               "[--test N]\n"
               "                   [--min-length N] [--max-length N]\n"
               "Regenerates LRA ListOps (defaults: 96000/2000/2000, seed 0) "
               "into DIR/basic_{train,val,test}.tsv.\n"
               "Lengths are LRA's (every token but parentheses), kept when\n"
               "min < length < max (LRA: 500 and 2000, the defaults); shorter\n"
               "bounds make small sets for quick runs.\n");
}

/// An integer in [min, max]: out-of-range text (overflow included) is an
/// error, not a clamped value.
static bool parseCount(const char *flag, const char *text, int64_t &out,
                       int64_t min, int64_t max) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (!*text || *end || errno == ERANGE || v < min || v > max) {
    std::fprintf(stderr,
                 "listops-gen: error: %s expects an integer in [%lld, %lld], "
                 "got '%s'\n",
                 flag, (long long)min, (long long)max, text);
    return false;
  }
  out = v;
  return true;
}

/// A seed: any 64-bit unsigned value, exactly.
static bool parseSeed(const char *text, uint64_t &out) {
  char *end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (!*text || *end || errno == ERANGE || text[0] == '-') {
    std::fprintf(stderr,
                 "listops-gen: error: --seed expects an integer in [0, "
                 "2^64 - 1], got '%s'\n",
                 text);
    return false;
  }
  out = v;
  return true;
}

/// Examples per split and sequence lengths at most these: the whole split
/// is held in memory before it is written.
constexpr int64_t kMaxExamples = 100000000, kMaxLength = 1000000;

int main(int argc, char **argv) {
  GeneratorOptions options;
  std::string outDir;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr,
                   "listops-gen: error: %s needs a value (or is "
                   "unknown)\n",
                   arg.c_str());
      usage(stderr);
      return 2;
    }
    const char *value = argv[++i];
    int64_t v = 0;
    if (arg == "--out") {
      outDir = value;
    } else if (arg == "--seed") {
      if (!parseSeed(value, options.seed))
        return 2;
    } else if (arg == "--train" || arg == "--val" || arg == "--test") {
      if (!parseCount(arg.c_str(), value, v, 0, kMaxExamples))
        return 2;
      (arg == "--train" ? options.train
       : arg == "--val" ? options.val
                        : options.test) = v;
    } else if (arg == "--min-length" || arg == "--max-length") {
      if (!parseCount(arg.c_str(), value, v, 0, kMaxLength))
        return 2;
      (arg == "--min-length" ? options.minLength : options.maxLength) = v;
    } else {
      std::fprintf(stderr, "listops-gen: error: unknown option %s\n",
                   arg.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (options.maxLength <= options.minLength + 1) {
    std::fprintf(stderr,
                 "listops-gen: error: no length lies strictly between "
                 "--min-length %lld and --max-length %lld\n",
                 (long long)options.minLength, (long long)options.maxLength);
    return 2;
  }
  if (outDir.empty()) {
    std::fprintf(stderr, "listops-gen: error: --out DIR is required\n");
    usage(stderr);
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(outDir, ec);
  if (ec) {
    std::fprintf(stderr, "listops-gen: error: cannot create %s: %s\n",
                 outDir.c_str(), ec.message().c_str());
    return 1;
  }
  // Writable before the (long) generation, not after it.
  {
    std::string probe = outDir + "/.listops-gen-probe";
    std::FILE *f = std::fopen(probe.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "listops-gen: error: cannot write in %s: %s\n",
                   outDir.c_str(), std::strerror(errno));
      return 1;
    }
    std::fclose(f);
    std::remove(probe.c_str());
  }
  auto start = std::chrono::steady_clock::now();
  Split split = generate(options, [&](int64_t done, int64_t total) {
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::fprintf(stderr, "\rlistops-gen: %lld / %lld examples (%.1f s)",
                 (long long)done, (long long)total, s);
    std::fflush(stderr);
  });
  std::fprintf(stderr, "\n");
  const std::pair<const char *, const std::vector<Example> *> files[] = {
      {"basic_train.tsv", &split.train},
      {"basic_val.tsv", &split.val},
      {"basic_test.tsv", &split.test}};
  for (auto [name, examples] : files) {
    std::string path = outDir + "/" + name;
    std::string err = writeTsv(path, *examples);
    if (!err.empty()) {
      std::fprintf(stderr, "listops-gen: error: %s\n", err.c_str());
      return 1;
    }
    std::fprintf(stderr, "listops-gen: wrote %zu examples to %s\n",
                 examples->size(), path.c_str());
  }
  return 0;
}

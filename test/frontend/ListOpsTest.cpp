//===- ListOpsTest.cpp - ListOps generator, tokenizer and loader ----------===//

#include "attn/Data/ListOps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stack>

using namespace attn::listops;

namespace {

/// Evaluates ListOps text with a stack, independently of the generator's
/// recursion: operators open a frame, digits are arguments, "]" applies.
int evaluateText(const std::string &text) {
  std::stack<std::pair<std::string, std::vector<int>>> frames;
  frames.push({"", {}});
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    if (tok == "(" || tok == ")")
      continue;
    if (tok[0] == '[') {
      frames.push({tok, {}});
    } else if (tok == "]") {
      auto [op, args] = frames.top();
      frames.pop();
      int v;
      if (op == "[MIN") {
        v = *std::min_element(args.begin(), args.end());
      } else if (op == "[MAX") {
        v = *std::max_element(args.begin(), args.end());
      } else if (op == "[SM") {
        v = 0;
        for (int a : args)
          v += a;
        v %= 10;
      } else {
        std::sort(args.begin(), args.end());
        size_t n = args.size();
        double median =
            n % 2 ? args[n / 2] : (args[n / 2 - 1] + args[n / 2]) / 2.0;
        v = static_cast<int>(median); // np.median, then int()
      }
      frames.top().second.push_back(v);
    } else {
      frames.top().second.push_back(std::stoi(tok));
    }
  }
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames.top().second.size(), 1u);
  return frames.top().second.front();
}

/// The text is LRA's nesting: an operator with n arguments opens n + 1
/// parentheses and each argument and the "]" close one.
bool wellParenthesised(const std::string &text) {
  int depth = 0;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    depth += tok == "(";
    depth -= tok == ")";
    if (depth < 0)
      return false;
  }
  return depth == 0;
}

GeneratorOptions smallSplit(uint64_t seed) {
  GeneratorOptions o;
  o.seed = seed;
  o.train = 16000;
  o.val = 2000;
  o.test = 2000;
  return o;
}

TEST(ListOpsGenerator, SplitFollowsLRAsProcedure) {
  int64_t calls = 0;
  Split split = generate(smallSplit(1), [&](int64_t, int64_t) { ++calls; });
  EXPECT_GT(calls, 0) << "no progress reported";
  ASSERT_EQ(split.train.size(), 16000u);
  ASSERT_EQ(split.val.size(), 2000u);
  ASSERT_EQ(split.test.size(), 2000u);
  std::set<std::string> seen;
  std::map<int, int64_t> labels;
  int64_t total = 0;
  for (const auto *part : {&split.train, &split.val, &split.test}) {
    for (const Example &e : *part) {
      int64_t len = lraLength(e.source);
      EXPECT_GT(len, 500) << e.source.substr(0, 80);
      EXPECT_LT(len, 2000) << e.source.substr(0, 80);
      EXPECT_TRUE(seen.insert(e.source).second) << "duplicate example";
      EXPECT_TRUE(wellParenthesised(e.source));
      EXPECT_EQ(evaluateText(e.source), e.label) << e.source.substr(0, 80);
      ++labels[e.label];
      ++total;
    }
  }
  for (int l = 0; l < 10; ++l)
    EXPECT_GT(labels[l], 0) << "label " << l << " never occurs";
  // LRA's skew: MIN pulls towards 0 and MAX towards 9, about 17% each.
  for (int l : {0, 9}) {
    double share = double(labels[l]) / total;
    EXPECT_GT(share, 0.14) << "label " << l;
    EXPECT_LT(share, 0.20) << "label " << l;
  }
  for (int l = 1; l < 9; ++l)
    EXPECT_LT(double(labels[l]) / total, 0.12) << "label " << l;
}

TEST(ListOpsGenerator, DeterministicForASeed) {
  GeneratorOptions o = smallSplit(7);
  o.train = 300;
  o.val = o.test = 10;
  Split a = generate(o), b = generate(o);
  ASSERT_EQ(a.train.size(), b.train.size());
  for (size_t i = 0; i < a.train.size(); ++i)
    EXPECT_EQ(a.train[i].source, b.train[i].source);
  o.seed = 8;
  Split c = generate(o);
  EXPECT_NE(a.train[0].source, c.train[0].source);
}

TEST(ListOpsTokenizer, RoundTripsWithoutParentheses) {
  GeneratorOptions o = smallSplit(3);
  o.train = 50;
  o.val = o.test = 0;
  for (const Example &e : generate(o).train) {
    std::string err;
    auto ids = encode(e.source, /*withCls=*/true, &err);
    ASSERT_TRUE(ids) << err;
    EXPECT_EQ((*ids)[0], token::Cls);
    EXPECT_EQ(static_cast<int64_t>(ids->size()), lraLength(e.source) + 1);
    std::string stripped;
    std::istringstream in(e.source);
    std::string tok;
    while (in >> tok)
      if (tok != "(" && tok != ")")
        stripped += (stripped.empty() ? "" : " ") + tok;
    EXPECT_EQ(decode(*ids), stripped);
    for (int32_t id : *ids)
      EXPECT_TRUE(id >= 0 && id < token::VocabSize);
  }
}

TEST(ListOpsTokenizer, Vocabulary) {
  auto ids = encode("( ( ( [MAX 2 ) 9 ) ] )", false, nullptr);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<int32_t>{token::Max, token::Digit0 + 2,
                                        token::Digit0 + 9, token::Close}));
  EXPECT_EQ(tokenText(token::Med), "[MED");
  EXPECT_EQ(tokenText(token::SumMod), "[SM");
  EXPECT_EQ(tokenText(token::Min), "[MIN");
  std::string err;
  EXPECT_FALSE(encode("( [MAX 2 [FIRST 3 ] )", false, &err));
  EXPECT_EQ(err, "unknown token '[FIRST'");
}

std::string writeTemp(const std::string &name, const std::string &content) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(ListOpsLoader, ReadsLRAsFormat) {
  std::string err;
  auto data = loadTsv(ATTN_TEST_INPUTS "/listops_lra_sample.tsv", &err);
  ASSERT_TRUE(data) << err;
  ASSERT_EQ(data->tokens.size(), 4u);
  EXPECT_EQ(data->labels, (std::vector<int32_t>{9, 2, 4, 1}));
  EXPECT_EQ(data->lines, (std::vector<int64_t>{2, 3, 4, 5}));
  // The quoted source reads like the unquoted ones.
  EXPECT_EQ(decode(data->tokens[2]), "[MED 1 8 ]");
  EXPECT_EQ(data->tokens[0].front(), token::Cls);
}

TEST(ListOpsLoader, RoundTripsGeneratedFiles) {
  GeneratorOptions o = smallSplit(4);
  o.train = 40;
  o.val = o.test = 0;
  Split split = generate(o);
  std::string path = ::testing::TempDir() + "roundtrip.tsv";
  ASSERT_EQ(writeTsv(path, split.train), "");
  std::string err;
  auto data = loadTsv(path, &err);
  ASSERT_TRUE(data) << err;
  ASSERT_EQ(data->tokens.size(), 40u);
  for (size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(data->labels[i], split.train[i].label);
    EXPECT_EQ(*encode(split.train[i].source, true, nullptr), data->tokens[i]);
  }
}

TEST(ListOpsLoader, ReportsMalformedLines) {
  struct Bad {
    const char *content;
    const char *message;
  } cases[] = {
      {"Src\tTarget\n",
       ":1: expected the header 'Source<TAB>Target', got 'Src\tTarget'"},
      {"Source\tTarget\n( [MAX 2 ] ) 9\n",
       ":2: missing tab between source and target"},
      {"Source\tTarget\n[MAX 2 9 ]\t9\n[MIN 3 ]\t12\n",
       ":3: label must be a digit 0-9, got '12'"},
      {"Source\tTarget\n[MAX 2 9 ]\t9\t1\n",
       ":2: more than two tab-separated fields"},
      {"Source\tTarget\n[MAX 2 9 ]\t9\n[MAX x ]\t1\n", ":3: unknown token 'x'"},
      {"Source\tTarget\n[MAX 2 9 ]\t9\n\n[MAX 2 9 ]\t9\n", ":3: empty line"},
      {"Source\tTarget\n\"[MAX 2 9 ]\t9\n", ":2: malformed quoting"},
      {"Source\tTarget\n( )\t9\n", ":2: empty source"},
      {"", ": empty file (expected the header 'Source<TAB>Target')"},
      {"Source\tTarget\n[MAX 2 9 ]\t9\n[MIN 4 1 ]\t4\n",
       ":3: label 4 but the expression's value is 1"},
      {"Source\tTarget\n( ( [SM 4 5 )\t9\n",
       ":2: malformed expression: 1 operator(s) not closed"},
      {"Source\tTarget\n[MAX 2 ] ]\t2\n",
       ":2: malformed expression: ']' closes no operator"},
      {"Source\tTarget\n3 4\t3\n",
       ":2: malformed expression: more than one expression"},
      {"Source\tTarget\n[MED ]\t0\n",
       ":2: malformed expression: an operator without arguments"},
  };
  int i = 0;
  for (const Bad &c : cases) {
    std::string path =
        writeTemp("bad" + std::to_string(i++) + ".tsv", c.content);
    std::string err;
    EXPECT_FALSE(loadTsv(path, &err)) << c.content;
    EXPECT_EQ(err, path + c.message);
  }
  std::string err;
  EXPECT_FALSE(loadTsv("/nonexistent/basic_train.tsv", &err));
  EXPECT_EQ(err, "/nonexistent/basic_train.tsv: cannot open the file");
  // A device never ends its line: refused before reading.
  EXPECT_FALSE(loadTsv("/dev/zero", &err));
  EXPECT_EQ(err, "/dev/zero: not a regular file");
}

// The loader's evaluator agrees with the generator on every label (MED's
// truncated mean of the middle pair, SM's sum modulo 10, deep nesting).
TEST(ListOpsLoader, EvaluatesWhatTheGeneratorLabels) {
  GeneratorOptions options;
  options.train = 300;
  options.val = 0;
  options.test = 0;
  options.minLength = 10;
  options.maxLength = 400;
  Split split = generate(options);
  for (const Example &e : split.train) {
    std::string why;
    std::optional<std::vector<int32_t>> ids = encode(e.source, true, &why);
    ASSERT_TRUE(ids) << why;
    std::optional<int32_t> value = evaluate(*ids, &why);
    ASSERT_TRUE(value) << e.source << ": " << why;
    EXPECT_EQ(*value, e.label) << e.source;
  }
}

Dataset syntheticData(int64_t n) {
  Dataset d;
  d.path = "synthetic.tsv";
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int32_t> toks{token::Cls};
    for (int64_t j = 0; j < 1 + (i * 37) % 90; ++j)
      toks.push_back(token::Digit0 + j % 10);
    d.tokens.push_back(toks);
    d.labels.push_back(static_cast<int32_t>(i % 10));
    d.lines.push_back(i + 2);
  }
  return d;
}

TEST(ListOpsBatches, EveryExampleOnceWithPaddingAndLengths) {
  Dataset data = syntheticData(103);
  BatchOptions o;
  o.batchSize = 8;
  o.roundTo = 16;
  o.seed = 5;
  std::string err;
  auto batches = makeBatches(data, o, 0, &err);
  ASSERT_TRUE(batches) << err;
  std::vector<int> seen(103, 0);
  int64_t padding = 0;
  for (const Batch &b : *batches) {
    EXPECT_EQ(b.rows, 8);
    EXPECT_EQ(b.length % 16, 0);
    ASSERT_EQ(b.ids.size(), size_t(b.rows * b.length));
    for (int64_t r = 0; r < b.rows; ++r) {
      if (r >= b.examples) {
        EXPECT_EQ(b.labels[r], -1);
        EXPECT_EQ(b.lengths[r], 1);
        continue;
      }
      int64_t i = b.indices[r];
      ++seen[i];
      EXPECT_EQ(b.lengths[r], (int32_t)data.tokens[i].size());
      EXPECT_EQ(b.labels[r], data.labels[i]);
      for (int64_t c = 0; c < b.length; ++c) {
        int32_t expected = c < b.lengths[r] ? data.tokens[i][c] : token::Pad;
        ASSERT_EQ(b.ids[r * b.length + c], expected);
      }
      padding += b.length - b.lengths[r];
    }
  }
  for (int64_t i = 0; i < 103; ++i)
    EXPECT_EQ(seen[i], 1) << "example " << i;
  // Bucketing keeps padding well below what random batches would need.
  BatchOptions plain = o;
  plain.bucketByLength = false;
  int64_t plainPadding = 0;
  auto plainBatches = makeBatches(data, plain, 0, &err);
  ASSERT_TRUE(plainBatches) << err;
  for (const Batch &b : *plainBatches)
    for (int64_t r = 0; r < b.examples; ++r)
      plainPadding += b.length - b.lengths[r];
  EXPECT_LT(padding, plainPadding);
}

TEST(ListOpsBatches, ShuffleBySeedAndEpoch) {
  Dataset data = syntheticData(64);
  BatchOptions o;
  o.batchSize = 4;
  o.bucketByLength = false;
  std::string err;
  auto order = [&](uint64_t seed, int64_t epoch) {
    o.seed = seed;
    std::vector<int64_t> out;
    auto batches = makeBatches(data, o, epoch, &err);
    for (const Batch &b : *batches)
      out.insert(out.end(), b.indices.begin(), b.indices.end());
    return out;
  };
  EXPECT_EQ(order(1, 0), order(1, 0));
  EXPECT_NE(order(1, 0), order(1, 1));
  EXPECT_NE(order(1, 0), order(2, 0));
  o.shuffle = false;
  std::vector<int64_t> inOrder = order(1, 0);
  for (int64_t i = 0; i < 64; ++i)
    EXPECT_EQ(inOrder[i], i);
}

TEST(ListOpsBatches, FixedLengthAndTooLongExamples) {
  Dataset data = syntheticData(20);
  BatchOptions o;
  o.batchSize = 6;
  o.maxLength = 128;
  o.padToMax = true;
  std::string err;
  auto batches = makeBatches(data, o, 0, &err);
  ASSERT_TRUE(batches) << err;
  for (const Batch &b : *batches)
    EXPECT_EQ(b.length, 128);
  o.maxLength = 50;
  EXPECT_FALSE(makeBatches(data, o, 0, &err));
  EXPECT_NE(err.find("synthetic.tsv:"), std::string::npos) << err;
  EXPECT_NE(err.find("more than the maximum length 50"), std::string::npos)
      << err;
}

// Sizes are bounded before anything is allocated or looped over by them.
TEST(ListOpsBatches, RejectsHugeSizes) {
  Dataset data = syntheticData(20);
  std::string err;
  BatchOptions o;
  o.batchSize = int64_t(1) << 40;
  EXPECT_FALSE(makeBatches(data, o, 0, &err));
  EXPECT_EQ(err, "batch size must be in [1, 1048576], got 1099511627776");
  o = BatchOptions();
  o.roundTo = int64_t(1) << 40;
  EXPECT_FALSE(makeBatches(data, o, 0, &err));
  EXPECT_EQ(err, "round-to must be in [0, 16777216], got 1099511627776");
  o = BatchOptions();
  o.batchSize = 1 << 20;
  o.maxLength = 1 << 24;
  o.padToMax = true;
  EXPECT_FALSE(makeBatches(data, o, 0, &err));
  EXPECT_EQ(err, "a batch of 1048576 x 16777216 ids is larger than 2^31");
}

} // namespace

// The shards of a global batch, over any number of ranks, are the batch:
// every row in exactly one shard, with its ids, length and label, real
// examples first in every shard; the padding of an epoch's last batch
// spread over the ranks.
TEST(ListOpsBatches, ShardsPartitionTheGlobalBatch) {
  Dataset data = syntheticData(45); // 45 = 5 batches of 8 and one of 5
  BatchOptions o;
  o.batchSize = 8;
  o.bucketByLength = false;
  std::string err;
  auto batches = makeBatches(data, o, 0, &err);
  ASSERT_TRUE(batches) << err;
  ASSERT_EQ(batches->size(), 6u);
  ASSERT_EQ(batches->back().examples, 5);
  for (int64_t world : {1, 2, 4, 8}) {
    for (const Batch &b : *batches) {
      std::vector<int> rowsSeen(b.rows, 0);
      int64_t examples = 0;
      for (int64_t rank = 0; rank < world; ++rank) {
        Batch s = shardBatch(b, rank, world);
        ASSERT_EQ(s.rows, b.rows / world);
        ASSERT_EQ(s.length, b.length);
        ASSERT_EQ(s.ids.size(), size_t(s.rows * s.length));
        ASSERT_EQ(s.indices.size(), size_t(s.examples));
        examples += s.examples;
        for (int64_t r = 0; r < s.rows; ++r) {
          int64_t row = rank + r * world;
          ++rowsSeen[row];
          EXPECT_EQ(s.labels[r], b.labels[row]);
          EXPECT_EQ(s.lengths[r], b.lengths[row]);
          EXPECT_TRUE(std::equal(s.ids.begin() + r * s.length,
                                 s.ids.begin() + (r + 1) * s.length,
                                 b.ids.begin() + row * b.length));
          // Real rows first, padding (label -1) after.
          EXPECT_EQ(r < s.examples, s.labels[r] != -1) << "row " << r;
          if (r < s.examples)
            EXPECT_EQ(s.indices[r], b.indices[row]);
        }
        // Padding spread: shards differ by at most one real example.
        EXPECT_LE(std::abs(s.examples * world - b.examples), world);
      }
      EXPECT_EQ(examples, b.examples);
      for (int seen : rowsSeen)
        EXPECT_EQ(seen, 1);
    }
  }
}

//===- LibraryTest.cpp - libattnrt's library loading and call checks ------===//

#include "attn/Runtime/Library.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <vector>

using namespace attn::rt;

namespace {

class LibraryTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    // ctest runs tests in parallel processes: each compiles to its own file
    // and renames it into place (atomically).
    std::string tmp =
        std::string(ATTN_TEST_OUTPUT) + "." + std::to_string(getpid());
    std::string command =
        std::string(ATTN_COMPILE) + " " + ATTN_TEST_INPUT + " -o " + tmp;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    ASSERT_EQ(std::rename(tmp.c_str(), ATTN_TEST_OUTPUT), 0);
  }

  std::unique_ptr<Library> open() {
    std::string error;
    auto lib = Library::open(ATTN_TEST_OUTPUT, &error);
    EXPECT_TRUE(lib) << error;
    return lib;
  }

  std::vector<float> q = std::vector<float>(2 * 100 * 32, 0.5f);
  std::vector<float> out = std::vector<float>(2 * 100 * 32, -1.0f);
  std::vector<int32_t> lengths{70};
  TensorRef qT{DType::F32, {1, 2, 100, 32}, q.data()};
  TensorRef lenT{DType::I32, {1}, lengths.data()};
  TensorRef outT{DType::F32, {1, 2, 100, 32}, out.data()};
};

TEST_F(LibraryTest, ReadsSignatures) {
  auto lib = open();
  ASSERT_TRUE(lib);
  ASSERT_EQ(lib->signatures().size(), 1u);
  const Signature *sig = lib->signature("attend");
  ASSERT_TRUE(sig);
  ASSERT_EQ(sig->args.size(), 2u);
  EXPECT_EQ(sig->args[0].describe(), "f32 [1,2,100,32]");
  EXPECT_EQ(sig->args[1].describe(), "i32 [1]");
  ASSERT_EQ(sig->results.size(), 1u);
  EXPECT_EQ(sig->results[0].kind, "result");
  EXPECT_EQ(lib->signature("other"), nullptr);
}

TEST_F(LibraryTest, CallsAndWritesResults) {
  auto lib = open();
  ASSERT_TRUE(lib);
  std::string error;
  ASSERT_TRUE(lib->call("attend", {qT, lenT}, {outT}, &error)) << error;
  // Every key equals every query and value, so a row with a kept key
  // averages 0.5s. Window 10 under padding 70 keeps no key for rows >= 80:
  // those rows are zeros.
  for (int h = 0; h < 2; ++h)
    for (int row = 0; row < 100; ++row)
      for (int d = 0; d < 32; ++d)
        ASSERT_NEAR(out[(h * 100 + row) * 32 + d], row < 80 ? 0.5f : 0.0f,
                    1e-6f)
            << "head " << h << " row " << row;
}

TEST_F(LibraryTest, NamesTheShapeThatDoesNotMatch) {
  auto lib = open();
  ASSERT_TRUE(lib);
  TensorRef wrong{DType::F32, {1, 2, 99, 32}, q.data()};
  std::string error;
  EXPECT_FALSE(lib->call("attend", {wrong, lenT}, {outT}, &error));
  EXPECT_EQ(error, std::string("library ") + ATTN_TEST_OUTPUT +
                       ", function attend: argument 0 (arg0) has shape "
                       "[1,2,99,32], expected [1,2,100,32]");
  EXPECT_FALSE(lib->call("attend", {qT, lenT}, {wrong}, &error));
  EXPECT_NE(error.find("result 0 (result0) has shape [1,2,99,32]"),
            std::string::npos)
      << error;
}

TEST_F(LibraryTest, NamesTheDTypeThatDoesNotMatch) {
  auto lib = open();
  ASSERT_TRUE(lib);
  TensorRef wrong{DType::I64, {1}, lengths.data()};
  std::string error;
  EXPECT_FALSE(lib->call("attend", {qT, wrong}, {outT}, &error));
  EXPECT_NE(error.find("argument 1 (arg1) has dtype i64, expected i32"),
            std::string::npos)
      << error;
}

TEST_F(LibraryTest, RejectsWrongCountsAndUnknownFunctions) {
  auto lib = open();
  ASSERT_TRUE(lib);
  std::string error;
  EXPECT_FALSE(lib->call("attend", {qT}, {outT}, &error));
  EXPECT_NE(error.find("expects 2 arguments and 1 results, got 1 and 1"),
            std::string::npos)
      << error;
  EXPECT_FALSE(lib->call("missing", {qT, lenT}, {outT}, &error));
  EXPECT_NE(error.find("function missing: no such function"), std::string::npos)
      << error;
  TensorRef empty{DType::F32, {1, 2, 100, 32}, nullptr};
  EXPECT_FALSE(lib->call("attend", {empty, lenT}, {outT}, &error));
  EXPECT_NE(error.find("argument 0 (arg0) has no data"), std::string::npos)
      << error;
}

TEST_F(LibraryTest, RefusesDeviceMemoryForACpuFunction) {
  auto lib = open();
  ASSERT_TRUE(lib);
  TensorRef onDevice = qT;
  onDevice.onDevice = true;
  std::string error;
  EXPECT_FALSE(lib->call("attend", {onDevice, lenT}, {outT}, &error));
  EXPECT_NE(error.find("argument 0 (arg0) is in device memory, but the "
                       "function runs on the cpu"),
            std::string::npos)
      << error;
}

TEST(LibraryOpen, NamesTheLibraryAndTheMissingSymbol) {
  std::string error;
  EXPECT_FALSE(Library::open(ATTN_RT_LIBRARY, &error));
  EXPECT_EQ(error, std::string("library ") + ATTN_RT_LIBRARY +
                       ": missing symbol attn_functions (not made by "
                       "attn-compile?)");
  EXPECT_FALSE(Library::open("/nonexistent/model.so", &error));
  EXPECT_EQ(error.rfind("library /nonexistent/model.so: cannot load: ", 0), 0u)
      << error;
}

TEST(SignatureParse, SaysWhichLineIsWrong) {
  std::string error;
  auto sig = Signature::parse("attn-signature 1\nfunction f\n"
                              "arg input x f32 [2,3]\n"
                              "result y q8 [2]\n",
                              &error);
  EXPECT_FALSE(sig);
  EXPECT_NE(error.find("signature line 4"), std::string::npos) << error;
  sig = Signature::parse("attn-signature 1\nfunction f\n"
                         "arg param w f32 [4,4] normal:0.02\n"
                         "arg input seed i64 scalar\n"
                         "result y f32 []\n",
                         &error);
  ASSERT_TRUE(sig) << error;
  EXPECT_EQ(sig->args[0].init, "normal:0.02");
  EXPECT_TRUE(sig->args[1].scalar);
  EXPECT_EQ(sig->results[0].numel(), 1);
}

// A training step's compiled optimizer settings, and a malformed pair.
TEST(SignatureParse, ReadsTheOptimizerLine) {
  std::string error;
  auto sig = Signature::parse("attn-signature 1\nfunction f\n"
                              "optimizer decay=cosine lr=0.002 warmup=10\n"
                              "result y f32 []\n",
                              &error);
  ASSERT_TRUE(sig) << error;
  EXPECT_EQ(sig->optimizer.size(), 3u);
  EXPECT_EQ(sig->optimizer["lr"], "0.002");
  EXPECT_EQ(sig->optimizer["decay"], "cosine");
  for (const char *pair : {"lr", "=0.1", "lr="}) {
    sig = Signature::parse(std::string("attn-signature 1\nfunction f\n"
                                       "optimizer warmup=1 ") +
                               pair + "\n",
                           &error);
    EXPECT_FALSE(sig) << pair;
    EXPECT_NE(error.find("signature line 3"), std::string::npos) << error;
  }
}

// Malformed or hostile shapes are errors naming the line, never exceptions
// or wrapped sizes.
TEST(SignatureParse, RejectsMalformedAndOversizedShapes) {
  for (const char *shape :
       {"[a]", "[2,,3]", "[2,]", "[-4,4]", "[99999999999999999999]",
        "[4611686018427387904,4]", "[16777216,16777216,16]"}) {
    std::string error;
    auto sig = Signature::parse(std::string("attn-signature 1\nfunction f\n"
                                            "arg input x f32 ") +
                                    shape + "\n",
                                &error);
    EXPECT_FALSE(sig) << shape;
    EXPECT_NE(error.find("signature line 3"), std::string::npos)
        << shape << ": " << error;
  }
  std::string error;
  auto sig = Signature::parse("attn-signature 1\nfunction f\n"
                              "arg input x f32 [0,8]\n",
                              &error);
  ASSERT_TRUE(sig) << error;
  EXPECT_EQ(sig->args[0].numel(), 0);
}

} // namespace

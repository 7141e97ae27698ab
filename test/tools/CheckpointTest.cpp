//===- CheckpointTest.cpp - attn-train's safetensors checkpoints ----------===//

#include "Checkpoint.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace attn;
using namespace attn::train;

namespace {

std::string tempPath(const std::string &name) {
  return (std::filesystem::temp_directory_path() /
          ("attn-checkpoint-test-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

Checkpoint sample() {
  Checkpoint c;
  c.metadata = {{"format", "attn-checkpoint 1"}, {"step", "12"}};
  CheckpointTensor w{"layers.0.w", rt::DType::F32, {2, 3}, {}};
  for (int i = 0; i < 6; ++i) {
    float v = 0.5f * i - 1;
    const uint8_t *b = reinterpret_cast<const uint8_t *>(&v);
    w.data.insert(w.data.end(), b, b + 4);
  }
  CheckpointTensor step{"optimizer.step", rt::DType::I64, {}, {}};
  int64_t s = 12;
  const uint8_t *b = reinterpret_cast<const uint8_t *>(&s);
  step.data.assign(b, b + 8);
  c.tensors = {w, step};
  return c;
}

TEST(Checkpoint, RoundTripsTensorsAndMetadata) {
  std::string path = tempPath("roundtrip.safetensors"), error;
  ASSERT_TRUE(writeCheckpoint(path, sample(), &error)) << error;
  std::optional<Checkpoint> read = readCheckpoint(path, &error);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(read->metadata, sample().metadata);
  for (const CheckpointTensor &t : sample().tensors) {
    const CheckpointTensor *r = read->find(t.name);
    ASSERT_TRUE(r) << t.name;
    EXPECT_EQ(r->dtype, t.dtype);
    EXPECT_EQ(r->shape, t.shape);
    EXPECT_EQ(r->data, t.data);
  }
  // The safetensors layout: an 8-byte header length, then a JSON header
  // padded to 8 bytes.
  std::ifstream in(path, std::ios::binary);
  uint64_t size = 0;
  in.read(reinterpret_cast<char *>(&size), 8);
  EXPECT_EQ(size % 8, 0u);
  std::string header(size, '\0');
  in.read(header.data(), size);
  EXPECT_NE(header.find("\"dtype\":\"F32\""), std::string::npos) << header;
  EXPECT_NE(header.find("\"data_offsets\":[0,24]"), std::string::npos)
      << header;
  std::remove(path.c_str());
}

TEST(Checkpoint, TruncatedFilesAreErrorsNamingTheFile) {
  std::string path = tempPath("truncated.safetensors"), error;
  ASSERT_TRUE(writeCheckpoint(path, sample(), &error)) << error;
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
  EXPECT_FALSE(readCheckpoint(path, &error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  std::filesystem::resize_file(path, 5);
  EXPECT_FALSE(readCheckpoint(path, &error));
  EXPECT_NE(error.find("not a safetensors file"), std::string::npos) << error;
  std::remove(path.c_str());
}

TEST(Checkpoint, AFailedWriteLeavesThePreviousCheckpoint) {
  std::string path = tempPath("kept.safetensors"), error;
  ASSERT_TRUE(writeCheckpoint(path, sample(), &error)) << error;
  // The temporary file cannot be created where a directory stands.
  std::filesystem::create_directory(path + ".tmp");
  Checkpoint other = sample();
  other.metadata["step"] = "13";
  EXPECT_FALSE(writeCheckpoint(path, other, &error));
  std::optional<Checkpoint> read = readCheckpoint(path, &error);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(read->metadata["step"], "12");
  std::filesystem::remove(path + ".tmp");
  std::remove(path.c_str());
}

TEST(Checkpoint, MissingFilesAreErrors) {
  std::string error;
  EXPECT_FALSE(readCheckpoint(tempPath("absent.safetensors"), &error));
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

} // namespace

//===- Checkpoint.cpp - safetensors reading and atomic writing ------------===//

#include "Checkpoint.h"

#include "llvm/Support/JSON.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace attn;
using namespace attn::train;

const CheckpointTensor *Checkpoint::find(const std::string &name) const {
  for (const CheckpointTensor &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

const char *attn::train::safetensorsDType(rt::DType t) {
  switch (t) {
  case rt::DType::F32:
    return "F32";
  case rt::DType::BF16:
    return "BF16";
  case rt::DType::F16:
    return "F16";
  case rt::DType::F64:
    return "F64";
  case rt::DType::I32:
    return "I32";
  case rt::DType::I64:
    return "I64";
  case rt::DType::I8:
    return "I8";
  }
  return "?";
}

std::optional<rt::DType>
attn::train::parseSafetensorsDType(const std::string &name) {
  for (rt::DType t :
       {rt::DType::F32, rt::DType::BF16, rt::DType::F16, rt::DType::F64,
        rt::DType::I32, rt::DType::I64, rt::DType::I8})
    if (name == safetensorsDType(t))
      return t;
  return std::nullopt;
}

bool attn::train::writeCheckpoint(const std::string &path,
                                  const Checkpoint &checkpoint,
                                  std::string *error) {
  llvm::json::Object header;
  uint64_t offset = 0;
  for (const CheckpointTensor &t : checkpoint.tensors) {
    llvm::json::Array shape;
    for (int64_t d : t.shape)
      shape.push_back(d);
    header[t.name] = llvm::json::Object{
        {"dtype", safetensorsDType(t.dtype)},
        {"shape", std::move(shape)},
        {"data_offsets", llvm::json::Array{offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  llvm::json::Object metadata;
  for (const auto &[key, value] : checkpoint.metadata)
    metadata[key] = value;
  header["__metadata__"] = std::move(metadata);
  std::string text;
  llvm::raw_string_ostream(text) << llvm::json::Value(std::move(header));
  // The format pads the header with spaces to a multiple of 8 bytes.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string temporary = path + ".tmp";
  FILE *f = std::fopen(temporary.c_str(), "wb");
  if (!f) {
    *error = "cannot write " + temporary;
    return false;
  }
  uint64_t size = text.size();
  uint8_t sizeBytes[8];
  for (int i = 0; i < 8; ++i)
    sizeBytes[i] = static_cast<uint8_t>(size >> (8 * i));
  bool ok = std::fwrite(sizeBytes, 1, 8, f) == 8 &&
            std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const CheckpointTensor &t : checkpoint.tensors)
    ok = ok && std::fwrite(t.data.data(), 1, t.data.size(), f) == t.data.size();
  ok = ok && std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    *error = "writing " + path +
             " failed (disk full?); the previous "
             "checkpoint, if any, is unchanged";
    return false;
  }
  return true;
}

std::optional<Checkpoint> attn::train::readCheckpoint(const std::string &path,
                                                      std::string *error) {
  auto fail = [&](const std::string &what) -> std::optional<Checkpoint> {
    *error = path + ": " + what;
    return std::nullopt;
  };
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail("cannot open the checkpoint");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  if (bytes.size() < 8)
    return fail("not a safetensors file (shorter than its header length)");
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i)
    size |= uint64_t(static_cast<uint8_t>(bytes[i])) << (8 * i);
  if (size > bytes.size() - 8)
    return fail("not a safetensors file (header length " +
                std::to_string(size) + " past the end of the file)");
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse(llvm::StringRef(bytes.data() + 8, size));
  if (!parsed)
    return fail("malformed header: " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *header = parsed->getAsObject();
  if (!header)
    return fail("malformed header: not a JSON object");
  const uint64_t dataStart = 8 + size, dataSize = bytes.size() - dataStart;
  Checkpoint checkpoint;
  for (const auto &[key, value] : *header) {
    std::string name = key.str();
    const llvm::json::Object *entry = value.getAsObject();
    if (!entry)
      return fail("entry '" + name + "' is not an object");
    if (name == "__metadata__") {
      for (const auto &[mk, mv] : *entry) {
        std::optional<llvm::StringRef> s = mv.getAsString();
        if (!s)
          return fail("metadata '" + mk.str() + "' is not a string");
        checkpoint.metadata[mk.str()] = s->str();
      }
      continue;
    }
    CheckpointTensor t;
    t.name = name;
    std::optional<llvm::StringRef> dtype = entry->getString("dtype");
    std::optional<rt::DType> parsedType =
        dtype ? parseSafetensorsDType(dtype->str()) : std::nullopt;
    if (!parsedType)
      return fail("tensor '" + name + "' has no dtype attn knows");
    t.dtype = *parsedType;
    const llvm::json::Array *shape = entry->getArray("shape");
    const llvm::json::Array *offsets = entry->getArray("data_offsets");
    if (!shape || !offsets || offsets->size() != 2)
      return fail("tensor '" + name + "' lacks its shape or data_offsets");
    uint64_t elements = 1;
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> extent = d.getAsInteger();
      if (!extent || *extent < 0 || *extent > (int64_t(1) << 40))
        return fail("tensor '" + name + "' has a malformed shape");
      t.shape.push_back(*extent);
      elements *= uint64_t(*extent);
    }
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger(),
                           end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin ||
        uint64_t(*end) > dataSize ||
        uint64_t(*end - *begin) != elements * rt::dtypeSize(t.dtype))
      return fail("tensor '" + name +
                  "' has byte range inconsistent with its "
                  "shape or the file's size (a truncated file?)");
    t.data.assign(bytes.begin() + dataStart + *begin,
                  bytes.begin() + dataStart + *end);
    checkpoint.tensors.push_back(std::move(t));
  }
  return checkpoint;
}

//===- attn-train.cpp - train compiled encoders on LRA ListOps ------------===//
//
//   attn-train MODEL --data DIR --out RUN [options]
//   attn-train evaluate CHECKPOINT --data FILE.tsv [--out RUN]
//   attn-train curves RUN
//
// MODEL is a model spec (.json, imported with attn-import) or attn IR
// (.mlir) whose public function `forward` returns (loss, logits). attn-train
// compiles it twice with attn-compile, the two at once -- forward_train_step
// (--train: the forward, reverse mode and AdamW in one call) and the
// forward without dropout for evaluation -- reads basic_{train,val}.tsv from
// DIR, and trains: a progress line, validation every --eval-every steps, the
// best and the last checkpoint in RUN (safetensors, written atomically),
// metrics as JSON lines in RUN/metrics.jsonl, and their curves drawn to
// RUN/curves.png (gnuplot). Running the same command
// again resumes from RUN/last.safetensors: the same data order, dropout
// masks and optimizer state as an uninterrupted run. Layout and keys:
// docs/training.md.
//
// Data-parallel (docs/training.md, "Several GPUs"): --gpus N starts N ranks,
// one process per GPU, each training on its share of every global batch; a
// rank can also be started by a launcher that sets RANK, WORLD_SIZE and
// LOCAL_RANK, as torchrun does.
//
//===----------------------------------------------------------------------===//

#include "Checkpoint.h"

#include "attn/Data/ListOps.h"
#include "attn/Runtime/Collective.h"
#include "attn/Runtime/Device.h"
#include "attn/Runtime/Library.h"
#include "attn/Support/Initializers.h"
#include "attn/Support/NumberText.h"

#include "llvm/Support/JSON.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace attn;
using namespace attn::train;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "attn-train: error: %s\n", message.c_str());
  std::exit(1);
}

const char *kUsage =
    "usage: attn-train MODEL.{json,mlir} --data DIR --out RUN [options]\n"
    "       attn-train evaluate CHECKPOINT --data FILE.tsv [--out RUN]\n"
    "                 [--recalibrate-batches N --recalibrate-data TRAIN.tsv]\n"
    "       attn-train curves RUN  (RUN/curves.png from RUN/metrics.jsonl)\n"
    "\n"
    "Training options:\n"
    "  --target cpu|gpu       where the compiled model runs (default cpu)\n"
    "  --chip C               the GPU's architecture for --target gpu\n"
    "                         (attn-compile's --chip; default sm_90a)\n"
    "  --steps N              optimizer steps in all (default 1000)\n"
    "  --eval-every N         validate every N steps (default 200)\n"
    "  --eval-batches N       validation batches, 0: the whole split "
    "(default 0)\n"
    "  --seed S               data order, dropout and initialisation "
    "(default 0)\n"
    "  --lr X --warmup N --decay cosine|linear|constant --weight-decay X\n"
    "  --max-grad-norm X      AdamW and its schedule (defaults 1e-3, 0,\n"
    "                         cosine, 0.01, 1.0; the decay ends at --steps)\n"
    "  --max-minutes M        stop cleanly, with a checkpoint, after M "
    "minutes\n"
    "  --stop-at-step N       stop cleanly, with a checkpoint, after step N\n"
    "  --recalibrate-batches N  before each validation, set batch norms'\n"
    "                         running statistics to their average over N\n"
    "                         training batches under the current weights\n"
    "                         (default 0: the running averages as trained;\n"
    "                         evaluate: over N batches of --recalibrate-data)\n"
    "  --attn-compile PATH --attn-import PATH   the tools (default: the "
    "build's)\n"
    "  --compile-flag F       one more attn-compile flag for both libraries,\n"
    "                         e.g. a lowering option (--persistent-products);\n"
    "                         repeatable\n"
    "  --no-compile           use RUN/train.so and RUN/eval.so as they are\n"
    "                         (compiled ahead where MLIR is, e.g. for a GPU\n"
    "                         machine: --compile-only)\n"
    "  --compile-only         compile RUN/train.so and RUN/eval.so, then stop\n"
    "  --length-step S        pad each batch to a multiple of S tokens (at\n"
    "                         most the spec's seq_len), batches of similar\n"
    "                         lengths together: the model is compiled for\n"
    "                         every such length (RUN/train-L.so, eval-L.so),\n"
    "                         one set of parameters (default 0: every batch\n"
    "                         at seq_len; needs a .json spec)\n"
    "\n"
    "Several GPUs (data-parallel; the spec's batch is the global batch):\n"
    "  --gpus N               N ranks on this host's GPUs, one process each\n"
    "  --exchange f32|bf16    the type gradients are averaged in (default\n"
    "                         f32; bf16 moves half the bytes)\n"
    "  --collective-timeout S a rank that makes no progress for S seconds\n"
    "                         (a peer died or hangs) stops the run (default\n"
    "                         300)\n"
    "  RANK, WORLD_SIZE, LOCAL_RANK (environment): this process is one rank\n"
    "  of a run started by another launcher; ATTN_NCCL_ID_FILE (default\n"
    "  RUN/nccl.id, which must not exist yet) is where rank 0 publishes the\n"
    "  run's id for the others (a shared filesystem across hosts)\n"
    "Running again with the same --out resumes from RUN/last.safetensors,\n"
    "with any number of GPUs.\n";

struct Options {
  std::string model, data, out, target = "cpu", evaluateCheckpoint;
  std::string recalibrateData;
  int64_t steps = 1000, evalEvery = 200, evalBatches = 0, stopAtStep = 0;
  int64_t recalibrateBatches = 0;
  int64_t gpus = 0, lengthStep = 0;
  bool noCompile = false, compileOnly = false;
  double collectiveTimeout = 300;
  uint64_t seed = 0;
  double lr = 1e-3, weightDecay = 0.01, maxGradNorm = 1.0, maxMinutes = 0;
  int64_t warmup = 0;
  std::string decay = "cosine", exchange = "f32", chip;
  std::string compiler = ATTN_COMPILE, importer = ATTN_IMPORT;
  /// More of attn-compile's flags (--compile-flag), for both libraries.
  std::vector<std::string> compileFlags;
};

int64_t parseInt(const std::string &flag, const char *text, int64_t min) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || !*text || *end || v < min)
    die(flag + " expects an integer >= " + std::to_string(min) + ", got '" +
        text + "'");
  return v;
}

double parseReal(const std::string &flag, const char *text) {
  char *end = nullptr;
  double v = std::strtod(text, &end);
  if (!*text || *end || !std::isfinite(v) || v < 0)
    die(flag + " expects a non-negative number, got '" + text + "'");
  return v;
}

Options parseOptions(int argc, char **argv) {
  Options o;
  int first = 1;
  if (argc > 1 && std::string(argv[1]) == "evaluate") {
    if (argc < 3)
      die("evaluate needs a checkpoint\n" + std::string(kUsage));
    o.evaluateCheckpoint = argv[2];
    first = 3;
  }
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) {
      if (!o.model.empty() || !o.evaluateCheckpoint.empty())
        die("unexpected argument '" + arg + "'\n" + kUsage);
      o.model = arg;
      continue;
    }
    if (arg == "--no-compile") {
      o.noCompile = true;
      continue;
    }
    if (arg == "--compile-only") {
      o.compileOnly = true;
      continue;
    }
    if (i + 1 >= argc)
      die(arg + " needs a value");
    const char *value = argv[++i];
    if (arg == "--data")
      o.data = value;
    else if (arg == "--out")
      o.out = value;
    else if (arg == "--target")
      o.target = value;
    else if (arg == "--chip")
      o.chip = value;
    else if (arg == "--steps")
      o.steps = parseInt(arg, value, 1);
    else if (arg == "--eval-every")
      o.evalEvery = parseInt(arg, value, 1);
    else if (arg == "--eval-batches")
      o.evalBatches = parseInt(arg, value, 0);
    else if (arg == "--seed")
      o.seed = static_cast<uint64_t>(parseInt(arg, value, 0));
    else if (arg == "--lr")
      o.lr = parseReal(arg, value);
    else if (arg == "--warmup")
      o.warmup = parseInt(arg, value, 0);
    else if (arg == "--decay")
      o.decay = value;
    else if (arg == "--weight-decay")
      o.weightDecay = parseReal(arg, value);
    else if (arg == "--max-grad-norm")
      o.maxGradNorm = parseReal(arg, value);
    else if (arg == "--max-minutes")
      o.maxMinutes = parseReal(arg, value);
    else if (arg == "--stop-at-step")
      o.stopAtStep = parseInt(arg, value, 1);
    else if (arg == "--recalibrate-batches")
      o.recalibrateBatches = parseInt(arg, value, 0);
    else if (arg == "--recalibrate-data")
      o.recalibrateData = value;
    else if (arg == "--length-step")
      o.lengthStep = parseInt(arg, value, 1);
    else if (arg == "--gpus")
      o.gpus = parseInt(arg, value, 1);
    else if (arg == "--exchange")
      o.exchange = value;
    else if (arg == "--collective-timeout")
      o.collectiveTimeout = parseReal(arg, value);
    else if (arg == "--attn-compile")
      o.compiler = value;
    else if (arg == "--compile-flag")
      o.compileFlags.push_back(value);
    else if (arg == "--attn-import")
      o.importer = value;
    else
      die("unknown option '" + arg + "'\n" + kUsage);
  }
  if (o.target != "cpu" && o.target != "gpu")
    die("--target must be cpu or gpu, got '" + o.target + "'");
  if (o.decay != "cosine" && o.decay != "linear" && o.decay != "constant")
    die("--decay must be cosine, linear or constant, got '" + o.decay + "'");
  if (o.warmup > o.steps)
    die("--warmup (" + std::to_string(o.warmup) + ") exceeds --steps (" +
        std::to_string(o.steps) + ")");
  if (!o.chip.empty() && o.target != "gpu")
    die("--chip names a GPU: it needs --target gpu");
  if (o.gpus > 1 && o.target != "gpu")
    die("--gpus " + std::to_string(o.gpus) +
        " trains on GPUs: it needs --target gpu");
  if (o.exchange != "f32" && o.exchange != "bf16")
    die("--exchange must be f32 or bf16, got '" + o.exchange + "'");
  if (o.noCompile && o.compileOnly)
    die("--no-compile and --compile-only exclude each other");
  if (o.collectiveTimeout <= 0)
    die("--collective-timeout must be positive");
  if (o.data.empty() && !o.compileOnly)
    die("--data is required\n" + std::string(kUsage));
  if (!o.evaluateCheckpoint.empty() &&
      (o.recalibrateBatches > 0) != !o.recalibrateData.empty())
    die("evaluate recalibrates with --recalibrate-batches N and "
        "--recalibrate-data FILE.tsv together");
  if (o.evaluateCheckpoint.empty() && !o.recalibrateData.empty())
    die("--recalibrate-data is evaluate's: a training run recalibrates on "
        "its training split");
  if (o.evaluateCheckpoint.empty() && (o.model.empty() || o.out.empty()))
    die("a model and --out are required\n" + std::string(kUsage));
  return o;
}

std::string quote(const std::string &s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs `command`; an empty string if it succeeded, else what failed.
std::string tryRun(const std::string &command, const std::string &what) {
  int rc = std::system(command.c_str());
  if (rc == 0)
    return "";
  return what + " failed (exit " +
         std::to_string(WIFEXITED(rc) ? WEXITSTATUS(rc) : rc) + "): " + command;
}

void run(const std::string &command, const std::string &what) {
  std::string failure = tryRun(command, what);
  if (!failure.empty())
    die(failure);
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    die("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

//===----------------------------------------------------------------------===//
// Buffers
//===----------------------------------------------------------------------===//

/// One argument's or result's memory: host bytes and, for the training
/// state of a GPU library, a device copy that the calls read and write in
/// place (keepOnDevice) -- the host bytes then being brought up to date
/// only where they are read (toHost: checkpoints).
struct Buffer {
  rt::TensorSpec spec;
  std::vector<uint8_t> bytes;
  void *device = nullptr;

  explicit Buffer(const rt::TensorSpec &s)
      : spec(s), bytes(s.scalar ? rt::dtypeSize(s.dtype) : s.bytes()) {}
  Buffer(Buffer &&o) noexcept
      : spec(std::move(o.spec)), bytes(std::move(o.bytes)),
        device(std::exchange(o.device, nullptr)) {}
  Buffer &operator=(Buffer &&o) noexcept {
    std::swap(spec, o.spec);
    std::swap(bytes, o.bytes);
    std::swap(device, o.device);
    return *this;
  }
  ~Buffer() { rt::deviceFree(device); }

  template <typename T> T *as() { return reinterpret_cast<T *>(bytes.data()); }
  /// Where a call finds it: the device copy if there is one.
  rt::TensorRef ref() {
    return {spec.dtype, spec.shape, device ? device : bytes.data(),
            device != nullptr};
  }
  /// From now on the buffer lives on the device, starting as its bytes.
  void keepOnDevice() {
    if (!device)
      device = rt::deviceAlloc(bytes.size());
    if (!device || !rt::copyToDevice(device, bytes.data(), bytes.size()))
      die("cannot keep " + spec.name + " (" + spec.describe() +
          ") on the GPU: " + rt::takeGpuError().value_or("?"));
  }
  void toHost() {
    if (device && !rt::copyToHost(bytes.data(), device, bytes.size()))
      die("cannot copy " + spec.name +
          " from the GPU: " + rt::takeGpuError().value_or("?"));
  }
};

/// A parameter's initial values, as its attn.init says
/// (mlir::attn::ParamInit: normal:<std>, zeros, ones, and S4D's).
void initialise(Buffer &b, std::mt19937_64 &rng) {
  if (b.spec.dtype != rt::DType::F32)
    die("parameter " + b.spec.name + " is not f32");
  float *p = b.as<float>();
  int64_t n = b.spec.numel();
  int64_t last = b.spec.shape.empty() ? 1 : b.spec.shape.back();
  const std::string &init = b.spec.init;
  if (!isKnownInitializer(init))
    die("parameter " + b.spec.name + " has an initialisation attn-train does "
        "not know: '" + init + "' (known: " + knownInitializers() + ")");
  std::normal_distribution<double> normal(0.0, 1.0);
  if (init.rfind("normal:", 0) == 0) {
    double scale = std::strtod(init.c_str() + 7, nullptr);
    for (int64_t i = 0; i < n; ++i)
      p[i] = float(scale * normal(rng));
  } else if (init == "zeros") {
    std::fill(p, p + n, 0.0f);
  } else if (init == "ones") {
    std::fill(p, p + n, 1.0f);
  } else if (init == "s4d_log_a_real") {
    std::fill(p, p + n, float(std::log(0.5)));
  } else if (init == "s4d_a_imag") {
    for (int64_t i = 0; i < n; ++i)
      p[i] = float(M_PI * double(i % last));
  } else if (init == "s4d_log_dt") {
    std::uniform_real_distribution<double> u(std::log(1e-3), std::log(1e-1));
    for (int64_t i = 0; i < n; ++i)
      p[i] = float(u(rng));
  } else if (init == "s4d_c") {
    for (int64_t i = 0; i < n; ++i)
      p[i] = float(std::sqrt(0.5) * normal(rng));
  } else {
    // In attn/Support/Initializers.h's list but not filled here: the two
    // must change together.
    die("parameter " + b.spec.name + ": initialisation '" + init +
        "' is listed in attn/Support/Initializers.h but not implemented by "
        "attn-train");
  }
}

//===----------------------------------------------------------------------===//
// The model: its two compiled functions and the training state
//===----------------------------------------------------------------------===//

/// Input arguments the trainer feeds, by name (ModelBuilder's interface).
enum class Input { Ids, Lengths, Labels, Seed };

struct Model {
  std::unique_ptr<rt::Library> train, eval;
  const rt::Signature *step = nullptr, *forward = nullptr;
  int64_t batch = 0, length = 0, classes = 0;
  std::vector<Input> inputs;          ///< the first arguments, in order
  /// Then the parameters, the buffers (state the model updates itself:
  /// batch norms' running statistics) and the optimizer's state.
  size_t numParams = 0, numBuffers = 0, numState = 0;
  /// The parameters and buffers: what the evaluation forward takes.
  size_t numModel() const { return numParams + numBuffers; }
  /// Results of the step: loss, logits, grad_norm, lr, then the new state.

  /// --length-step: batches are padded to multiples of it, and `shorter`
  /// holds the model compiled for each such length below `length` (the same
  /// parameters and state).
  int64_t lengthStep = 0;
  std::map<int64_t, std::shared_ptr<Model>> shorter;

  /// The libraries for a batch of `tokens` tokens a row.
  const Model &at(int64_t tokens) const {
    if (tokens == length)
      return *this;
    auto it = shorter.find(tokens);
    if (it == shorter.end())
      die("no library for batches of " + std::to_string(tokens) +
          " tokens (compiled: " + std::to_string(length) +
          (shorter.empty() ? "" : " and shorter ones") + ")");
    return *it->second;
  }
};

std::unique_ptr<rt::Library> openLibrary(const std::string &path) {
  std::string error;
  std::unique_ptr<rt::Library> lib = rt::Library::open(path, &error);
  if (!lib)
    die(error);
  return lib;
}

Model loadModel(const std::string &trainLib, const std::string &evalLib) {
  Model m;
  m.train = openLibrary(trainLib);
  m.eval = openLibrary(evalLib);
  m.step = m.train->signature("forward_train_step");
  m.forward = m.eval->signature("forward");
  if (!m.step || !m.forward)
    die("the model has no function 'forward' returning (loss, logits) with "
        "parameters: nothing to train");
  for (const rt::TensorSpec &a : m.step->args) {
    if (a.kind == "input") {
      if (a.name == "ids")
        m.inputs.push_back(Input::Ids);
      else if (a.name == "lengths")
        m.inputs.push_back(Input::Lengths);
      else if (a.name == "labels")
        m.inputs.push_back(Input::Labels);
      else if (a.name == "seed")
        m.inputs.push_back(Input::Seed);
      else
        die("forward's input '" + a.name +
            "' is not one attn-train feeds "
            "(ids, lengths, labels, seed)");
    } else if (a.kind == "param") {
      ++m.numParams;
    } else if (a.kind == "buffer") {
      ++m.numBuffers;
    } else if (a.kind == "state") {
      ++m.numState;
    }
  }
  const rt::TensorSpec *ids = m.step->findArg("ids");
  if (!ids || ids->shape.size() != 2 || !m.step->findArg("labels"))
    die("forward needs inputs ids [batch, length] and labels [batch]");
  m.batch = ids->shape[0];
  m.length = ids->shape[1];
  if (m.step->results.size() < 4 || m.step->results[1].shape.size() != 2)
    die("forward must return (loss, logits [batch, classes])");
  // The loop reads both as floats; a bf16 model returns f32 logits too.
  if (m.step->results[0].dtype != rt::DType::F32 ||
      m.step->results[1].dtype != rt::DType::F32 ||
      m.forward->results.size() < 2 ||
      m.forward->results[1].dtype != rt::DType::F32)
    die("forward must return its loss and logits in f32");
  m.classes = m.step->results[1].shape[1];
  if (m.numState != 2 * m.numParams + 1 ||
      m.step->results.size() != 4 + m.numModel() + m.numState)
    die("forward_train_step does not have the layout attn-generate-train-step "
        "gives");
  return m;
}

/// RUN/lengths.txt: "S L1 L2 ..." -- the --length-step S a run's libraries
/// were compiled with and the shorter lengths it gave; absent, there is one
/// length, the spec's.
std::string lengthsFile(const std::string &runDir) {
  return runDir + "/lengths.txt";
}

/// RUN/STEM.EXT for batches of the spec's length (`length` 0), or
/// RUN/STEM-L.EXT for batches of L tokens.
std::string runFile(const std::string &runDir, const std::string &stem,
                    const std::string &ext, int64_t length) {
  return runDir + "/" + stem +
         (length ? "-" + std::to_string(length) : std::string()) + ext;
}

/// A run's library of `kind` (train, eval) for batches of `length` tokens,
/// 0 for the spec's length.
std::string libraryPath(const std::string &runDir, const std::string &kind,
                        int64_t length = 0) {
  return runFile(runDir, kind, ".so", length);
}

/// The libraries compiled into `runDir`: the spec's length, then any
/// shorter ones lengths.txt lists, each checked against the first (the same
/// batch, classes and parameters).
Model loadRun(const std::string &runDir) {
  Model m =
      loadModel(libraryPath(runDir, "train"), libraryPath(runDir, "eval"));
  std::ifstream in(lengthsFile(runDir));
  if (!in)
    return m;
  if (!(in >> m.lengthStep) || m.lengthStep < 1)
    die(lengthsFile(runDir) + ": expected the length step, then lengths");
  for (int64_t length; in >> length;) {
    auto s =
        std::make_shared<Model>(loadModel(libraryPath(runDir, "train", length),
                                          libraryPath(runDir, "eval", length)));
    bool same = s->length == length && s->batch == m.batch &&
                s->classes == m.classes && s->numParams == m.numParams &&
                s->numBuffers == m.numBuffers && s->numState == m.numState;
    for (size_t i = m.inputs.size(); same && i < m.step->args.size(); ++i)
      same = s->step->args[i].shape == m.step->args[i].shape &&
             s->step->args[i].dtype == m.step->args[i].dtype;
    if (!same)
      die(libraryPath(runDir, "train", length) + " is not the model of " +
          libraryPath(runDir, "train") + " for batches of " +
          std::to_string(length) + " tokens: compile the run again");
    m.shorter[length] = std::move(s);
  }
  return m;
}

/// Where calls find `buffers`, in order.
std::vector<rt::TensorRef> refsOf(std::vector<Buffer> &buffers,
                                  size_t begin = 0, size_t end = SIZE_MAX) {
  std::vector<rt::TensorRef> refs;
  for (size_t i = begin; i < std::min(end, buffers.size()); ++i)
    refs.push_back(buffers[i].ref());
  return refs;
}

/// The inputs of a batch, in the function's order.
std::vector<Buffer> inputBuffers(const Model &m, const rt::Signature &sig,
                                 const listops::Batch &batch, int64_t seed) {
  std::vector<Buffer> out;
  for (size_t i = 0; i < m.inputs.size(); ++i) {
    Buffer b(sig.args[i]);
    switch (m.inputs[i]) {
    case Input::Ids:
      std::memcpy(b.bytes.data(), batch.ids.data(), b.bytes.size());
      break;
    case Input::Lengths:
      std::memcpy(b.bytes.data(), batch.lengths.data(), b.bytes.size());
      break;
    case Input::Labels:
      std::memcpy(b.bytes.data(), batch.labels.data(), b.bytes.size());
      break;
    case Input::Seed:
      *b.as<int64_t>() = seed;
      break;
    }
    out.push_back(std::move(b));
  }
  return out;
}

/// Predictions and their correctness per class.
struct ClassCounts {
  std::vector<int64_t> predicted, actual, hits;
};

/// Correct predictions (argmax of the logits) among the batch's examples;
/// with `counts`, each class's predictions, examples and hits too.
int64_t correct(const float *logits, const listops::Batch &batch,
                int64_t classes, ClassCounts *counts = nullptr) {
  int64_t hits = 0;
  for (int64_t r = 0; r < batch.examples; ++r) {
    const float *row = logits + r * classes;
    int64_t best = std::max_element(row, row + classes) - row;
    int32_t label = batch.labels[r];
    hits += best == label;
    if (counts && label >= 0 && label < classes) {
      ++counts->predicted[best];
      ++counts->actual[label];
      counts->hits[label] += best == label;
    }
  }
  return hits;
}

struct EvalResult : ClassCounts {
  double loss = 0, accuracy = 0;
  int64_t examples = 0;
};

/// Sums `values` over the ranks of a data-parallel run (nothing to do in a
/// run of one).
void sumOverRanks(std::vector<double> &values) {
  std::string error;
  if (!rt::allReduceSum(values.data(), values.size(), &error))
    die("summing over the ranks: " + error);
}

/// Loss and accuracy of `forward` (evaluation mode) over `batches`, with the
/// parameters and buffers that lead `state`; with `progress`, a line of batches
/// done and time left (a whole split can take minutes on the CPU). In a
/// data-parallel run each rank evaluates its shard of every batch and the
/// sums are taken over the ranks.
EvalResult evaluate(const Model &m, std::vector<Buffer> &state,
                    const std::vector<listops::Batch> &globalBatches,
                    bool progress = false) {
  rt::RankInfo place = rt::runRank();
  std::vector<listops::Batch> shards;
  if (place.world > 1)
    for (const listops::Batch &b : globalBatches)
      shards.push_back(listops::shardBatch(b, place.rank, place.world));
  const std::vector<listops::Batch> &batches =
      place.world > 1 ? shards : globalBatches;
  auto start = std::chrono::steady_clock::now();
  EvalResult r;
  r.predicted.assign(m.classes, 0);
  r.actual.assign(m.classes, 0);
  r.hits.assign(m.classes, 0);
  double lossSum = 0;
  int64_t hits = 0;
  for (const listops::Batch &batch : batches) {
    const Model &lib = m.at(batch.length);
    std::vector<Buffer> in = inputBuffers(lib, *lib.forward, batch, 0);
    std::vector<rt::TensorRef> args = refsOf(in),
                               model = refsOf(state, 0, m.numModel());
    args.insert(args.end(), model.begin(), model.end());
    std::vector<Buffer> out;
    for (const rt::TensorSpec &s : lib.forward->results)
      out.emplace_back(s);
    std::vector<rt::TensorRef> results = refsOf(out);
    std::string error;
    if (!lib.eval->call("forward", args, results, &error))
      die(error);
    lossSum += *out[0].as<float>() * batch.examples;
    const float *logits = out[1].as<float>();
    hits += correct(logits, batch, m.classes, &r);
    r.examples += batch.examples;
    if (progress) {
      size_t done = &batch - batches.data() + 1;
      double elapsed = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      std::printf("\revaluating: batch %zu/%zu  %.0f s, %.0f s left   ", done,
                  batches.size(), elapsed,
                  elapsed / done * (batches.size() - done));
      std::fflush(stdout);
    }
  }
  if (progress && !batches.empty())
    std::printf("\n");
  if (place.world > 1) {
    std::vector<double> sums{lossSum, double(hits), double(r.examples)};
    for (std::vector<int64_t> *counts : {&r.predicted, &r.actual, &r.hits})
      sums.insert(sums.end(), counts->begin(), counts->end());
    sumOverRanks(sums);
    lossSum = sums[0];
    hits = int64_t(sums[1]);
    r.examples = int64_t(sums[2]);
    size_t at = 3;
    for (std::vector<int64_t> *counts : {&r.predicted, &r.actual, &r.hits})
      for (int64_t &c : *counts)
        c = int64_t(sums[at++]);
  }
  r.loss = r.examples ? lossSum / r.examples : 0;
  r.accuracy = r.examples ? double(hits) / r.examples : 0;
  return r;
}

/// One call of the training step on `batch` (the library of its length):
/// `state` its state arguments (parameters, buffers, the optimizer's),
/// `extra` (loss, logits, grad_norm, lr) and `next` (the new state) its
/// results.
void callTrainStep(const Model &m, const listops::Batch &batch,
                   int64_t dropoutSeed, std::vector<rt::TensorRef> state,
                   std::vector<Buffer> &extra, std::vector<Buffer> &next) {
  const Model &lib = m.at(batch.length);
  std::vector<Buffer> in = inputBuffers(lib, *lib.step, batch, dropoutSeed);
  std::vector<rt::TensorRef> args = refsOf(in), results = refsOf(extra),
                             nextRefs = refsOf(next);
  args.insert(args.end(), state.begin(), state.end());
  results.insert(results.end(), nextRefs.begin(), nextRefs.end());
  std::string error;
  if (!lib.train->call("forward_train_step", args, results, &error))
    die(error);
}

/// Batch norms' running statistics measured afresh under the current
/// parameters ("precise" statistics): each buffer becomes the average over
/// `batches` of that batch's statistics, in place of the running average
/// of the last steps' (momentum 0.1: mostly the last ten batches', of
/// whatever lengths those were). `model` holds the parameters and buffers
/// (its first numModel() entries); only the buffers change.
///
/// The statistics come from the training step itself, whose new state is
/// thrown away: attn.batch_norm returns (1 - momentum) old + momentum
/// batch's (docs/training.md), so with every old statistic 0 the step
/// returns momentum times the batch's, and one call more with old = 1
/// gives 1 - momentum, which says what to divide by -- and checks that each
/// buffer is such an average.
void recalibrateStatistics(const Model &m, std::vector<Buffer> &model,
                           const std::vector<listops::Batch> &batches,
                           uint64_t seed) {
  if (batches.empty())
    return;
  std::vector<size_t> buffers;
  for (size_t i = 0; i < m.numModel(); ++i)
    if (model[i].spec.kind == "buffer") {
      if (model[i].spec.dtype != rt::DType::F32)
        die("buffer " + model[i].spec.name + " is not f32");
      buffers.push_back(i);
    }
  // The optimizer's part of the step's state (zeros: its results are not
  // used), the step's results.
  const size_t first = m.inputs.size() + m.numModel();
  std::vector<Buffer> optimizer, extra, out;
  for (size_t i = first; i < m.step->args.size(); ++i)
    optimizer.emplace_back(m.step->args[i]);
  for (size_t i = 0; i < 4; ++i)
    extra.emplace_back(m.step->results[i]);
  for (size_t i = 4; i < m.step->results.size(); ++i)
    out.emplace_back(m.step->results[i]);
  if (m.step->target == "gpu") {
    for (Buffer &b : optimizer)
      b.keepOnDevice();
    for (Buffer &b : out)
      b.keepOnDevice();
  }
  auto setBuffers = [&](float value) {
    for (size_t i : buffers) {
      std::fill_n(model[i].as<float>(), model[i].spec.numel(), value);
      if (model[i].device)
        model[i].keepOnDevice();
    }
  };
  // The new buffers of one step on `batch`, on the host.
  auto step = [&](const listops::Batch &batch, int64_t dropoutSeed) {
    std::vector<rt::TensorRef> state = refsOf(model, 0, m.numModel()),
                               optimizerRefs = refsOf(optimizer);
    state.insert(state.end(), optimizerRefs.begin(), optimizerRefs.end());
    callTrainStep(m, batch, dropoutSeed, state, extra, out);
    for (size_t i : buffers)
      out[i].toHost();
  };
  auto dropoutSeed = [&](size_t k) {
    return int64_t((seed * 0x9E3779B97F4A7C15ull + k + 1) >> 1);
  };
  std::vector<std::vector<double>> sums;
  for (size_t i : buffers)
    sums.emplace_back(model[i].spec.numel(), 0.0);
  std::vector<std::vector<float>> firstBatch; // momentum x its statistics
  setBuffers(0);
  for (size_t k = 0; k < batches.size(); ++k) {
    step(batches[k], dropoutSeed(k));
    for (size_t j = 0; j < buffers.size(); ++j) {
      const float *v = out[buffers[j]].as<float>();
      for (size_t e = 0; e < sums[j].size(); ++e)
        sums[j][e] += v[e];
      if (k == 0)
        firstBatch.emplace_back(v, v + sums[j].size());
    }
  }
  setBuffers(1);
  step(batches[0], dropoutSeed(0));
  for (size_t j = 0; j < buffers.size(); ++j) {
    Buffer &b = model[buffers[j]];
    const float *kept = out[buffers[j]].as<float>();
    // 1 - momentum = kept - first, read off the element where f32 rounds
    // least (the smallest), then checked on every element to f32's rounding
    // of the two results.
    size_t at = 0;
    for (size_t e = 1; e < sums[j].size(); ++e)
      if (std::fabs(kept[e]) < std::fabs(kept[at]))
        at = e;
    double momentum = 1 - (double(kept[at]) - firstBatch[j][at]);
    bool average = momentum > 0 && momentum <= 1 + 1e-6;
    for (size_t e = 0; average && e < sums[j].size(); ++e)
      average = std::fabs((1 - momentum) + firstBatch[j][e] - kept[e]) <=
                1e-5 * (1 + std::fabs(kept[e]));
    if (!average)
      die("buffer " + b.spec.name +
          " does not come back from the training step as a running average "
          "(1 - m) old + m batch's: its statistics cannot be recalibrated");
    float *v = b.as<float>();
    for (size_t e = 0; e < sums[j].size(); ++e)
      v[e] = float(sums[j][e] / (momentum * double(batches.size())));
    if (b.device)
      b.keepOnDevice();
  }
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

/// A state tensor's name in checkpoints: parameters and buffers under
/// their names, the optimizer's state under "optimizer.".
std::string checkpointName(const rt::TensorSpec &spec) {
  return spec.kind == "param" || spec.kind == "buffer"
             ? spec.name
             : "optimizer." + spec.name;
}

Checkpoint makeCheckpoint(std::vector<Buffer> &state,
                          const std::map<std::string, std::string> &meta) {
  Checkpoint c;
  c.metadata = meta;
  for (Buffer &b : state) {
    CheckpointTensor t;
    t.name = checkpointName(b.spec);
    t.dtype = b.spec.dtype;
    t.shape = b.spec.shape;
    t.data = b.bytes;
    c.tensors.push_back(std::move(t));
  }
  return c;
}

void restore(std::vector<Buffer> &state, const Checkpoint &c,
             const std::string &path) {
  for (Buffer &b : state) {
    std::string name = checkpointName(b.spec);
    const CheckpointTensor *t = c.find(name);
    if (!t)
      die(path + " has no tensor '" + name +
          "': the checkpoint and the model do not match");
    if (t->dtype != b.spec.dtype || t->shape != b.spec.shape)
      die(path + ": tensor '" + name + "' is " + rt::dtypeName(t->dtype) +
          " of another shape than the model's " + b.spec.describe() +
          ": the checkpoint and the model do not match");
    b.bytes = t->data;
  }
}

std::string metricsLine(const std::map<std::string, double> &values,
                        const std::string &split) {
  std::ostringstream os;
  os << "{\"split\": \"" << split << "\"";
  for (const auto &[k, v] : values)
    os << ", \"" << k << "\": " << v;
  os << "}\n";
  return os.str();
}

std::string formatDuration(double seconds) {
  int64_t s = int64_t(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600),
                (long long)(s / 60 % 60), (long long)(s % 60));
  return buf;
}

/// The number after `"key": ` in one of our metrics lines, if any.
std::optional<double> metricValue(const std::string &line,
                                  const std::string &key) {
  std::string pattern = "\"" + key + "\": ";
  size_t at = line.find(pattern);
  if (at == std::string::npos)
    return std::nullopt;
  return std::strtod(line.c_str() + at + pattern.size(), nullptr);
}

/// RUN/curves.png: loss and accuracy against steps, training (the mean
/// since the previous validation) and validation, from RUN/metrics.jsonl,
/// drawn by gnuplot (Debian's gnuplot-nox). Without gnuplot, says so.
void drawCurves(const std::string &runDir) {
  std::ifstream metrics(runDir + "/metrics.jsonl");
  std::ostringstream train, val;
  std::string line;
  while (std::getline(metrics, line)) {
    std::optional<double> step = metricValue(line, "step"),
                          loss = metricValue(line, "loss"),
                          accuracy = metricValue(line, "accuracy");
    if (!step || !loss || !accuracy)
      continue;
    bool isVal = line.find("\"split\": \"val\"") != std::string::npos;
    (isVal ? val : train) << *step << " " << *loss << " " << *accuracy << "\n";
  }
  std::string data = runDir + "/curves.dat", png = runDir + "/curves.png";
  {
    std::ofstream out(data);
    out << "# step loss accuracy: training\n"
        << train.str() << "\n\n# step loss accuracy: validation\n"
        << val.str();
  }
  std::string script = "set terminal pngcairo size 1100,420 font ',10'\n"
                       "set output '" +
                       png +
                       "'\n"
                       "set multiplot layout 1,2 title '" +
                       runDir +
                       "'\n"
                       "set xlabel 'step'; set grid; set key top right\n"
                       "set ylabel 'loss'\n"
                       "plot '" +
                       data +
                       "' index 0 using 1:2 with linespoints title "
                       "'training', '" +
                       data +
                       "' index 1 using 1:2 with linespoints "
                       "title 'validation'\n"
                       "set ylabel 'accuracy'; set key bottom right\n"
                       "plot '" +
                       data +
                       "' index 0 using 1:3 with linespoints title "
                       "'training', '" +
                       data +
                       "' index 1 using 1:3 with linespoints "
                       "title 'validation'\n"
                       "unset multiplot\n";
  FILE *gnuplot = popen("gnuplot 2>/dev/null", "w");
  bool drawn = gnuplot && std::fputs(script.c_str(), gnuplot) >= 0;
  drawn = gnuplot && pclose(gnuplot) == 0 && drawn;
  if (drawn)
    std::printf("curves: %s\n", png.c_str());
  else
    std::printf("curves: not drawn (gnuplot, from Debian's gnuplot-nox, is "
                "not installed); the data is in %s\n",
                data.c_str());
}

//===----------------------------------------------------------------------===//
// Commands
//===----------------------------------------------------------------------===//

/// RUN/ranks.txt: how many ranks RUN's libraries were compiled for.
std::string ranksFile(const std::string &runDir) {
  return runDir + "/ranks.txt";
}

/// A spec's seq_len (--length-step's longest batch).
int64_t specLength(const std::string &path) {
  std::string text = readFile(path);
  llvm::Expected<llvm::json::Value> spec = llvm::json::parse(text);
  if (!spec)
    die(path + ": not valid JSON: " + llvm::toString(spec.takeError()));
  std::optional<int64_t> length;
  if (const llvm::json::Object *o = spec->getAsObject())
    length = o->getInteger("seq_len");
  if (!length || *length < 1)
    die(path + ": seq_len must be a positive integer");
  return *length;
}

/// Compiles `mlir` into `trainLib` (forward_train_step) and `evalLib` (the
/// forward without dropout), the two at once (each compile is mostly one
/// thread).
void compileLibraries(const Options &o, const std::string &mlir,
                      const std::string &trainLib, const std::string &evalLib,
                      int64_t ranks) {
  std::string target = " --target " + o.target;
  if (!o.chip.empty())
    target += " --chip " + quote(o.chip);
  for (const std::string &flag : o.compileFlags)
    target += " " + quote(flag);
  std::ostringstream optimizer;
  optimizer << "lr=" << attn::numberText(o.lr) << " warmup=" << o.warmup
            << " total-steps=" << o.steps << " decay=" << o.decay
            << " weight-decay=" << attn::numberText(o.weightDecay)
            << " max-grad-norm=" << attn::numberText(o.maxGradNorm);
  if (ranks > 1)
    optimizer << " data-parallel=true"
              << (o.exchange == "bf16" ? " exchange-bf16=true" : "");
  std::string evalFailure;
  std::thread eval([&] {
    evalFailure =
        tryRun(quote(o.compiler) + " " + quote(mlir) + target +
                   " --evaluation --export=forward -o " + quote(evalLib),
               "compiling the evaluation forward");
  });
  std::string trainFailure =
      tryRun(quote(o.compiler) + " " + quote(mlir) + target +
                 " --train --export=forward_train_step --optimizer=" +
                 quote(optimizer.str()) + " -o " + quote(trainLib),
             "compiling the training step");
  eval.join();
  if (!trainFailure.empty())
    die(trainFailure);
  if (!evalFailure.empty())
    die(evalFailure);
}

/// Compiles MODEL into RUN: train.so (forward_train_step) and eval.so, for
/// one rank of `ranks`: a spec's batch is the global batch, each rank
/// taking batch / ranks rows, and with several ranks the step averages its
/// gradients over them (attn-generate-train-step data-parallel). The IR of
/// a .mlir model gives each rank's batch. With --length-step S, also
/// train-L.so and eval-L.so for every multiple L of S below the spec's
/// seq_len (lengths.txt lists them).
void compileModel(const Options &o, const std::string &runDir, int64_t ranks) {
  const bool spec = fs::path(o.model).extension() == ".json";
  if (o.lengthStep && !spec)
    die("--length-step builds the model for several lengths from its spec: "
        "it needs a .json model, not " +
        o.model);
  std::vector<int64_t> shorter;
  if (o.lengthStep)
    for (int64_t l = o.lengthStep, n = specLength(o.model); l < n;
         l += o.lengthStep)
      shorter.push_back(l);
  auto importAt = [&](int64_t length) {
    std::string mlir = runFile(runDir, "model", ".mlir", length);
    run(quote(o.importer) + " " + quote(o.model) +
            " --ranks=" + std::to_string(ranks) +
            (length ? " --length=" + std::to_string(length) : "") + " -o " +
            quote(mlir),
        "importing " + o.model);
    return mlir;
  };
  auto start = std::chrono::steady_clock::now();
  std::printf("compiling %s (training step and evaluation) for the %s%s ...\n",
              o.model.c_str(), o.target.c_str(),
              ranks > 1 ? (", one rank of " + std::to_string(ranks)).c_str()
                        : "");
  std::fflush(stdout);
  compileLibraries(o, spec ? importAt(0) : o.model,
                   libraryPath(runDir, "train"), libraryPath(runDir, "eval"),
                   ranks);
  for (size_t i = 0; i < shorter.size(); ++i) {
    std::printf("  ... and for batches of %lld tokens (%zu of %zu)\n",
                (long long)shorter[i], i + 1, shorter.size());
    std::fflush(stdout);
    compileLibraries(o, importAt(shorter[i]),
                     libraryPath(runDir, "train", shorter[i]),
                     libraryPath(runDir, "eval", shorter[i]), ranks);
  }
  if (o.lengthStep) {
    std::ofstream lengths(lengthsFile(runDir));
    lengths << o.lengthStep;
    for (int64_t l : shorter)
      lengths << " " << l;
    lengths << "\n";
  } else {
    fs::remove(lengthsFile(runDir));
  }
  std::ofstream(ranksFile(runDir)) << ranks << "\n";
  std::printf(
      "compiled in %.1f s\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
}

/// --compile-only's end: where the libraries are and how to use them.
int compiledOnly(const Options &o, int64_t ranks) {
  std::printf("compiled %s/train.so and %s/eval.so for %lld rank%s; train "
              "with the same options and --no-compile\n",
              o.out.c_str(), o.out.c_str(), (long long)ranks,
              ranks == 1 ? "" : "s");
  return 0;
}

listops::Dataset loadSplit(const std::string &path) {
  std::string error;
  std::optional<listops::Dataset> d = listops::loadTsv(path, &error);
  if (!d)
    die(error);
  return std::move(*d);
}

std::vector<listops::Batch> batchesOf(const Model &m,
                                      const listops::Dataset &data,
                                      bool shuffle, uint64_t seed,
                                      int64_t epoch) {
  listops::BatchOptions b;
  // Global batches: each rank of a data-parallel run takes its shard.
  b.batchSize = m.batch * rt::runRank().world;
  b.maxLength = m.length;
  // With a length step, each batch padded to a multiple of it (at most the
  // model's length), and training batches of similar lengths; else every
  // batch at the model's length. Evaluation keeps the split's order, so
  // that --eval-batches takes the same examples either way.
  b.padToMax = m.lengthStep == 0;
  b.roundTo = std::max<int64_t>(1, m.lengthStep);
  b.bucketByLength = m.lengthStep != 0 && shuffle;
  b.shuffle = shuffle;
  b.seed = seed;
  std::string error;
  std::optional<std::vector<listops::Batch>> batches =
      listops::makeBatches(data, b, epoch, &error);
  if (!batches)
    die(data.path + ": " + error);
  return std::move(*batches);
}

/// The batches --recalibrate-batches measures statistics on: the first `n`
/// of epochs of `data` shuffled by `seed` (with a length step, batches of
/// similar lengths, as training's are), as many epochs as that takes.
std::vector<listops::Batch> statisticsBatches(const Model &m,
                                              const listops::Dataset &data,
                                              int64_t n, uint64_t seed) {
  std::vector<listops::Batch> batches;
  for (int64_t epoch = 0; int64_t(batches.size()) < n; ++epoch) {
    std::vector<listops::Batch> more = batchesOf(m, data, true, seed, epoch);
    if (more.empty())
      die(data.path + " has no examples to measure statistics on");
    for (listops::Batch &b : more)
      if (int64_t(batches.size()) < n)
        batches.push_back(std::move(b));
  }
  return batches;
}

//===----------------------------------------------------------------------===//
// Ranks of a data-parallel run
//===----------------------------------------------------------------------===//

/// This process's place in a run: from RANK, WORLD_SIZE and LOCAL_RANK
/// where a launcher set them (attn-train --gpus, torchrun, a cluster's job
/// script), else a run of one.
struct RankPlace {
  int64_t rank = 0, world = 1, local = 0;
};

int64_t environmentInteger(const char *name, int64_t fallback, int64_t min,
                           int64_t max) {
  const char *v = std::getenv(name);
  if (!v || !*v)
    return fallback;
  char *end = nullptr;
  errno = 0;
  long long x = std::strtoll(v, &end, 10);
  if (errno || *end || x < min || x > max)
    die(std::string(name) + "=" + v + " is not an integer in [" +
        std::to_string(min) + ", " + std::to_string(max) + "]");
  return x;
}

RankPlace rankFromEnvironment() {
  RankPlace p;
  p.world = environmentInteger("WORLD_SIZE", 1, 1, 1 << 16);
  p.rank = environmentInteger("RANK", 0, 0, p.world - 1);
  p.local = environmentInteger("LOCAL_RANK", p.rank, 0, 1 << 16);
  return p;
}

/// Makes the GPU of local rank `local` the driver's device 0, which
/// libattnrt uses: the local-th of CUDA_VISIBLE_DEVICES, or GPU `local`.
/// Before anything touches the GPU (opening a GPU library loads its
/// kernels).
void selectGpu(int64_t local) {
  std::string chosen = std::to_string(local);
  if (const char *env = std::getenv("CUDA_VISIBLE_DEVICES"); env && *env) {
    std::vector<std::string> list;
    std::stringstream in(env);
    for (std::string item; std::getline(in, item, ',');)
      list.push_back(item);
    if (local >= int64_t(list.size()))
      die("LOCAL_RANK " + std::to_string(local) + " has no GPU: " +
          "CUDA_VISIBLE_DEVICES=" + env + " lists " +
          std::to_string(list.size()));
    chosen = list[local];
  }
  setenv("CUDA_VISIBLE_DEVICES", chosen.c_str(), 1);
}

/// Watches a rank of a data-parallel run: NCCL's asynchronous errors, and
/// progress -- a rank whose steps stop for the timeout (a peer died or
/// hangs, so that the exchange never completes) stops, naming the ranks
/// that fell behind. Each rank's progress is a file RUN/ranks/<rank> (its
/// step, when, its host and pid), written at most once a second, read by
/// the others only then. A rank that stops this way leaves the last
/// checkpoint as it was.
class Watchdog {
public:
  Watchdog(const std::string &runDir, int64_t rank, int64_t world,
           double timeoutSeconds)
      : dir(runDir + "/ranks"), rank(rank), world(world),
        timeout(timeoutSeconds) {
    fs::create_directories(dir);
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    where = std::string(host) + " pid " + std::to_string(getpid());
    progress(-1);
    thread = std::thread([this] { watch(); });
  }
  ~Watchdog() {
    stopping = true;
    thread.join();
  }

  /// A step is done (or the rank is alive before its first: -1).
  void progress(int64_t step) {
    auto now = std::chrono::steady_clock::now();
    lastProgress.store(now.time_since_epoch().count());
    lastStep.store(step);
    if (step >= 0 && now - lastWritten < std::chrono::seconds(1))
      return;
    lastWritten = now;
    std::string path = dir + "/" + std::to_string(rank);
    {
      std::ofstream out(path + ".tmp");
      out << step << " " << std::time(nullptr) << " " << where << "\n";
    }
    std::rename((path + ".tmp").c_str(), path.c_str());
  }

private:
  void watch() {
    while (!stopping) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      if (std::optional<std::string> e = rt::collectiveError())
        stop("the gradient exchange failed: " + *e);
      auto last = std::chrono::steady_clock::time_point(
          std::chrono::steady_clock::duration(lastProgress.load()));
      double idle = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - last)
                        .count();
      if (idle > timeout)
        stop("no step finished for " + std::to_string(int64_t(idle)) +
             " s (--collective-timeout): a rank died or hangs");
    }
  }

  /// What the other ranks last said of themselves.
  std::string peers() {
    std::string text;
    std::time_t now = std::time(nullptr);
    for (int64_t r = 0; r < world; ++r) {
      std::ifstream in(dir + "/" + std::to_string(r));
      long long step = 0, when = 0;
      std::string host;
      if (!(in >> step >> when) || !std::getline(in, host)) {
        text += "\n  rank " + std::to_string(r) + ": never reported";
        continue;
      }
      text += "\n  rank " + std::to_string(r) + ": " +
              (step < 0 ? std::string("joined, no step done")
                        : "step " + std::to_string(step) + " done") +
              ", " + std::to_string(now - when) + " s ago (" +
              host.substr(host.find_first_not_of(' ')) + ")";
    }
    return text;
  }

  [[noreturn]] void stop(const std::string &why) {
    std::fprintf(stderr,
                 "\nattn-train: rank %lld of %lld (at step %lld): %s; the "
                 "ranks' last reports:%s\nattn-train: stopping; the last "
                 "checkpoint is kept\n",
                 (long long)rank, (long long)world, (long long)lastStep.load(),
                 why.c_str(), peers().c_str());
    rt::abortRun();
    std::_Exit(4);
  }

  std::string dir, where;
  int64_t rank, world;
  double timeout;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> lastProgress{0}, lastStep{-1};
  std::chrono::steady_clock::time_point lastWritten;
  std::thread thread;
};

/// attn-train --gpus N: compiles once, then runs this command as N ranks on
/// this host's GPUs (one process each, RANK/WORLD_SIZE/LOCAL_RANK set) and
/// waits for them. The first rank that fails stops the others: named, with
/// how it ended, the others terminated (killed if they do not end within 15
/// s); the last checkpoint, written atomically by rank 0, survives.
int launchRanks(const Options &o, int argc, char **argv) {
  fs::create_directories(o.out);
  if (!o.noCompile)
    compileModel(o, o.out, o.gpus);
  if (o.compileOnly)
    return compiledOnly(o, o.gpus);
  std::string idFile = o.out + "/nccl.id";
  fs::remove(idFile);
  fs::remove(idFile + ".tmp");
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec)
    die("cannot find this program (/proc/self/exe): " + ec.message());
  std::vector<std::string> args(argv, argv + argc);
  args.push_back("--no-compile"); // compiled above
  std::vector<char *> cargs;
  for (std::string &a : args)
    cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::fflush(stdout);
  std::vector<pid_t> pids;
  for (int64_t r = 0; r < o.gpus; ++r) {
    pid_t pid = fork();
    if (pid < 0)
      die(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(o.gpus).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("ATTN_NCCL_ID_FILE", idFile.c_str(), 1);
      execv(self.c_str(), cargs.data());
      std::fprintf(stderr, "attn-train: cannot start rank %lld: %s\n",
                   (long long)r, std::strerror(errno));
      std::_Exit(127);
    }
    pids.push_back(pid);
  }
  std::printf("started %lld ranks, one per GPU (rank 0 reports)\n",
              (long long)o.gpus);
  std::fflush(stdout);
  auto describe = [](int status) {
    if (WIFEXITED(status))
      return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return "was killed by signal " + std::to_string(WTERMSIG(status)) +
             " (" + strsignal(WTERMSIG(status)) + ")";
    return std::string("ended");
  };
  size_t running = pids.size();
  int failed = -1;
  std::optional<std::chrono::steady_clock::time_point> killAt;
  while (running > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      if (killAt && std::chrono::steady_clock::now() > *killAt) {
        for (pid_t p : pids)
          if (p > 0)
            kill(p, SIGKILL);
        killAt.reset();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    auto it = std::find(pids.begin(), pids.end(), pid);
    if (it == pids.end())
      continue;
    int64_t r = it - pids.begin();
    *it = -1;
    --running;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && failed < 0) {
      failed = int(r);
      std::fprintf(stderr,
                   "attn-train: rank %lld (pid %d) %s; stopping the other "
                   "ranks\n",
                   (long long)r, pid, describe(status).c_str());
      for (pid_t p : pids)
        if (p > 0)
          kill(p, SIGTERM);
      killAt = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    }
  }
  if (failed >= 0) {
    std::fprintf(stderr,
                 "attn-train: the run stopped (rank %d failed); running the "
                 "same command again resumes from %s/last.safetensors\n",
                 failed, o.out.c_str());
    return 1;
  }
  return 0;
}

/// Whether the compiled library `path` averages gradients over ranks (it
/// calls libattnrt's mgpuAllReduceStart: the name is in its dynamic symbol
/// table).
bool averagesOverRanks(const std::string &path) {
  return readFile(path).find("mgpuAllReduceStart") != std::string::npos;
}

/// The settings a run's training steps were compiled with (their
/// signatures' optimizer line) against this run's options: the schedule and
/// AdamW are constants in the compiled step, so --no-compile with other
/// options would train with the old ones while reporting the new.
void checkOptimizer(const Model &m, const Options &o) {
  std::vector<const Model *> models{&m};
  for (const auto &[length, s] : m.shorter)
    models.push_back(s.get());
  for (const Model *model : models) {
    const std::map<std::string, std::string> &compiled = model->step->optimizer;
    if (compiled.empty()) {
      std::fprintf(stderr,
                   "attn-train: note: %s does not say which optimizer "
                   "settings it was compiled with (an older attn-compile); "
                   "they are not checked against this run's\n",
                   model->train->path().c_str());
      return;
    }
    std::string differs;
    auto check = [&](const char *key, const std::string &want, bool same) {
      if (!same)
        differs += std::string(" ") + key + "=" +
                   (compiled.count(key) ? compiled.at(key) : "?") +
                   " (this run: " + want + ")";
    };
    auto real = [&](const char *key, double want) {
      auto it = compiled.find(key);
      double have =
          it == compiled.end() ? NAN : std::strtod(it->second.c_str(), nullptr);
      check(key, attn::numberText(want),
            std::fabs(have - want) <= 1e-12 * std::fabs(want));
    };
    auto text = [&](const char *key, const std::string &want) {
      auto it = compiled.find(key);
      check(key, want, it != compiled.end() && it->second == want);
    };
    real("lr", o.lr);
    text("warmup", std::to_string(o.warmup));
    text("total-steps", std::to_string(o.steps));
    text("decay", o.decay);
    real("weight-decay", o.weightDecay);
    real("max-grad-norm", o.maxGradNorm);
    if (!differs.empty())
      die(model->train->path() +
          " was compiled with other optimizer settings:" + differs +
          ": compile again (without --no-compile), or give the settings it "
          "was compiled with");
  }
}

/// A summary of the parameters' bytes, to check that the ranks of a run
/// hold the same ones (a hash below 2^52, exact in a double).
double parameterHash(std::vector<Buffer> &state, size_t numParams) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < numParams; ++i) {
    state[i].toHost();
    for (uint8_t byte : state[i].bytes)
      h = (h ^ byte) * 1099511628211ull;
  }
  return double(h >> 12);
}

int trainCommand(const Options &o, const RankPlace &place) {
  const int64_t rank = place.rank, world = place.world;
  const bool lead = rank == 0;
  fs::create_directories(o.out);
  std::string last = o.out + "/last.safetensors",
              best = o.out + "/best.safetensors";
  if (world > 1 && o.target != "gpu")
    die("a data-parallel run (WORLD_SIZE=" + std::to_string(world) +
        ") trains on GPUs: it needs --target gpu");
  // Rank 0 compiles (the --gpus launcher has compiled already); the others
  // wait for it by joining the run.
  if (!o.noCompile && lead)
    compileModel(o, o.out, world);
  if (o.compileOnly)
    return compiledOnly(o, world);
  // Libraries for another number of ranks, or without the averaging, would
  // train each rank on its own gradients.
  auto checkLibraries = [&] {
    std::ifstream compiledFor(ranksFile(o.out));
    int64_t ranks = 0;
    if (compiledFor >> ranks && ranks != world)
      die(o.out + "/train.so was compiled for " + std::to_string(ranks) +
          " ranks, this run has " + std::to_string(world) +
          ": compile again (--compile-only --gpus " + std::to_string(world) +
          ")");
    if (!averagesOverRanks(libraryPath(o.out, "train")))
      die(o.out + "/train.so does not average its gradients over ranks: "
                  "compile it for data-parallel training (attn-train "
                  "--compile-only --gpus N, or attn-compile --optimizer="
                  "\"... data-parallel=true\")");
  };
  std::optional<Watchdog> watchdog;
  if (world > 1) {
    if (o.noCompile)
      checkLibraries(); // before anything waits for the other ranks
    const char *env = std::getenv("ATTN_NCCL_ID_FILE");
    std::string idFile = env && *env ? env : o.out + "/nccl.id";
    std::string error;
    if (!rt::joinRun(int(rank), int(world), idFile, o.collectiveTimeout,
                     &error))
      die(error);
    watchdog.emplace(o.out, rank, world, o.collectiveTimeout);
    if (!o.noCompile) {
      std::vector<double> compiled{1.0};
      sumOverRanks(compiled); // a barrier: rank 0 has compiled
      checkLibraries();
    }
  }
  Model m = loadRun(o.out);
  checkOptimizer(m, o);
  if (o.recalibrateBatches > 0 && m.numBuffers == 0)
    die("--recalibrate-batches: the model has no running statistics (batch "
        "norms) to recalibrate");
  if (m.lengthStep != o.lengthStep)
    die(o.out + " holds libraries compiled with --length-step " +
        std::to_string(m.lengthStep) + ", this run asks for " +
        std::to_string(o.lengthStep) +
        ": compile again (without --no-compile)");
  if (world > 1 && lead)
    std::printf("%lld ranks joined: global batch %lld (%lld per rank)\n",
                (long long)world, (long long)(m.batch * world),
                (long long)m.batch);
  listops::Dataset trainSet = loadSplit(o.data + "/basic_train.tsv");
  listops::Dataset valSet = loadSplit(o.data + "/basic_val.tsv");
  for (const listops::Dataset *d : {&trainSet, &valSet})
    for (size_t i = 0; i < d->labels.size(); ++i)
      if (d->labels[i] < 0 || d->labels[i] >= m.classes)
        die(d->path + ":" + std::to_string(d->lines[i]) + ": label " +
            std::to_string(d->labels[i]) + " is outside the model's " +
            std::to_string(m.classes) + " classes");

  // State A (read by the step) and B (written by it), swapped after it.
  std::vector<Buffer> stateA, stateB;
  for (size_t i = m.inputs.size(); i < m.step->args.size(); ++i) {
    stateA.emplace_back(m.step->args[i]);
    stateB.emplace_back(m.step->args[i]);
  }
  std::vector<Buffer> extra; // loss, logits, grad_norm, lr
  for (size_t i = 0; i < 4; ++i)
    extra.emplace_back(m.step->results[i]);

  // The run's identity: a checkpoint continues only the same run.
  std::string modelText = readFile(o.model);
  std::map<std::string, std::string> meta{
      {"format", "attn-checkpoint 1"},
      {"model", modelText},
      {"seed", std::to_string(o.seed)},
      {"steps", std::to_string(o.steps)},
      {"length_step", std::to_string(o.lengthStep)}};
  int64_t step = 0, epoch = 0, position = 0;
  double bestAccuracy = -1;
  std::mt19937_64 rng(o.seed);
  if (fs::exists(last)) {
    std::string error;
    std::optional<Checkpoint> c = readCheckpoint(last, &error);
    if (!c)
      die(error + " (move it away to start afresh)");
    for (const char *key : {"model", "seed", "steps"})
      if (c->metadata[key] != meta[key])
        die(last + " is from another run (its " + key +
            " differs): use another --out, or move it away");
    // The batches' order depends on the length step (checkpoints from
    // before it existed had none).
    auto stepOf = c->metadata.find("length_step");
    std::string theirs = stepOf == c->metadata.end() ? "0" : stepOf->second;
    if (theirs != meta["length_step"])
      die(last + " is from a run with --length-step " + theirs +
          ", this one has " + meta["length_step"] +
          " (the batches' order depends on it)");
    restore(stateA, *c, last);
    step = std::stoll(c->metadata["step"]);
    epoch = std::stoll(c->metadata["epoch"]);
    position = std::stoll(c->metadata["position"]);
    bestAccuracy = std::stod(c->metadata["best_accuracy"]);
    std::printf("resuming from %s at step %lld\n", last.c_str(),
                (long long)step);
    // Any number of ranks continues a run, with the same global batch.
    auto global = c->metadata.find("global_batch");
    if (global != c->metadata.end() &&
        global->second != std::to_string(m.batch * world))
      die(last + " is from a run with a global batch of " + global->second +
          " examples; this one's is " + std::to_string(m.batch * world) +
          " (" + std::to_string(world) + " ranks of " +
          std::to_string(m.batch) + ")");
  } else {
    for (size_t i = 0; i < m.numModel(); ++i)
      initialise(stateA[i], rng);
    for (size_t i = m.numModel(); i < stateA.size(); ++i)
      std::fill(stateA[i].bytes.begin(), stateA[i].bytes.end(), 0);
  }
  // On the GPU the state stays there between steps (each step reads one
  // set and writes the other); only checkpoints copy it back.
  if (m.step->target == "gpu") {
    for (Buffer &b : stateA)
      b.keepOnDevice();
    for (Buffer &b : stateB)
      b.keepOnDevice();
  }
  // Rank 0 writes the metrics and the checkpoints.
  std::ofstream metrics;
  if (lead)
    metrics.open(o.out + "/metrics.jsonl", std::ios::app);
  std::vector<listops::Batch> valBatches =
      batchesOf(m, valSet, /*shuffle=*/false, 0, 0);
  if (o.evalBatches > 0 && int64_t(valBatches.size()) > o.evalBatches)
    valBatches.resize(o.evalBatches);

  auto save = [&](const std::string &path) {
    std::map<std::string, std::string> now = meta;
    now["step"] = std::to_string(step);
    now["epoch"] = std::to_string(epoch);
    now["position"] = std::to_string(position);
    char acc[32];
    std::snprintf(acc, sizeof acc, "%.17g", bestAccuracy);
    now["best_accuracy"] = acc;
    now["global_batch"] = std::to_string(m.batch * world);
    std::string error;
    for (Buffer &b : stateA)
      b.toHost();
    if (!writeCheckpoint(path, makeCheckpoint(stateA, now), &error))
      die(error);
  };

  std::string lengths = m.lengthStep ? "up to " + std::to_string(m.length) +
                                           " tokens (multiples of " +
                                           std::to_string(m.lengthStep) + ")"
                                     : std::to_string(m.length) + " tokens";
  std::printf("training: %lld steps of %lld x %s, %zu train / %zu validation "
              "examples\n",
              (long long)o.steps, (long long)(m.batch * world), lengths.c_str(),
              trainSet.labels.size(), valSet.labels.size());
  if (o.recalibrateBatches > 0)
    std::printf("batch norms' statistics measured on %lld training batches "
                "before each validation\n",
                (long long)o.recalibrateBatches);
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  int64_t firstStep = step;
  double tokens = 0; // computed this session, padding included
  double windowLoss = 0;
  int64_t windowHits = 0, windowExamples = 0, windowSteps = 0;
  std::vector<listops::Batch> epochBatches =
      batchesOf(m, trainSet, true, o.seed, epoch);
  bool stoppedEarly = false;
  while (step < o.steps) {
    if (position >= int64_t(epochBatches.size())) {
      ++epoch;
      position = 0;
      epochBatches = batchesOf(m, trainSet, true, o.seed, epoch);
    }
    // This rank's shard of the global batch.
    std::optional<listops::Batch> shard;
    if (world > 1)
      shard = listops::shardBatch(epochBatches[position], rank, world);
    const listops::Batch &batch = shard ? *shard : epochBatches[position];
    // Dropout's masks: a function of the run's seed, the step and the rank
    // (rank 0's are those of a run of one).
    int64_t dropoutSeed = int64_t(
        ((o.seed * 1000003ull + uint64_t(step)) ^
         (uint64_t(rank) * 0x9E3779B97F4A7C15ull)) >>
        1);
    callTrainStep(m, batch, dropoutSeed, refsOf(stateA), extra, stateB);
    tokens += double(m.batch * world * batch.length);
    std::swap(stateA, stateB);
    ++step;
    ++position;

    float loss = *extra[0].as<float>();
    double t = elapsed();
    bool timeUp =
        (o.maxMinutes > 0 && t > o.maxMinutes * 60) || step == o.stopAtStep;
    bool finite = std::isfinite(loss);
    if (world > 1) {
      // The ranks agree on stopping (rank clocks differ) and on a loss that
      // is not finite on any of them.
      std::vector<double> flags{timeUp ? 1.0 : 0.0, finite ? 0.0 : 1.0};
      sumOverRanks(flags);
      timeUp = flags[0] > 0;
      finite = flags[1] == 0;
      watchdog->progress(step);
    }
    if (!finite)
      die("the loss is not finite at step " + std::to_string(step) +
          (world > 1 ? " (on at least one rank)" : "") +
          "; the last checkpoint is kept");
    windowLoss += loss;
    windowHits += correct(extra[1].as<float>(), batch, m.classes);
    windowExamples += batch.examples;
    ++windowSteps;
    double rate = double(step - firstStep) / std::max(t, 1e-9);
    double tokensPerSecond = tokens / std::max(t, 1e-9);
    std::printf("\rstep %lld/%lld  loss %.4f  acc %.3f  %.0f tokens/s  "
                "grad-norm %.3f  lr %.2e  left %s   ",
                (long long)step, (long long)o.steps, windowLoss / windowSteps,
                double(windowHits) / std::max<int64_t>(windowExamples, 1),
                tokensPerSecond, *extra[2].as<float>(), *extra[3].as<float>(),
                formatDuration(double(o.steps - step) / rate).c_str());
    std::fflush(stdout);

    if (step % o.evalEvery == 0 || step == o.steps || timeUp) {
      // The window's sums over the ranks: the global batches' loss and
      // accuracy.
      std::vector<double> window{windowLoss, double(windowHits),
                                 double(windowExamples), double(windowSteps)};
      sumOverRanks(window);
      metrics << metricsLine(
          {{"step", double(step)},
           {"loss", window[0] / window[3]},
           {"accuracy", window[1] / std::max(window[2], 1.0)},
           {"tokens_per_s", tokensPerSecond},
           {"seconds", t}},
          "train");
      windowLoss = 0;
      windowHits = windowExamples = windowSteps = 0;
      if (o.recalibrateBatches > 0)
        recalibrateStatistics(
            m, stateA,
            statisticsBatches(m, trainSet, o.recalibrateBatches,
                              o.seed * 1000003ull + uint64_t(step)),
            o.seed * 1000003ull + uint64_t(step));
      EvalResult r = evaluate(m, stateA, valBatches);
      std::printf("\n  validation at step %lld: loss %.4f, accuracy %.4f (%lld "
                  "examples)%s\n",
                  (long long)step, r.loss, r.accuracy, (long long)r.examples,
                  r.accuracy > bestAccuracy ? ", best so far" : "");
      metrics << metricsLine(
          {{"step", double(step)}, {"loss", r.loss}, {"accuracy", r.accuracy}},
          "val");
      metrics.flush();
      if (world > 1) {
        // Every rank applies the same update to the same parameters: check
        // that they still hold the same ones.
        std::vector<double> hashes(world, 0.0);
        hashes[rank] = parameterHash(stateA, m.numParams);
        sumOverRanks(hashes);
        for (int64_t r = 1; r < world; ++r)
          if (hashes[r] != hashes[0])
            die("rank " + std::to_string(r) +
                "'s parameters differ from rank 0's at step " +
                std::to_string(step) + ": the ranks diverged");
        watchdog->progress(step);
      }
      if (r.accuracy > bestAccuracy) {
        bestAccuracy = r.accuracy;
        if (lead)
          save(best);
      }
      if (lead)
        save(last);
    }
    if (timeUp && step < o.steps) {
      std::printf("\nstopped at step %lld with a checkpoint (--max-minutes "
                  "or --stop-at-step); run the same command to continue\n",
                  (long long)step);
      stoppedEarly = true;
      break;
    }
  }
  if (!stoppedEarly)
    std::printf("\ndone: %lld steps, best validation accuracy %.4f "
                "(checkpoint %s)\n",
                (long long)step, bestAccuracy, best.c_str());
  if (world > 1) {
    rt::CollectiveStats exchange = rt::takeCollectiveStats();
    std::printf("gradient exchange: %lld buckets, %.1f MB averaged per step "
                "on each rank\n",
                (long long)exchange.buckets,
                double(exchange.bytes) / 1e6 /
                    std::max<int64_t>(step - firstStep, 1));
    watchdog.reset();
    rt::leaveRun();
  }
  if (!lead)
    return 0;
  metrics.close();
  drawCurves(o.out);
  return 0;
}

int evaluateCommand(const Options &o) {
  std::string error;
  std::optional<Checkpoint> c = readCheckpoint(o.evaluateCheckpoint, &error);
  if (!c)
    die(error);
  fs::path dir = fs::path(o.evaluateCheckpoint).parent_path();
  std::string runDir = o.out.empty() ? dir.string() : o.out;
  std::string evalLib = libraryPath(runDir, "eval"),
              trainLib = libraryPath(runDir, "train");
  if (!fs::exists(evalLib) || !fs::exists(trainLib))
    die("no compiled model beside " + o.evaluateCheckpoint + " (" + evalLib +
        "): give the run's folder with --out");
  Model m = loadRun(runDir);
  std::vector<Buffer> params;
  for (size_t i = m.inputs.size(); i < m.inputs.size() + m.numModel(); ++i)
    params.emplace_back(m.step->args[i]);
  restore(params, *c, o.evaluateCheckpoint);
  listops::Dataset data = loadSplit(o.data);
  for (size_t i = 0; i < data.labels.size(); ++i)
    if (data.labels[i] < 0 || data.labels[i] >= m.classes)
      die(data.path + ":" + std::to_string(data.lines[i]) + ": label " +
          std::to_string(data.labels[i]) + " is outside the model's classes");
  if (o.recalibrateBatches > 0) {
    if (m.numBuffers == 0)
      die("--recalibrate-batches: the model has no running statistics "
          "(batch norms) to recalibrate");
    listops::Dataset statistics = loadSplit(o.recalibrateData);
    std::vector<listops::Batch> batches =
        statisticsBatches(m, statistics, o.recalibrateBatches, o.seed);
    std::printf("batch norms' statistics measured on %zu batches of %s\n",
                batches.size(), o.recalibrateData.c_str());
    recalibrateStatistics(m, params, batches, o.seed);
  }
  EvalResult r =
      evaluate(m, params, batchesOf(m, data, false, 0, 0), /*progress=*/true);
  std::printf("%s: %lld examples, loss %.4f, accuracy %.4f\n", o.data.c_str(),
              (long long)r.examples, r.loss, r.accuracy);
  std::printf("class  examples  predicted  correct\n");
  for (int64_t k = 0; k < m.classes; ++k)
    std::printf("%5lld  %8lld  %9lld  %7lld\n", (long long)k,
                (long long)r.actual[k], (long long)r.predicted[k],
                (long long)r.hits[k]);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  // Curves of a run trained where gnuplot is not (a GPU machine).
  if (argc > 1 && std::string(argv[1]) == "curves") {
    if (argc != 3)
      die("curves needs a run's folder and nothing else\n" +
          std::string(kUsage));
    if (!fs::exists(std::string(argv[2]) + "/metrics.jsonl"))
      die(std::string("no metrics.jsonl in ") + argv[2]);
    drawCurves(argv[2]);
    return 0;
  }
  Options o = parseOptions(argc, argv);
  if (!o.evaluateCheckpoint.empty())
    return evaluateCommand(o);
  RankPlace place = rankFromEnvironment();
  if (o.gpus > 1 && place.world == 1)
    return launchRanks(o, argc, argv);
  if (place.world > 1) {
    if (o.gpus > 1 && o.gpus != place.world)
      die("--gpus " + std::to_string(o.gpus) + " but WORLD_SIZE=" +
          std::to_string(place.world));
    selectGpu(place.local);
    // Rank 0 reports; the others say only what goes wrong.
    if (place.rank != 0 && !std::freopen("/dev/null", "w", stdout))
      die("cannot silence rank " + std::to_string(place.rank));
  }
  return trainCommand(o, place);
}

//===- AttnCompileMain.cpp - attn IR to a shared library, reusable --------===//
//
//   attn-compile model.mlir -o model.so [--target=cpu|gpu] [options]
//
// The driver of attn-compile as a library entry (AttnCompileMain.h), so that
// a project with its own dialect ops (a new mask pattern) gets its own
// compiler in a few lines.
//
// Runs --lower-to-cpu (or --lower-to-gpu: kernels become a cubin embedded
// in the library, launched through libattnrt, which the library links),
// translates to LLVM IR, optimises for the host (or --cpu/--features),
// emits an object and links a shared library. The library's C ABI, for
// every public function f of the input (for --target gpu every buffer is
// device memory):
//
// With --backward, each function returning a loss also gets f_grad
// (attn-generate-backward): f's results, then one gradient per parameter.
// With --train, also f_train_step (attn-generate-train-step): its state
// arguments (`state`: moments m.<param>, v.<param>, the step counter) come
// after the parameters; its results are f's, grad_norm, lr, then the
// updated parameters (param.<name>), moments and step, which the caller
// passes back in at the next step (docs/training.md).
//
//   void f(...)                      the function itself: each tensor
//                                    argument and result (results last, as
//                                    out-parameters) is a pointer to a
//                                    row-major buffer; i64 scalars by value.
//   void attn_call_f(void **args)    the same call through an array: args[i]
//                                    points to argument i's buffer (or to a
//                                    scalar's value), results follow.
//   const char *attn_signature_f()   what the arguments are (text, below).
//   const char *attn_functions()     the public functions, one per line.
//
// Signature text, one line per item:
//   attn-signature 1
//   function <name>
//   target <cpu|gpu>
//   optimizer <key>=<value> ...     (a training step only: the settings
//                                    compiled into it, attn.optimizer)
//   arg <input|param|state> <name> <dtype> <shape> [<init>]
//   result <name> <dtype> <shape>
// where <shape> is [d0,d1,...] ([] for a 0-d tensor) or "scalar", and
// <init> a parameter's initialisation (attn.init).
//
//===----------------------------------------------------------------------===//

#include "AttnCompileMain.h"

#include "attn/IR/AttnDialect.h"
#include "attn/IR/Gradients.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Support/Initializers.h"
#include "attn/Support/NumberText.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/SplitModule.h"

#include <deque>
#include <memory>
#include <vector>

using namespace llvm;

namespace {
/// --help lists these, not every LLVM backend's flags.
cl::OptionCategory compileOptions("Compiling attn IR to a shared library");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input.mlir>"),
                               cl::Required, cl::cat(compileOptions));
cl::opt<std::string> outputFile("o", cl::desc("Output shared library"),
                                cl::value_desc("file"), cl::Required,
                                cl::cat(compileOptions));
cl::opt<std::string> target("target",
                            cl::desc("cpu, or gpu (kernels in a cubin, "
                                     "launched through libattnrt)"),
                            cl::init("cpu"), cl::cat(compileOptions));
cl::opt<std::string> runtimeDir("runtime-dir",
                                cl::desc("Directory of libattnrt.so (GPU "
                                         "libraries link it; default: "
                                         "$ATTN_RUNTIME_DIR, else ../lib "
                                         "beside this tool, else attn's "
                                         "build or install folder)"),
                                cl::cat(compileOptions));
cl::opt<std::string> cpu("cpu", cl::desc("Target CPU (default: this host)"),
                         cl::init(""), cl::cat(compileOptions));
cl::opt<std::string> features("features",
                              cl::desc("Target features (default: the host's)"),
                              cl::init(""), cl::cat(compileOptions));
cl::opt<int> vectorWidth("vector-width",
                         cl::desc("f32 lanes (0: 16 with AVX-512, else 8)"),
                         cl::init(0), cl::cat(compileOptions));
cl::opt<bool> backward(
    "backward",
    cl::desc("Also export each loss function's gradient function f_grad "
             "(attn-expand-layers, then attn-generate-backward)"),
    cl::init(false), cl::cat(compileOptions));
cl::opt<bool> train(
    "train",
    cl::desc("Also export each loss function's training step f_train_step "
             "(--backward, then attn-generate-train-step: AdamW)"),
    cl::init(false), cl::cat(compileOptions));
cl::list<std::string> exportOnly(
    "export",
    cl::desc("Export only these public functions (comma-separated, after "
             "--backward/--train have made theirs: e.g. forward_train_step); "
             "the others are not compiled"),
    cl::CommaSeparated, cl::cat(compileOptions));
cl::opt<std::string>
    optimizer("optimizer",
              cl::desc("Options of attn-generate-train-step, e.g. \"lr=3e-4 "
                       "warmup=100 total-steps=5000 decay=cosine\""),
              cl::init(""), cl::cat(compileOptions));
cl::opt<bool> evaluationMode(
    "evaluation",
    cl::desc("Compile the model in evaluation mode: no dropout "
             "(attn-strip-dropout), batch norms from their running statistics "
             "(attn-expand-layers{evaluation})"),
    cl::init(false), cl::cat(compileOptions));
cl::alias noDropout("no-dropout", cl::desc("The old name of --evaluation"),
                    cl::aliasopt(evaluationMode), cl::cat(compileOptions));
cl::opt<bool> noParallel("no-parallel",
                         cl::desc("Do not use OpenMP for tile loops"),
                         cl::init(false), cl::cat(compileOptions));
cl::opt<std::string> keepIR("keep-ir",
                            cl::desc("Also write the optimised LLVM IR here"),
                            cl::init(""), cl::cat(compileOptions));
cl::opt<bool> timing(
    "timing",
    cl::desc("Report the time of each phase to stderr: every pass, the host's "
             "LLVM optimisation and code generation, the link (the GPU's "
             "kernels: ModulesToBinaries, NVPTX and ptxas)"),
    cl::init(false), cl::cat(compileOptions));
cl::opt<bool> verifyEach(
    "verify-each",
    cl::desc("Verify the IR after every pass (default: the input and the "
             "lowered module only; for debugging a pass)"),
    cl::init(false), cl::cat(compileOptions));
cl::opt<std::string> linker("linker", cl::desc("C++ compiler used to link"),
                            cl::init("c++"), cl::cat(compileOptions));
cl::opt<std::string> ompDir("openmp-dir",
                            cl::desc("Directory of libomp.so (OpenMP runtime)"),
                            cl::init("/usr/lib/llvm-22/lib"),
                            cl::cat(compileOptions));

/// A flag standing for the lowering option of the same name: --help shows
/// it as that option does (its kind of value and description), and the
/// command line's parse checks its value with that option's parser; the
/// text given is what LoweringFlags::apply hands the pipeline.
class LoweringFlag : public cl::opt<std::string> {
public:
  explicit LoweringFlag(cl::Option &option)
      : cl::opt<std::string>(option.ArgStr, option.getValueExpectedFlag(),
                             cl::cat(compileOptions)),
        option(option) {}
  /// The option --help shows (a pipeline options instance of its own).
  cl::Option &shown() { return option; }

private:
  size_t getOptionWidth() const override { return option.getOptionWidth(); }
  void printOptionInfo(size_t width) const override {
    option.printOptionInfo(width);
  }
  bool handleOccurrence(unsigned pos, StringRef name,
                        StringRef value) override {
    // A value that the option does not take is the command line's error,
    // reported as any flag's (cl's message naming the flag).
    if (option.addOccurrence(pos, name, value))
      return true;
    setValue(value.str());
    return false;
  }
  cl::Option &option;
};

/// The lowering pipelines' options (--lower-to-cpu's and --lower-to-gpu's,
/// attn/Pipelines/Pipelines.h) as attn-compile's own flags, by the same
/// names: each option is declared once, in its pipeline, and a new one is a
/// flag here without a line of attn-compile. An option of the other target
/// only is accepted and left unused, so that one set of flags serves both.
class LoweringFlags {
public:
  LoweringFlags() {
    StringSet<> cpuNames;
    cpuHelp.forEachOption([&](cl::Option &o) {
      cpuNames.insert(o.ArgStr);
      add(o);
    });
    // --help marks the GPU's own options (on the option it shows, this
    // instance's, not a pipeline's).
    gpuHelp.forEachOption([&](cl::Option &o) {
      if (cpuNames.contains(o.ArgStr))
        return;
      notes.push_back("(--target gpu) " + o.HelpStr.str());
      o.setDescription(notes.back());
      add(o);
    });
  }

  /// Sets the options of `options` that were given as flags (their values
  /// already checked by the command line's parse).
  template <class PipelineOptions>
  LogicalResult apply(PipelineOptions &options) const {
    std::string text;
    options.forEachOption([&](cl::Option &o) {
      LoweringFlag *flag = find(o.ArgStr);
      if (!flag || flag->getNumOccurrences() == 0)
        return;
      // A bare flag (a bool's) is the option's name alone; a value in
      // quotes, which the pipeline's parser removes, may hold spaces.
      text += " " + o.ArgStr.str();
      if (!flag->getValue().empty())
        text += "=\"" + flag->getValue() + "\"";
    });
    return options.parseFromString(text, errs());
  }

private:
  /// Options that attn-compile sets from flags of its own: the host's
  /// vector width (--vector-width, 0: the host's), OpenMP (--no-parallel),
  /// the binary's form (a cubin, always), the PTX features (--features is
  /// the host's).
  static bool setByAttnCompile(StringRef name) {
    return llvm::is_contained(
        {"vector-width", "parallel", "format", "features"}, name);
  }
  void add(cl::Option &option) {
    if (!setByAttnCompile(option.ArgStr))
      flags.push_back(std::make_unique<LoweringFlag>(option));
  }
  LoweringFlag *find(StringRef name) const {
    for (const std::unique_ptr<LoweringFlag> &flag : flags)
      if (flag->ArgStr == name)
        return flag.get();
    return nullptr;
  }

  /// The instances whose options --help shows.
  mlir::attn::GPUPipelineOptions gpuHelp;
  mlir::attn::CPUPipelineOptions cpuHelp;
  std::vector<std::unique_ptr<LoweringFlag>> flags;
  std::deque<std::string> notes;
};

/// The tool's name in messages (attn-compile, or a project's own).
std::string toolName = "attn-compile";

int fail(const Twine &message) {
  WithColor::error(errs(), toolName) << message << "\n";
  return 1;
}

/// Where libattnrt is, for libraries compiled for the GPU to link:
/// $ATTN_RUNTIME_DIR; else lib/ beside the tool's bin/ (an installed attn);
/// else attn's build tree, then its install prefix, as configured.
std::string defaultRuntimeDir(const char *argv0) {
  if (const char *env = std::getenv("ATTN_RUNTIME_DIR"))
    return env;
  std::string exe = sys::fs::getMainExecutable(
      argv0, reinterpret_cast<void *>(&defaultRuntimeDir));
  SmallString<256> lib(sys::path::parent_path(sys::path::parent_path(exe)));
  sys::path::append(lib, "lib");
  for (StringRef dir : {StringRef(lib), StringRef(ATTN_RUNTIME_DIR),
                        StringRef(ATTN_INSTALLED_RUNTIME_DIR)}) {
    SmallString<256> path(dir);
    sys::path::append(path, "libattnrt.so");
    if (sys::fs::exists(path))
      return dir.str();
  }
  return ATTN_RUNTIME_DIR;
}

std::string dtypeName(mlir::Type t) {
  if (t.isF32())
    return "f32";
  if (t.isBF16())
    return "bf16";
  if (t.isF16())
    return "f16";
  if (t.isF64())
    return "f64";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  if (t.isInteger(8))
    return "i8";
  return "";
}

/// Describes `type` as "<dtype> <shape>", or returns "" when unsupported.
std::string describe(mlir::Type type) {
  if (auto tensor = dyn_cast<mlir::RankedTensorType>(type)) {
    if (!tensor.hasStaticShape())
      return "";
    std::string d = dtypeName(tensor.getElementType());
    if (d.empty())
      return "";
    std::string shape = "[";
    for (auto [i, s] : llvm::enumerate(tensor.getShape()))
      shape += (i ? "," : "") + std::to_string(s);
    return d + " " + shape + "]";
  }
  std::string d = dtypeName(type);
  return d.empty() || d[0] != 'i' ? "" : d + " scalar";
}

struct Signature {
  std::string name, text;
  unsigned numArgs = 0, numResults = 0;
  SmallVector<bool> argIsScalar;
};

/// The argument attributes of the library interface.
constexpr StringRef kArgumentAttrs[] = {"attn.param",
                                        "attn.buffer",
                                        "attn.state",
                                        "attn.input",
                                        "attn.init",
                                        mlir::attn::kWeightDecayAttr,
                                        mlir::attn::kLrScaleAttr};

/// A training step's settings (attn.optimizer) as the signature's
/// "key=value ..." text: each number in the fewest digits that read back
/// as it, in the dictionary's (sorted) order.
std::string optimizerText(mlir::DictionaryAttr optimizer) {
  std::string text;
  llvm::raw_string_ostream os(text);
  for (mlir::NamedAttribute a : optimizer) {
    os << (text.empty() ? "" : " ") << a.getName().strref() << "=";
    if (auto f = llvm::dyn_cast<mlir::FloatAttr>(a.getValue()))
      os << attn::numberText(f.getValueAsDouble());
    else if (auto i = llvm::dyn_cast<mlir::IntegerAttr>(a.getValue()))
      os << i.getInt();
    else if (auto s = llvm::dyn_cast<mlir::StringAttr>(a.getValue()))
      os << s.getValue();
  }
  return text;
}

/// Parts of a CPU library's code generated at once. Fixed, not the host's
/// core count: how the functions are split decides the object's layout,
/// and a library should not depend on the machine that compiled it.
constexpr unsigned kCodegenPartitions = 4;

/// Generates `module`'s object code into `fds` (one object file each, all
/// linked together): with one, by `machine` directly; with more, the module
/// split into that many linkable parts (SplitModule: internal symbols
/// become hidden), each taken to a context of its own through bitcode and
/// compiled on its own thread by a machine of its own. Every one of `fds`
/// is closed on return. Returns what went wrong, if anything.
std::string
generateObjects(llvm::Module &module, TargetMachine &machine,
                llvm::function_ref<std::unique_ptr<TargetMachine>()> make,
                ArrayRef<int> fds) {
  auto emit = [](llvm::Module &part, TargetMachine &tm, int fd) {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    legacy::PassManager codegen;
    if (tm.addPassesToEmitFile(codegen, os, nullptr,
                               CodeGenFileType::ObjectFile))
      return std::string("the target cannot emit object files");
    codegen.run(part);
    return std::string();
  };
  if (fds.size() == 1)
    return emit(module, machine, fds[0]);
  std::vector<SmallString<0>> bitcode;
  SplitModule(module, fds.size(), [&](std::unique_ptr<llvm::Module> part) {
    raw_svector_ostream os(bitcode.emplace_back());
    WriteBitcodeToFile(*part, os);
  });
  std::vector<std::string> problems(fds.size());
  std::vector<std::unique_ptr<TargetMachine>> machines;
  for (size_t i = 0; i < fds.size(); ++i)
    machines.push_back(make());
  DefaultThreadPool pool(hardware_concurrency(fds.size()));
  for (size_t i = 0; i < fds.size(); ++i)
    pool.async([&, i] {
      LLVMContext context;
      Expected<std::unique_ptr<llvm::Module>> part = parseBitcodeFile(
          MemoryBufferRef(StringRef(bitcode[i].data(), bitcode[i].size()),
                          "part"),
          context);
      if (!part) {
        problems[i] = "reading a part of the module back failed: " +
                      toString(part.takeError());
        sys::Process::SafelyCloseFileDescriptor(fds[i]);
        return;
      }
      problems[i] = emit(**part, *machines[i], fds[i]);
    });
  pool.wait();
  for (const std::string &problem : problems)
    if (!problem.empty())
      return problem;
  return "";
}

/// --export: the public functions not named become private, and every
/// private function nothing refers to goes (symbol DCE). Returns what is
/// wrong, if anything.
std::string keepOnly(mlir::ModuleOp module, ArrayRef<std::string> names) {
  llvm::StringSet<> wanted;
  for (const std::string &name : names)
    wanted.insert(name);
  std::string available;
  for (auto fn : module.getOps<mlir::func::FuncOp>()) {
    if (fn.isPrivate() || fn.isExternal())
      continue;
    available += (available.empty() ? "" : ", ") + fn.getName().str();
    if (!wanted.erase(fn.getName()))
      fn.setPrivate();
  }
  if (!wanted.empty())
    return "--export: " + inputFile + " has no public function '" +
           wanted.begin()->getKey().str() + "' (it has: " + available + ")";
  mlir::PassManager dce(module.getContext());
  dce.addPass(mlir::createSymbolDCEPass());
  if (failed(dce.run(module)))
    return "--export: removing the other functions failed";
  return "";
}

/// The signatures of the module's public functions, before lowering.
FailureOr<std::vector<Signature>> collectSignatures(mlir::ModuleOp module) {
  std::vector<Signature> out;
  for (auto fn : module.getOps<mlir::func::FuncOp>()) {
    if (fn.isPrivate() || fn.isExternal())
      continue;
    // The library's own entry points share the symbol space.
    if (fn.getName().starts_with("attn_")) {
      fn.emitError() << "public function '@" << fn.getName()
                     << "' starts with 'attn_', which the library's entry "
                        "points (attn_functions, attn_signature_<f>, "
                        "attn_call_<f>) reserve; rename it or make it private";
      return failure();
    }
    Signature sig;
    sig.name = fn.getName().str();
    raw_string_ostream os(sig.text);
    os << "attn-signature 1\nfunction " << sig.name << "\ntarget " << target
       << "\n";
    if (auto optimizer =
            fn->getAttrOfType<mlir::DictionaryAttr>(mlir::attn::kOptimizerAttr))
      os << "optimizer " << optimizerText(optimizer) << "\n";
    for (auto [i, type] : llvm::enumerate(fn.getArgumentTypes())) {
      std::string d = describe(type);
      if (d.empty()) {
        fn.emitError() << "argument #" << i << " has type " << type
                       << ", which the C ABI does not support (static-shape "
                          "tensors of f32/bf16/f16/f64/i32/i64, i32/i64 "
                          "scalars)";
        return failure();
      }
      // A misspelt key would turn a parameter into an unnamed input.
      if (mlir::DictionaryAttr attrs = fn.getArgAttrDict(i))
        for (mlir::NamedAttribute a : attrs)
          if (a.getName().strref().starts_with("attn.") &&
              !llvm::is_contained(kArgumentAttrs, a.getName().strref())) {
            fn.emitError() << "argument #" << i << " has attribute '"
                           << a.getName().strref()
                           << "', which attn does not know (known: "
                           << llvm::join(ArrayRef<StringRef>(kArgumentAttrs),
                                         ", ")
                           << ")";
            return failure();
          }
      auto param = fn.getArgAttrOfType<mlir::StringAttr>(i, "attn.param");
      auto buffer = fn.getArgAttrOfType<mlir::StringAttr>(i, "attn.buffer");
      auto state = fn.getArgAttrOfType<mlir::StringAttr>(i, "attn.state");
      auto input = fn.getArgAttrOfType<mlir::StringAttr>(i, "attn.input");
      auto init = fn.getArgAttrOfType<mlir::StringAttr>(i, "attn.init");
      if (init && !attn::isKnownInitializer(init.strref())) {
        fn.emitError() << "argument #" << i << " has attn.init '"
                       << init.strref() << "', which attn-train does not know ("
                       << attn::knownInitializers() << ")";
        return failure();
      }
      os << "arg "
         << (param    ? "param " + param.str()
             : buffer ? "buffer " + buffer.str()
             : state  ? "state " + state.str()
             : input  ? "input " + input.str()
                      : "input arg" + std::to_string(i))
         << " " << d;
      if (init)
        os << " " << init.str();
      os << "\n";
      sig.argIsScalar.push_back(!isa<mlir::RankedTensorType>(type));
    }
    for (auto [i, type] : llvm::enumerate(fn.getResultTypes())) {
      std::string d = describe(type);
      if (d.empty() || !isa<mlir::RankedTensorType>(type)) {
        fn.emitError() << "result #" << i << " has type " << type
                       << ", which the C ABI does not support (static-shape "
                          "tensors)";
        return failure();
      }
      auto name = fn.getResultAttrOfType<mlir::StringAttr>(i, "attn.output");
      os << "result " << (name ? name.str() : "result" + std::to_string(i))
         << " " << d << "\n";
    }
    sig.numArgs = fn.getNumArguments();
    sig.numResults = fn.getNumResults();
    out.push_back(std::move(sig));
  }
  return out;
}

/// Drops the attn.* argument and result attributes of public functions: the
/// signatures have recorded them, and LLVM IR has no place for them.
void dropInterfaceAttrs(mlir::ModuleOp module) {
  auto attnNames = [](mlir::DictionaryAttr dict) {
    SmallVector<mlir::StringAttr> names;
    if (dict)
      for (mlir::NamedAttribute a : dict)
        if (a.getName().strref().starts_with("attn."))
          names.push_back(a.getName());
    return names;
  };
  for (auto fn : module.getOps<mlir::func::FuncOp>()) {
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      for (mlir::StringAttr name : attnNames(fn.getArgAttrDict(i)))
        fn.removeArgAttr(i, name);
    for (unsigned i = 0; i < fn.getNumResults(); ++i)
      for (mlir::StringAttr name : attnNames(fn.getResultAttrDict(i)))
        fn.removeResultAttr(i, name);
  }
}

/// Adds attn_functions, attn_signature_<f> and attn_call_<f>.
LogicalResult addEntryPoints(llvm::Module &m,
                             const std::vector<Signature> &sigs) {
  LLVMContext &ctx = m.getContext();
  IRBuilder<> b(ctx);
  auto *ptr = PointerType::getUnqual(ctx);
  auto stringGetter = [&](StringRef name, StringRef text) {
    auto *fn = Function::Create(FunctionType::get(ptr, false),
                                GlobalValue::ExternalLinkage, name, m);
    b.SetInsertPoint(BasicBlock::Create(ctx, "entry", fn));
    b.CreateRet(b.CreateGlobalString(text, (name + ".text").str()));
  };
  std::string list;
  for (const Signature &sig : sigs) {
    list += sig.name + "\n";
    stringGetter("attn_signature_" + sig.name, sig.text);
    Function *callee = m.getFunction(sig.name);
    if (!callee || callee->arg_size() != sig.numArgs + sig.numResults)
      return failure();
    auto *fn = Function::Create(FunctionType::get(b.getVoidTy(), {ptr}, false),
                                GlobalValue::ExternalLinkage,
                                "attn_call_" + sig.name, m);
    b.SetInsertPoint(BasicBlock::Create(ctx, "entry", fn));
    SmallVector<Value *> args;
    for (unsigned i = 0; i < sig.numArgs + sig.numResults; ++i) {
      Value *slot = b.CreateConstGEP1_64(ptr, fn->getArg(0), i);
      Value *p = b.CreateLoad(ptr, slot);
      Type *want = callee->getArg(i)->getType();
      bool scalar = i < sig.numArgs && sig.argIsScalar[i];
      args.push_back(scalar ? b.CreateLoad(want, p) : p);
    }
    b.CreateCall(callee, args);
    b.CreateRetVoid();
  }
  stringGetter("attn_functions", list);
  return success();
}
} // namespace

int mlir::attn::attnCompileMain(int argc, char **argv,
                                DialectRegistry &registry) {
  InitLLVM init(argc, argv);
  toolName = sys::path::filename(argv[0]).str();
  LoweringFlags lowering;
  cl::HideUnrelatedOptions(compileOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              toolName + ": attn IR to a shared library\n");
  if (runtimeDir.getNumOccurrences() == 0)
    runtimeDir = defaultRuntimeDir(argv[0]);
  if (target != "cpu" && target != "gpu")
    return fail("--target=" + target +
                " is not supported (supported: cpu, "
                "gpu)");
  mlir::attn::registerAttnPasses();
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();

  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::attn::registerAttnDialectExtensions(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerOpenMPDialectTranslation(registry);
  // Kernels are translated for ptxas; launches embed the binary.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::MLIRContext context(registry);

  std::string cpuName =
      cpu.empty() ? sys::getHostCPUName().str() : cpu.getValue();
  std::string featureString = features;
  if (featureString.empty()) {
    std::vector<std::string> list;
    for (auto &f : sys::getHostCPUFeatures())
      list.push_back((f.second ? "+" : "-") + f.first().str());
    featureString = join(list, ",");
  }
  int width = vectorWidth;
  if (width == 0)
    width = StringRef(featureString).contains("+avx512f") ? 16 : 8;

  // The target's pipeline options: attn-compile's own settings, then the
  // flags given, checked before any work.
  mlir::attn::GPUPipelineOptions gpuOptions;
  mlir::attn::CPUPipelineOptions cpuOptions;
  cpuOptions.vectorWidth = width;
  cpuOptions.parallel = !noParallel;
  std::optional<std::string> problem;
  if (target == "gpu") {
    if (failed(lowering.apply(gpuOptions)))
      return fail("bad lowering options");
    problem = mlir::attn::checkGPUPipelineOptions(gpuOptions);
  } else {
    if (failed(lowering.apply(cpuOptions)))
      return fail("bad lowering options");
    problem = mlir::attn::checkCPUPipelineOptions(cpuOptions);
  }
  if (problem)
    return fail("bad options: " + *problem);

  // --timing: one report at exit, each phase a scope of the root.
  mlir::DefaultTimingManager timer;
  timer.setEnabled(timing);
  mlir::TimingScope root = timer.getRootScope();

  SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);
  mlir::TimingScope parseTime = root.nest("parse " + inputFile);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(inputFile, sourceMgr, &context);
  if (!module)
    return fail("cannot parse " + inputFile);
  parseTime.stop();
  if (backward || train || evaluationMode) {
    std::string pipeline = "func.func(attn-expand-layers";
    if (evaluationMode)
      pipeline += "{evaluation},attn-strip-dropout";
    pipeline += ")";
    if (backward || train)
      pipeline += ",attn-generate-backward";
    if (train)
      pipeline += ",attn-generate-train-step{" + optimizer + "}";
    mlir::PassManager reverse(&context);
    reverse.enableVerifier(verifyEach);
    mlir::TimingScope reverseTime =
        root.nest("layers, dropout and differentiation");
    reverse.enableTiming(reverseTime);
    std::string parseErrors;
    llvm::raw_string_ostream errs(parseErrors);
    if (failed(mlir::parsePassPipeline(pipeline, reverse, errs)))
      return fail("bad --optimizer options '" + optimizer +
                  "': " + parseErrors);
    if (failed(reverse.run(*module)))
      return fail("preparing " + inputFile +
                  " (layers, dropout, differentiation) failed");
  }
  if (!exportOnly.empty())
    if (std::string problem = keepOnly(*module, exportOnly); !problem.empty())
      return fail(problem);
  FailureOr<std::vector<Signature>> sigs = collectSignatures(*module);
  if (failed(sigs))
    return 1;
  if (sigs->empty())
    return fail(inputFile + " has no public function to export");
  dropInterfaceAttrs(*module);

  // The parser verified the input and the lowered module is verified below:
  // verifying after every pass as well took an eighth of a training step's
  // GPU compile (Hybrid-BERT-Mini), for bugs that attn-opt's lit tests,
  // which verify after each pass, are there to catch.
  mlir::PassManager pm(&context);
  pm.enableVerifier(verifyEach);
  mlir::TimingScope lowerTime =
      root.nest("lowering (--lower-to-" + target + ")");
  pm.enableTiming(lowerTime);
  if (target == "gpu")
    mlir::attn::buildLowerToGPUPipeline(pm, gpuOptions);
  else
    mlir::attn::buildLowerToCPUPipeline(pm, cpuOptions);
  if (failed(pm.run(*module)))
    return fail("lowering " + inputFile + " to LLVM failed");
  lowerTime.stop();
  if (!verifyEach) {
    mlir::TimingScope verifyTime = root.nest("verify the lowered module");
    if (failed(mlir::verify(*module)))
      return fail("lowering " + inputFile +
                  " gave invalid IR (--verify-each names the pass)");
  }

  mlir::TimingScope translateTime = root.nest("translate to LLVM IR");
  LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(*module, llvmContext, "attn");
  if (!llvmModule)
    return fail("translating to LLVM IR failed");
  if (failed(addEntryPoints(*llvmModule, *sigs)))
    return fail("the lowered module lost a public function");

  std::string tripleStr = sys::getDefaultTargetTriple();
  Triple triple(tripleStr);
  std::string error;
  const Target *tgt = TargetRegistry::lookupTarget(triple, error);
  if (!tgt)
    return fail("no LLVM target for " + tripleStr + ": " + error);
  // One per thread of code generation: a TargetMachine is not shared.
  auto makeMachine = [&] {
    TargetOptions targetOptions;
    return std::unique_ptr<TargetMachine>(tgt->createTargetMachine(
        triple, cpuName, featureString, targetOptions, Reloc::PIC_,
        std::nullopt,
        // A GPU library's host code only sequences allocations, copies and
        // launches: instruction selection without optimisation (FastISel)
        // takes a third of the time (0.54 against 1.65 s for Hybrid-BERT-
        // Mini's training step) for code that waits on the driver anyway.
        target == "gpu" ? CodeGenOptLevel::None : CodeGenOptLevel::Aggressive));
  };
  std::unique_ptr<TargetMachine> machine = makeMachine();
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(triple);
  translateTime.stop();
  mlir::TimingScope optimizeTime = root.nest("optimise LLVM IR (O3)");
  auto optimize = mlir::makeOptimizingTransformer(3, 0, machine.get());
  if (Error err = optimize(llvmModule.get()))
    return fail("optimising LLVM IR failed: " + toString(std::move(err)));
  optimizeTime.stop();
  if (!keepIR.empty()) {
    std::error_code ec;
    raw_fd_ostream os(keepIR, ec);
    if (ec)
      return fail("cannot write " + keepIR + ": " + ec.message());
    llvmModule->print(os, nullptr);
  }

  // The linker first: nothing is written when it is missing.
  ErrorOr<std::string> cxx = sys::findProgramByName(linker);
  if (!cxx)
    return fail("cannot find the linker driver '" + linker + "' on PATH");
  // A CPU library's code is generated in kCodegenPartitions parts at once
  // (its loop nests are functions of their own: attn-outline-loop-nests);
  // a GPU library's host code is small.
  unsigned partitions = target == "gpu" ? 1 : kCodegenPartitions;
  SmallVector<SmallString<128>> objects(partitions);
  SmallVector<int> fds(partitions);
  // Removed on every way out below.
  auto removeObjects = llvm::make_scope_exit([&] {
    for (const SmallString<128> &path : objects)
      if (!path.empty())
        sys::fs::remove(path);
  });
  for (unsigned i = 0; i < partitions; ++i)
    if (std::error_code ec = sys::fs::createTemporaryFile("attn-compile", "o",
                                                          fds[i], objects[i])) {
      for (unsigned j = 0; j < i; ++j)
        sys::Process::SafelyCloseFileDescriptor(fds[j]);
      return fail("cannot create a temporary object file: " + ec.message());
    }
  {
    mlir::TimingScope codegenTime =
        root.nest("code generation (object, " + std::to_string(partitions) +
                  (partitions == 1 ? " part)" : " parts at once)"));
    std::string problem =
        generateObjects(*llvmModule, *machine, makeMachine, fds);
    if (!problem.empty())
      return fail(problem);
  }
  SmallVector<StringRef> args{*cxx, "-shared", "-o", outputFile};
  for (const SmallString<128> &path : objects)
    args.push_back(path);
  std::string ompLib = "-L" + ompDir.getValue(),
              rpath = "-Wl,-rpath," + ompDir.getValue();
  std::string rtLib = "-L" + runtimeDir.getValue(),
              rtPath = "-Wl,-rpath," + runtimeDir.getValue();
  if (target == "gpu") {
    args.push_back(rtLib);
    args.push_back("-lattnrt");
    args.push_back(rtPath);
  } else if (!noParallel) {
    args.push_back(ompLib);
    args.push_back("-lomp");
    args.push_back(rpath);
  }
  mlir::TimingScope linkTime = root.nest("link (" + linker + ")");
  std::string linkError;
  int rc = sys::ExecuteAndWait(*cxx, args, std::nullopt, {}, 0, 0, &linkError);
  if (rc != 0)
    return fail("linking " + outputFile + " failed" +
                (linkError.empty() ? "" : ": " + linkError));
  return 0;
}

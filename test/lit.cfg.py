# lit configuration of attn's IR tests.
import os
import lit.formats

config.name = "attn"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in", "Inputs", "reference", "support"]

tools = os.path.join(config.attn_obj_root, "tools")
path = [os.path.join(tools, d) for d in sorted(os.listdir(tools))
        if os.path.isdir(os.path.join(tools, d))]
path.append(os.path.join(config.attn_obj_root, "examples", "longformer"))
path.append(os.path.join(config.attn_obj_root, "test", "support", "faulty"))
path.append(config.llvm_tools_dir)
config.environment["PATH"] = os.pathsep.join(path + [config.environment.get("PATH", os.environ["PATH"])])
config.substitutions.append(("%examples", os.path.join(config.attn_src_root, "examples")))
config.substitutions.append(("%gpu_tools", os.path.join(config.attn_src_root, "tools", "gpu")))

if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
# attn-bench is built only where libtorch is found.
if os.path.exists(os.path.join(tools, "attn-bench", "attn-bench")):
    config.available_features.add("attn-bench")
# The build's own folder, for the tools that take one (tools/gpu's scripts).
config.substitutions.append(("%attn_build", config.attn_obj_root))

# lit configuration for bdl: every test is a .bdl model or a .test script
# whose RUN lines drive bdlc (and the binaries it builds) through FileCheck.
import os
import shutil
import subprocess

import lit.formats

config.name = "bdl"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".bdl", ".bdlir", ".test"]
config.excludes = ["Inputs", "unit", "fuzz", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.bdl_obj_root, "test")

path = [config.bdl_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])]
config.environment["PATH"] = os.pathsep.join(path)
# Datasets come from the build's defaults, never from the developer's shell.
config.environment.pop("BDL_DATA_DIR", None)

# `%exit1 CMD` runs CMD and passes only if it exits with code 1 (a model
# error), where `not` would accept any failure, a crash included.
config.substitutions.append(("%exit1", "%s %s 1" % (config.python_executable,
    os.path.join(config.test_source_root, "Inputs", "expect_exit.py"))))
config.substitutions.append(("%bdlc", os.path.join(config.bdl_tools_dir, "bdlc")))
config.substitutions.append(("%bdl-opt", os.path.join(config.bdl_tools_dir, "bdl-opt")))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
config.substitutions.append(("%examples", os.path.join(config.bdl_src_root, "examples")))
config.substitutions.append(("%srcroot", config.bdl_src_root))
config.substitutions.append(("%libdir", os.path.join(config.bdl_obj_root, "lib")))
# `env LD_LIBRARY_PATH=%fakecuda ./net train --device cuda`: the runtime's
# CUDA backend on the host driver of test/gpu/fake.
config.substitutions.append(("%fakecuda", config.fake_cuda_dir))

def has_idx(directory):
    return any(os.path.exists(os.path.join(directory, "train-images-idx3-ubyte" + ext))
               for ext in ("", ".gz"))

# util-linux's `script` gives a command a terminal (the progress-line test).
# Being installed is not enough: in a container without /dev/pts it exits
# with "failed to create pseudo-terminal", so the feature needs a real run.
def script_works():
    if not shutil.which("script"):
        return False
    try:
        return subprocess.run(["script", "-qec", "true", "/dev/null"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False

if script_works():
    config.available_features.add("script")

# net plot draws with gnuplot (Debian's gnuplot-nox); without it only the
# plot tests of its error messages run.
if shutil.which("gnuplot"):
    config.available_features.add("gnuplot")

if has_idx(config.fashion_mnist_dir):
    config.available_features.add("fashion-mnist")
if has_idx(os.path.join(config.bdl_data_dir, "mnist")):
    config.available_features.add("mnist")

# ptxas (the CUDA toolkit's PTX assembler) proves that bdlc's PTX assembles;
# the PTX tests that need it are unsupported where the toolkit is absent.
def find_ptxas():
    homes = [os.environ.get("CUDA_HOME", ""), "/usr/local/cuda"]
    for candidate in [shutil.which("ptxas")] + [os.path.join(h, "bin", "ptxas") for h in homes if h]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None

ptxas = find_ptxas()
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
    config.environment["CUDA_HOME"] = os.path.dirname(os.path.dirname(ptxas))

# A real CUDA driver on this machine: the tests of what a binary says where
# there is none skip here, and test/gpu/run.sh is the one to run.
def has_cuda_driver():
    try:
        import ctypes
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False

if has_cuda_driver():
    config.available_features.add("cuda-driver")

# libdevice (the toolkit's math library for PTX): models that call log or pow
# need it for --target=cuda.
def find_libdevice():
    for home in [os.environ.get("CUDA_HOME", ""), "/usr/local/cuda"]:
        path = os.path.join(home, "nvvm", "libdevice", "libdevice.10.bc") if home else ""
        if path and os.path.exists(path):
            return path
    return None

if find_libdevice():
    config.available_features.add("libdevice")

# OpenMPI's launcher, for `net tune` over ranks. As root it refuses to run
# without --allow-run-as-root; --oversubscribe lets 2 ranks share fewer cores.
if shutil.which("mpirun"):
    config.available_features.add("mpirun")
    flags = " --allow-run-as-root" if os.geteuid() == 0 else ""
    config.substitutions.append(("%mpirun", "mpirun" + flags + " --oversubscribe"))

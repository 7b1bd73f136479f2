//===- CodeGenModuleTest.cpp - Descriptor, objects, errors, vectorisation ===//
#include "CodeGenTestUtil.h"

#include "llvm/IR/DataLayout.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Target/TargetMachine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <unistd.h>

using namespace bdl;
using namespace bdl::codegen;
using namespace bdl::codegen::test;
using ir::Access;
using ir::Dim;
using ir::ExprOp;

namespace {

// These kernels draw nothing; the context is passed as the ABI requires.
const BdlContext ctx{};

/// A small MLP-shaped module: a GEMM, a fused bias+sigmoid map, a row
/// reduction and a column reduction, train and eval blocks, two params.
ir::Module mlp() {
  ir::Module m;
  m.name = "tiny";
  m.sourceFile = "tiny.bdl";
  m.dataset = "mnist";
  Dim B = Dim::batch(), one = Dim::constant(1), H = Dim::param(1);
  m.params.push_back({"lr", 0.05, ir::ParamType::Real, ir::TuneKind::Log, 1e-4, 1.0});
  m.params.push_back({"hidden", 30, ir::ParamType::Int, ir::TuneKind::Int, 10, 100});
  auto x = m.addTensor({"x", ir::Role::Input, B, Dim::constant(784)});
  auto W = m.addTensor({"W", ir::Role::Weight, H, Dim::constant(784), ir::InitKind::Xavier});
  auto b = m.addTensor({"b", ir::Role::Weight, one, H, ir::InitKind::Const, 0.1f});
  auto z = m.addTensor({"z", ir::Role::Temp, B, H});
  auto h = m.addTensor({"h", ir::Role::State, B, H, ir::InitKind::Normal, 0.5f, 2.0f});
  auto loss = m.addTensor({"loss", ir::Role::Temp, B, one});
  auto db = m.addTensor({"db", ir::Role::Temp, one, H});
  auto y = m.addTensor({"y", ir::Role::Target, B, Dim::constant(10)});
  m.input = x;
  m.target = y;
  m.predict = h;
  m.loss = loss;
  m.epochs = 3;
  m.batch = 64;
  m.validation = 5000;

  ir::GemmOp g;
  g.a = x;
  g.b = W;
  g.c = z;
  g.transB = true;
  g.alpha = 0.5f;
  g.alphaSlot = ir::kInvBatchSlot;
  g.beta = 1.0f;
  g.betaSlot = ir::kFirstParamSlot; // a folded momentum: beta = hp[lr]

  ir::KernelOp act;
  act.name = "act";
  act.rows = B;
  act.cols = H;
  act.outputs.push_back(
      output(h, un(ExprOp::Sigmoid, bin(ExprOp::Add, load(z), load(b, Access::Col)))));

  ir::KernelOp rs;
  rs.kind = ir::KernelOp::Kind::RowReduce;
  rs.name = "loss";
  rs.rows = B;
  rs.cols = H;
  rs.outputs.push_back(output(loss, bin(ExprOp::Mul, load(h), load(h))));

  ir::KernelOp cs;
  cs.kind = ir::KernelOp::Kind::ColReduce;
  cs.name = "db";
  cs.rows = B;
  cs.cols = H;
  cs.outputs.push_back(output(db, load(h)));

  ir::Block fwd;
  fwd.name = "forward";
  fwd.steps = 20;
  fwd.ops.push_back(g);
  fwd.ops.push_back(ir::Op(std::move(act)));
  ir::Block learn;
  learn.name = "learn";
  learn.ops.push_back(ir::Op(std::move(rs)));
  learn.ops.push_back(ir::Op(std::move(cs)));
  m.trainBlocks.push_back(std::move(fwd));
  m.trainBlocks.push_back(std::move(learn));

  ir::Block eval;
  eval.name = "infer";
  eval.steps = 7;
  eval.ops.push_back(g);
  ir::KernelOp act2;
  act2.name = "act";
  act2.rows = B;
  act2.cols = H;
  act2.outputs.push_back(output(h, un(ExprOp::Tanh, load(z))));
  eval.ops.push_back(ir::Op(std::move(act2)));
  m.evalBlocks.push_back(std::move(eval));
  return m;
}

void expectDim(const BdlDim &d, Dim want) {
  int kind = want.kind == Dim::Kind::Const   ? BDL_DIM_CONST
             : want.kind == Dim::Kind::Batch ? BDL_DIM_BATCH
                                             : BDL_DIM_PARAM;
  EXPECT_EQ(d.kind, kind);
  EXPECT_EQ(d.value, want.value);
}

TEST(CodeGenModule, HostLayoutMatchesAbi) {
  auto tm = createTargetMachine({});
  ASSERT_TRUE(bool(tm)) << llvm::toString(tm.takeError());
  llvm::DataLayout dl = (*tm)->createDataLayout();
  EXPECT_FALSE(bool(verifyDescriptorLayout(dl)));
}

// Reads the JIT's bdl_model through the C structs of abi.h: every field.
TEST(CodeGenModule, DescriptorThroughCStructs) {
  ir::Module m = mlp();
  auto j = jit(m);
  ASSERT_TRUE(j);
  const BdlModel *d = j->model();
  ASSERT_TRUE(d);
  EXPECT_STREQ(d->name, "tiny");
  EXPECT_STREQ(d->sourceFile, "tiny.bdl");
  EXPECT_STREQ(d->dataset, "mnist");
  EXPECT_EQ(d->abiVersion, BDL_ABI_VERSION);
  EXPECT_EQ(d->numTensors, int(m.tensors.size()));
  EXPECT_EQ(d->numParams, 2);
  EXPECT_EQ(d->numTrainBlocks, 2);
  EXPECT_EQ(d->numEvalBlocks, 1);
  EXPECT_EQ(d->inputTensor, m.input);
  EXPECT_EQ(d->targetTensor, m.target);
  EXPECT_EQ(d->predictTensor, m.predict);
  EXPECT_EQ(d->lossTensor, m.loss);
  EXPECT_EQ(d->epochs, 3);
  EXPECT_EQ(d->batch, 64);
  EXPECT_EQ(d->validation, 5000);

  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const ir::Tensor &t = m.tensors[i];
    const BdlTensorDesc &td = d->tensors[i];
    SCOPED_TRACE(t.name);
    EXPECT_STREQ(td.name, t.name.c_str());
    EXPECT_EQ(td.role, int(t.role));
    EXPECT_EQ(td.init, int(t.init));
    expectDim(td.rows, t.rows);
    expectDim(td.cols, t.cols);
    EXPECT_EQ(td.initA, t.initA);
    EXPECT_EQ(td.initB, t.initB);
  }
  EXPECT_EQ(d->tensors[m.input].role, BDL_ROLE_INPUT);
  EXPECT_EQ(d->tensors[1].init, BDL_INIT_XAVIER);
  EXPECT_EQ(d->tensors[2].initA, 0.1f);
  EXPECT_EQ(d->tensors[4].initB, 2.0f);

  for (size_t i = 0; i < m.params.size(); ++i) {
    const ir::Param &p = m.params[i];
    const BdlParamDesc &pd = d->params[i];
    EXPECT_STREQ(pd.name, p.name.c_str());
    EXPECT_EQ(pd.value, p.value);
    EXPECT_EQ(pd.lo, p.lo);
    EXPECT_EQ(pd.hi, p.hi);
    EXPECT_EQ(pd.type, int(p.type));
    EXPECT_EQ(pd.tune, int(p.tune));
  }
  EXPECT_EQ(d->params[0].tune, BDL_TUNE_LOG);
  EXPECT_EQ(d->params[1].type, BDL_PARAM_INT);

  // Blocks and ops; kernels numbered train-then-eval.
  const char *kernelNames[] = {"act", "loss", "db", "act"};
  int kernelOrdinal = 0;
  auto checkBlocks = [&](const BdlBlock *bs, const std::vector<ir::Block> &want) {
    for (size_t bi = 0; bi < want.size(); ++bi) {
      const BdlBlock &blk = bs[bi];
      SCOPED_TRACE(want[bi].name);
      EXPECT_STREQ(blk.name, want[bi].name.c_str());
      EXPECT_EQ(blk.steps, want[bi].steps);
      ASSERT_EQ(blk.numOps, int(want[bi].ops.size()));
      for (size_t oi = 0; oi < want[bi].ops.size(); ++oi) {
        const BdlOp &op = blk.ops[oi];
        ASSERT_NE(op.name, nullptr);
        if (const auto *g = std::get_if<ir::GemmOp>(&want[bi].ops[oi])) {
          EXPECT_EQ(op.kind, BDL_OP_GEMM);
          EXPECT_EQ(op.a, g->a);
          EXPECT_EQ(op.b, g->b);
          EXPECT_EQ(op.c, g->c);
          EXPECT_EQ(op.transA, int(g->transA));
          EXPECT_EQ(op.transB, int(g->transB));
          EXPECT_EQ(op.alphaSlot, g->alphaSlot);
          EXPECT_EQ(op.alpha, g->alpha);
          EXPECT_EQ(op.beta, g->beta);
          EXPECT_EQ(op.betaSlot, g->betaSlot);
          EXPECT_EQ(op.fn, nullptr);
          EXPECT_STREQ(op.name, "gemm z = x * W^T");
          expectDim(op.rows, m.tensors[g->c].rows);
          expectDim(op.cols, m.tensors[g->c].cols);
        } else {
          const auto &k = std::get<ir::KernelOp>(want[bi].ops[oi]);
          EXPECT_EQ(op.kind, BDL_OP_KERNEL);
          EXPECT_EQ(op.alphaSlot, -1);
          EXPECT_EQ(op.betaSlot, -1);
          EXPECT_EQ(op.parallel, k.kind == ir::KernelOp::Kind::ColReduce ? 0 : 1);
          EXPECT_STREQ(op.name, k.name.c_str());
          EXPECT_STREQ(op.name, kernelNames[kernelOrdinal]);
          expectDim(op.rows, k.rows);
          expectDim(op.cols, k.cols);
          EXPECT_EQ(reinterpret_cast<void *>(op.fn),
                    j->lookup(kernelSymbol(kernelOrdinal, k.name)));
          ++kernelOrdinal;
        }
      }
    }
  };
  checkBlocks(d->trainBlocks, m.trainBlocks);
  checkBlocks(d->evalBlocks, m.evalBlocks);
  EXPECT_EQ(kernelOrdinal, 4);

  // The descriptor's kernel runs: h = sigmoid(z + b) with hidden = 30.
  const int rows = 3, H = 30;
  std::vector<float> z(rows * H), b(H), h(rows * H);
  for (int i = 0; i < rows * H; ++i)
    z[i] = 0.1f * (i % 17) - 0.8f;
  for (int c = 0; c < H; ++c)
    b[c] = 0.05f * c;
  std::vector<float *> tensors(m.tensors.size(), nullptr);
  tensors[2] = b.data();
  tensors[3] = z.data();
  tensors[4] = h.data();
  float hp[4] = {float(rows), 1.0f / rows, 0.05f, float(H)};
  d->trainBlocks[0].ops[1].fn(0, rows, H, tensors.data(), hp, &ctx);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < H; ++c)
      EXPECT_NEAR(h[r * H + c], 1 / (1 + std::exp(-double(z[r * H + c] + b[c]))), 1e-6);
}

TEST(CodeGenModule, EmptyModule) {
  ir::Module m;
  auto j = jit(m);
  ASSERT_TRUE(j);
  const BdlModel *d = j->model();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->numTensors, 0);
  EXPECT_EQ(d->tensors, nullptr);
  EXPECT_EQ(d->trainBlocks, nullptr);
  EXPECT_STREQ(d->name, "");
  EXPECT_EQ(d->inputTensor, -1);
}

TEST(CodeGenModule, ObjectFileForFixedCpu) {
  ir::Module m = mlp();
  llvm::LLVMContext ctx;
  auto mod = emitModule(m, ctx);
  ASSERT_TRUE(bool(mod)) << llvm::toString(mod.takeError());
  TargetOptions to;
  to.triple = "x86_64-pc-linux-gnu";
  to.cpu = "x86-64-v3";
  to.optLevel = 3;
  auto tm = createTargetMachine(to);
  ASSERT_TRUE(bool(tm)) << llvm::toString(tm.takeError());
  optimize(**mod, **tm, 3);
  EXPECT_EQ((*mod)->getTargetTriple(), "x86_64-pc-linux-gnu");
  auto path =
      std::filesystem::temp_directory_path() / ("bdlcodegen-" + std::to_string(getpid()) + ".o");
  auto err = emitObject(**mod, **tm, path.string());
  ASSERT_FALSE(bool(err)) << llvm::toString(std::move(err));
  ASSERT_GT(std::filesystem::file_size(path), 0u);

  auto buf = llvm::MemoryBuffer::getFile(path.string());
  ASSERT_TRUE(bool(buf));
  auto obj = llvm::object::ObjectFile::createObjectFile((*buf)->getMemBufferRef());
  ASSERT_TRUE(bool(obj)) << llvm::toString(obj.takeError());
  std::set<std::string> defined;
  for (const auto &sym : (*obj)->symbols()) {
    auto name = sym.getName();
    auto flags = sym.getFlags();
    ASSERT_TRUE(name && flags);
    if ((*flags & llvm::object::SymbolRef::SF_Global) &&
        !(*flags & llvm::object::SymbolRef::SF_Undefined))
      defined.insert(name->str());
  }
  EXPECT_TRUE(defined.count("bdl_model"));
  EXPECT_TRUE(defined.count("bdl_k0_act"));
  EXPECT_TRUE(defined.count("bdl_k3_act"));
  std::filesystem::remove(path);
}

TEST(CodeGenModule, Errors) {
  auto expectError = [](const ir::Module &m, const std::string &want) {
    llvm::LLVMContext ctx;
    auto mod = emitModule(m, ctx);
    ASSERT_FALSE(bool(mod));
    std::string msg = llvm::toString(mod.takeError());
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
  };
  auto base = [] {
    ir::Module m;
    Dim B = Dim::batch(), C = Dim::constant(8);
    m.addTensor(tensor("a", B, C));
    m.addTensor(tensor("o", B, C));
    m.addTensor(tensor("v", Dim::constant(1), Dim::constant(5)));
    return m;
  };
  auto kernel = [](ir::ExprPtr e, ir::TensorId out = 1) {
    ir::KernelOp k;
    k.name = "bad";
    k.rows = Dim::batch();
    k.cols = Dim::constant(8);
    k.outputs.push_back(output(out, std::move(e)));
    return k;
  };
  {
    auto m = base();
    addKernel(m, kernel(load(7)));
    expectError(m, "kernel @bad: output $0: load of tensor id 7, which does not exist");
  }
  {
    auto m = base();
    addKernel(m, kernel(load(2, Access::Col)));
    expectError(
        m, "kernel @bad: output $0: %v [1, 5] cannot be read [col] in a kernel over [batch, 8]");
  }
  {
    auto m = base();
    addKernel(m, kernel(ir::Expr::local(0)));
    expectError(m, "output $0: local $0 is not an earlier output");
  }
  {
    auto m = base();
    addKernel(m, kernel(ir::Expr::slot(5)));
    expectError(m, "output $0: hp[5] does not exist");
  }
  {
    auto m = base();
    auto e = un(ExprOp::Exp, load(0));
    e->operands.push_back(load(0));
    addKernel(m, kernel(std::move(e)));
    expectError(m, "output $0: exp has 2 operands, expected 1");
  }
  {
    auto m = base();
    addKernel(m, kernel(load(0), 2));
    expectError(m, "output $0 %v is [1, 5], but a map over [batch, 8] writes [batch, 8]");
  }
  {
    auto m = base();
    auto k = kernel(load(0), 1);
    k.kind = ir::KernelOp::Kind::RowReduce; // output must be [batch, 1]
    addKernel(m, std::move(k));
    expectError(m, "output $0 %o is [batch, 8], but a rowreduce over [batch, 8] writes [batch, 1]");
  }
  {
    TargetOptions to;
    to.cpu = "no-such-cpu";
    auto tm = createTargetMachine(to);
    ASSERT_FALSE(bool(tm));
    EXPECT_NE(llvm::toString(tm.takeError()).find("unknown CPU 'no-such-cpu'"), std::string::npos);
  }
}

/// The optimised IR of one kernel over [batch, 784] for x86-64-v3 (AVX2).
std::string kernelIR(ir::KernelOp::Kind kind, ir::KernelOp::Reduce reduce, ExprOp unary,
                     bool withCol = true) {
  ir::Module m;
  Dim B = Dim::batch(), C = Dim::constant(784), one = Dim::constant(1);
  auto x = m.addTensor(tensor("x", B, C)), w = m.addTensor(tensor("w", one, C));
  bool colReduce = kind == ir::KernelOp::Kind::ColReduce;
  bool rowReduce = kind == ir::KernelOp::Kind::RowReduce;
  auto out = m.addTensor(tensor("out", colReduce ? one : B, rowReduce ? one : C));
  ir::KernelOp k;
  k.kind = kind;
  k.reduce = reduce;
  k.name = "k";
  k.rows = B;
  k.cols = C;
  k.outputs.push_back(
      output(out, un(unary, withCol ? bin(ExprOp::Add, load(x), load(w, Access::Col)) : load(x))));
  addKernel(m, std::move(k));
  TargetOptions to;
  to.triple = "x86_64-pc-linux-gnu";
  to.cpu = "x86-64-v3";
  return optimizedIR(m, to, 2);
}

TEST(CodeGenModule, InnerLoopsVectorise) {
  using K = ir::KernelOp::Kind;
  using R = ir::KernelOp::Reduce;
  struct Case {
    const char *name;
    K kind;
    R reduce;
    ExprOp op;
    bool withCol = true;
  } cases[] = {{"flat map sigmoid", K::Map, R::Sum, ExprOp::Sigmoid, false},
               {"map sigmoid", K::Map, R::Sum, ExprOp::Sigmoid},
               {"map tanh", K::Map, R::Sum, ExprOp::Tanh},
               {"map exp", K::Map, R::Sum, ExprOp::Exp},
               {"rowsum", K::RowReduce, R::Sum, ExprOp::Relu},
               {"rowmax", K::RowReduce, R::Max, ExprOp::Abs},
               {"colsum", K::ColReduce, R::Sum, ExprOp::Exp}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    std::string ir = kernelIR(c.kind, c.reduce, c.op, c.withCol);
    EXPECT_NE(ir.find("<8 x float>"), std::string::npos) << ir;
    // No run-time alias checks: the loop nest's noalias arguments suffice.
    EXPECT_EQ(ir.find("vector.memcheck"), std::string::npos) << ir;
    EXPECT_EQ(ir.find("diff.check"), std::string::npos) << ir;
    EXPECT_EQ(ir.find("found.conflict"), std::string::npos) << ir;
    EXPECT_EQ(ir.find("@expf"), std::string::npos);
    EXPECT_EQ(ir.find("@llvm.exp."), std::string::npos);
    if (c.kind == K::RowReduce) {
      EXPECT_NE(ir.find(c.reduce == R::Max ? "@llvm.vector.reduce.fmax.v8f32"
                                           : "@llvm.vector.reduce.fadd.v8f32"),
                std::string::npos)
          << ir;
    }
  }
}

// Sigmoid over 500 x 784: inline exp vs glibc libmvec vs scalar expf, with
// a copy as the memory-bound floor. Variants alternate; best of many runs.
// Run with --gtest_also_run_disabled_tests.
TEST(CodeGenModule, DISABLED_BenchSigmoid) {
  const int64_t rows = 500, cols = 784;
  auto module = [&](ExprOp op) {
    ir::Module m;
    Dim B = Dim::batch(), C = Dim::constant(cols);
    auto x = m.addTensor(tensor("x", B, C)), y = m.addTensor(tensor("y", B, C));
    ir::KernelOp k;
    k.name = "sig";
    k.rows = B;
    k.cols = C;
    k.outputs.push_back(output(y, op == ExprOp::Const ? load(x) : un(op, load(x))));
    addKernel(m, std::move(k));
    return m;
  };
  struct Variant {
    const char *name;
    ExprOp op;
    bool inlineExp, libmvec;
    std::unique_ptr<Jitted> j;
    BdlKernelFn fn = nullptr;
    double best = 1e30, total = 0;
    Variant(const char *name, ExprOp op, bool inlineExp, bool libmvec)
        : name(name), op(op), inlineExp(inlineExp), libmvec(libmvec) {}
  };
  Variant variants[] = {{"copy", ExprOp::Const, true, false},
                        {"inline exp", ExprOp::Sigmoid, true, false},
                        {"libmvec", ExprOp::Sigmoid, false, true},
                        {"scalar expf", ExprOp::Sigmoid, false, false}};
  for (Variant &v : variants) {
    JitOptions opts;
    opts.emit.inlineExp = v.inlineExp;
    opts.libmvec = v.libmvec;
    opts.optLevel = 3;
    v.j = jit(module(v.op), opts);
    ASSERT_TRUE(v.j);
    v.fn = v.j->kernel(kernelSymbol(0, "sig"));
    ASSERT_TRUE(v.fn);
    if (v.libmvec) {
      EXPECT_NE(v.j->optimizedIR.find("_ZGVdN8v_expf"), std::string::npos);
    }
  }
  std::vector<float> xs(rows * cols), ys(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    xs[i] = std::sin(0.001f * i) * 8;
  float *tensors[] = {xs.data(), ys.data()};
  float hp[2] = {float(rows), 1.0f / rows};
  const int rounds = 50, calls = 5;
  for (int round = 0; round < rounds; ++round)
    for (Variant &v : variants) {
      auto t0 = std::chrono::steady_clock::now();
      for (int it = 0; it < calls; ++it)
        v.fn(0, rows, cols, tensors, hp, &ctx);
      double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
          calls;
      v.best = std::min(v.best, us);
      v.total += us;
    }
  for (Variant &v : variants) {
    v.fn(0, rows, cols, tensors, hp, &ctx);
    double maxErr = 0;
    for (int64_t i = 0; v.op != ExprOp::Const && i < rows * cols; ++i)
      maxErr = std::max(maxErr, std::fabs(ys[i] - 1 / (1 + std::exp(-double(xs[i])))));
    std::printf("%-12s best %7.1f us, mean %7.1f us per 500x784 (%.2f ns/element), "
                "max abs error %.2g\n",
                v.name, v.best, v.total / rounds, v.best * 1000 / (rows * cols), maxErr);
  }
}

} // namespace

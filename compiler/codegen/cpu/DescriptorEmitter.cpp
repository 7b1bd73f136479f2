//===- DescriptorEmitter.cpp - The bdl_model constant --------------------===//
//
// The field order of every struct below is the field order of abi.h;
// verifyDescriptorLayout proves LLVM's layout equals the C compiler's.
//
//===----------------------------------------------------------------------===//
#include "DescriptorEmitter.h"

#include "codegen/CodeGen.h"
#include "codegen/Sampler.h"
#include "transforms/OpEffects.h"

#include "bdl/abi.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Module.h"

#include <cstddef>
#include <map>
#include <set>
#include <variant>

using namespace llvm;

namespace bdl::codegen {
namespace cpu {
namespace {

StructType *namedStruct(LLVMContext &ctx, StringRef name, ArrayRef<Type *> fields) {
  if (StructType *t = StructType::getTypeByName(ctx, name))
    return t;
  return StructType::create(ctx, fields, name);
}

/// The GEMMs that are the only op of the whole schedule writing their C, a
/// weight they update in place (C += alpha op(A) op(B), beta exactly 1) in
/// a one-step block: BdlOp.soleWriter. The runtime can then keep a
/// transposed copy of the weight current through each such update instead of
/// making it again (backend/cpu/Executor.cpp).
std::set<const ir::GemmOp *> soleWriterUpdates(const ir::Module &m) {
  std::map<ir::TensorId, int> writers;
  std::map<ir::TensorId, const ir::GemmOp *> update;
  for (const auto *blocks : {&m.trainBlocks, &m.evalBlocks})
    for (const ir::Block &b : *blocks)
      for (const auto *ops : {&b.prologue, &b.ops})
        for (const ir::Op &o : *ops) {
          forEachWrite(o, /*unstored=*/true, [&](ir::TensorId t) { ++writers[t]; });
          const auto *g = std::get_if<ir::GemmOp>(&o);
          bool oneStep = b.steps == 1 && !b.stepsExpr && ops == &b.ops;
          if (g && oneStep && g->beta == 1 && g->betaSlot < 0 &&
              m.tensors[g->c].role == ir::Role::Weight)
            update[g->c] = g;
        }
  std::set<const ir::GemmOp *> sole;
  for (auto [tensor, g] : update)
    if (writers[tensor] == 1)
      sole.insert(g);
  return sole;
}

class DescriptorBuilder {
public:
  DescriptorBuilder(Module &llvmModule, const ir::Module &m, ArrayRef<Function *> kernels,
                    ArrayRef<Function *> stepsFns, Function *derive, StringRef ptx,
                    StringRef ptxArch)
      : mod(llvmModule), ctx(llvmModule.getContext()), m(m), kernels(kernels), stepsFns(stepsFns),
        derive(derive), ptx(ptx), ptxArch(ptxArch), types(AbiTypes::get(ctx)),
        soleWriters(soleWriterUpdates(m)) {}

  Error build() {
    std::vector<Constant *> tensors, params;
    for (const ir::Tensor &t : m.tensors) {
      Constant *rows = nullptr, *cols = nullptr;
      if (Error e = dim(t.rows, rows, "tensor '" + t.name + "' rows"))
        return e;
      if (Error e = dim(t.cols, cols, "tensor '" + t.name + "' cols"))
        return e;
      tensors.push_back(ConstantStruct::get(
          types.tensor,
          {str(t.name), i32(static_cast<int>(t.role)), i32(static_cast<int>(t.init)), rows, cols,
           f32(t.initA), f32(t.initB), i32(t.initASlot), i32(t.initBSlot)}));
    }
    for (const ir::Param &p : m.params) {
      Constant *choices = null();
      if (!p.choices.empty()) {
        std::vector<Constant *> values;
        for (double c : p.choices)
          values.push_back(f64(c));
        ArrayType *ty = ArrayType::get(Type::getDoubleTy(ctx), values.size());
        auto *gv = new GlobalVariable(mod, ty, true, GlobalValue::PrivateLinkage,
                                      ConstantArray::get(ty, values), "bdl_model.choices");
        gv->setAlignment(Align(8));
        choices = gv;
      }
      static_assert((int)ir::ParamRange::Fraction == BDL_RANGE_FRACTION &&
                    (int)ir::ParamRange::Positive == BDL_RANGE_POSITIVE);
      params.push_back(ConstantStruct::get(
          types.param,
          {str(p.name), f64(p.value), f64(p.lo), f64(p.hi), i32(static_cast<int>(p.type)),
           i32(static_cast<int>(p.tune)), i32(p.derivation != nullptr),
           i32(int64_t(p.choices.size())), choices, i32(static_cast<int>(p.range)),
           p.rangeUse.empty() ? null() : str(p.rangeUse)}));
    }

    Constant *train = nullptr, *eval = nullptr;
    if (Error e = blocks(m.trainBlocks, "train", train))
      return e;
    if (Error e = blocks(m.evalBlocks, "eval", eval))
      return e;
    if (nextKernel != kernels.size())
      return createStringError(inconvertibleErrorCode(), "descriptor: kernel count mismatch");

    Constant *deriveFn = derive ? static_cast<Constant *>(derive) : null();
    std::vector<Constant *> monitorTensors, monitorNames;
    for (const ir::Monitor &mon : m.monitors) {
      monitorTensors.push_back(i32(mon.tensor));
      monitorNames.push_back(str(mon.name));
    }
    Constant *model = ConstantStruct::get(
        types.model, {str(m.name),
                      str(m.sourceFile),
                      str(m.dataset),
                      array(types.tensor, tensors, "bdl_model.tensors"),
                      array(types.param, params, "bdl_model.params"),
                      train,
                      eval,
                      i32(BDL_ABI_VERSION),
                      i32(m.tensors.size()),
                      i32(m.params.size()),
                      i32(m.trainBlocks.size()),
                      i32(m.evalBlocks.size()),
                      i32(m.input),
                      i32(m.target),
                      i32(m.predict),
                      i32(m.loss),
                      i32(m.epochs),
                      i32(m.batch),
                      i32(m.validation),
                      i32(static_cast<int>(m.objective.metric)),
                      i32(m.objective.minimise),
                      deriveFn,
                      ptx.empty() ? null() : str(ptx.str()),
                      ptx.empty() ? null() : str(ptxArch.str()),
                      i32(m.monitors.size()),
                      array(Type::getInt32Ty(ctx), monitorTensors, "bdl_model.monitorTensors"),
                      array(PointerType::getUnqual(ctx), monitorNames, "bdl_model.monitorNames"),
                      i32(m.warmup),
                      i32(m.inputChannels),
                      i32(m.inputHeight),
                      i32(m.inputWidth)});
    auto *gv = new GlobalVariable(mod, types.model, /*isConstant=*/true,
                                  GlobalValue::ExternalLinkage, model, "bdl_model");
    gv->setAlignment(Align(8));
    return Error::success();
  }

private:
  Constant *i32(int64_t v) { return ConstantInt::get(Type::getInt32Ty(ctx), v, /*IsSigned=*/true); }
  Constant *f32(float v) { return ConstantFP::get(Type::getFloatTy(ctx), v); }
  Constant *f64(double v) { return ConstantFP::get(Type::getDoubleTy(ctx), v); }
  Constant *null() { return ConstantPointerNull::get(PointerType::getUnqual(ctx)); }

  /// A private NUL-terminated string, shared between equal strings.
  Constant *str(const std::string &s) {
    auto [it, inserted] = strings.try_emplace(s, nullptr);
    if (inserted) {
      Constant *init = ConstantDataArray::getString(ctx, s);
      auto *gv = new GlobalVariable(mod, init->getType(), true, GlobalValue::PrivateLinkage, init,
                                    "bdl_model.str");
      gv->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
      gv->setAlignment(Align(1));
      it->second = gv;
    }
    return it->second;
  }

  /// A private constant array, or null when empty.
  Constant *array(Type *elem, ArrayRef<Constant *> elems, const Twine &name) {
    if (elems.empty())
      return null();
    ArrayType *ty = ArrayType::get(elem, elems.size());
    auto *gv = new GlobalVariable(mod, ty, true, GlobalValue::PrivateLinkage,
                                  ConstantArray::get(ty, elems), name);
    gv->setAlignment(Align(8));
    return gv;
  }

  Error dim(ir::Dim d, Constant *&out, const Twine &what) {
    int kind = BDL_DIM_CONST;
    switch (d.kind) {
    case ir::Dim::Kind::Const:
      kind = BDL_DIM_CONST;
      break;
    case ir::Dim::Kind::Batch:
      kind = BDL_DIM_BATCH;
      break;
    case ir::Dim::Kind::Param:
      kind = BDL_DIM_PARAM;
      break;
    }
    if (d.value < INT32_MIN || d.value > INT32_MAX)
      return createStringError(inconvertibleErrorCode(),
                               what + ": extent " + Twine(d.value) + " does not fit in 32 bits");
    out = ConstantStruct::get(types.dim, {i32(kind), i32(d.value)});
    return Error::success();
  }

  /// BdlOp's fields by name, each defaulting to what an op that does not use
  /// it carries.
  struct OpFields {
    int32_t kind = 0, parallel = 0, a = -1, b = -1, c = -1, transA = 0, transB = 0;
    int32_t alphaSlot = -1, betaSlot = -1;
    float alpha = 0, beta = 0;
    Constant *fn = nullptr;
    std::string name;
    Constant *rows = nullptr, *cols = nullptr; // null: 1
    std::string symbol;                        // empty: a null pointer
    int32_t image = 0;
    ir::Window window{};
    int32_t soleWriter = 0, invariantB = 0;
    const ir::Guard *guard = nullptr; // null: always runs
  };

  Constant *opConstant(const OpFields &f) {
    std::vector<Constant *> guardLiterals = literals(f.guard);
    Constant *one = ConstantStruct::get(types.dim, {i32(BDL_DIM_CONST), i32(1)});
    return ConstantStruct::get(types.op, {i32(f.kind),
                                          i32(f.parallel),
                                          i32(f.a),
                                          i32(f.b),
                                          i32(f.c),
                                          i32(f.transA),
                                          i32(f.transB),
                                          i32(f.alphaSlot),
                                          i32(f.betaSlot),
                                          f32(f.alpha),
                                          f32(f.beta),
                                          f.fn ? f.fn : null(),
                                          str(f.name),
                                          f.rows ? f.rows : one,
                                          f.cols ? f.cols : one,
                                          f.symbol.empty() ? null() : str(f.symbol),
                                          i32(f.image),
                                          window(f.window),
                                          i32(f.soleWriter),
                                          i32(f.invariantB),
                                          i32(int64_t(guardLiterals.size())),
                                          guardArray(guardLiterals)});
  }

  /// BdlOp.guard's literals in order, for `opConstant` to emit; empty for an
  /// op that always runs.
  std::vector<Constant *> literals(const ir::Guard *g) {
    std::vector<Constant *> out;
    if (!g)
      return out;
    for (const std::vector<ir::GuardLiteral> &term : g->terms)
      for (size_t l = 0; l < term.size(); ++l)
        out.push_back(ConstantStruct::get(
            types.guardLiteral,
            {i32(term[l].slot), i32((term[l].nonzero ? BDL_GUARD_NONZERO : 0) |
                                    (l + 1 == term.size() ? BDL_GUARD_LAST : 0))}));
    return out;
  }

  Constant *guardArray(const std::vector<Constant *> &lits) {
    return array(types.guardLiteral, lits, "bdl_model.guard");
  }

  Constant *window(const ir::Window &w) {
    return ConstantStruct::get(types.window,
                               {i32(w.channels), i32(w.height), i32(w.width), i32(w.kernelH),
                                i32(w.kernelW), i32(w.stride), i32(w.pad)});
  }

  /// `stepWrites`: the tensors the step loop of o's block writes, for
  /// BdlOp.invariantB; null outside a step loop (a prologue, a one-step block).
  Error op(const ir::Op &o, const std::set<ir::TensorId> *stepWrites, Constant *&out) {
    Constant *rows = nullptr, *cols = nullptr;
    if (const auto *rot = std::get_if<ir::RotateOp>(&o)) {
      std::string name = "rotate " + Twine(rot->count).str();
      if (rot->first >= 0 && static_cast<size_t>(rot->first) < m.tensors.size())
        name += " from " + m.tensors[rot->first].name;
      out = opConstant({.kind = BDL_OP_ROTATE,
                        .a = rot->first,
                        .b = rot->count,
                        .name = name,
                        .guard = &rot->guard});
      return Error::success();
    }
    if (const auto *rep = std::get_if<ir::ReplayOp>(&o)) {
      if (rep->tensor < 0 || static_cast<size_t>(rep->tensor) >= m.tensors.size())
        return createStringError(inconvertibleErrorCode(), "replay: tensor %d out of range",
                                 rep->tensor);
      out = opConstant({.kind = BDL_OP_REPLAY,
                        .c = rep->tensor,
                        .name = "replay " + m.tensors[rep->tensor].name});
      return Error::success();
    }
    if (const auto *g = std::get_if<ir::GemmOp>(&o)) {
      for (ir::TensorId t : {g->a, g->b, g->c})
        if (t < 0 || static_cast<size_t>(t) >= m.tensors.size())
          return createStringError(inconvertibleErrorCode(), "gemm: tensor %d out of range", t);
      const ir::Tensor &a = m.tensors[g->a], &bt = m.tensors[g->b], &c = m.tensors[g->c];
      // The C operand's shape, for logs and profiles.
      if (Error e = dim(c.rows, rows, "gemm rows"))
        return e;
      if (Error e = dim(c.cols, cols, "gemm cols"))
        return e;
      std::string name = "gemm " + c.name + " = " + a.name + (g->transA ? "^T" : "") + " * " +
                         bt.name + (g->transB ? "^T" : "");
      out = opConstant({.kind = BDL_OP_GEMM,
                        .a = g->a,
                        .b = g->b,
                        .c = g->c,
                        .transA = g->transA,
                        .transB = g->transB,
                        .alphaSlot = g->alphaSlot,
                        .betaSlot = g->betaSlot,
                        .alpha = g->alpha,
                        .beta = g->beta,
                        .name = name,
                        .rows = rows,
                        .cols = cols,
                        .soleWriter = int32_t(soleWriters.count(g)),
                        .invariantB = stepWrites && !stepWrites->count(g->b),
                        .guard = &g->guard});
      return Error::success();
    }
    if (std::holds_alternative<ir::GradOp>(o))
      return createStringError(inconvertibleErrorCode(),
                               "descriptor: a grad op was not differentiated");
    if (const auto *img = std::get_if<ir::ImageOp>(&o)) {
      for (ir::TensorId t : {img->in, img->out})
        if (t < 0 || static_cast<size_t>(t) >= m.tensors.size())
          return createStringError(inconvertibleErrorCode(), "%s: tensor %d out of range",
                                   ir::spelling(img->kind), t);
      const ir::Tensor &c = m.tensors[img->out];
      if (Error e = dim(c.rows, rows, "image op rows"))
        return e;
      if (Error e = dim(c.cols, cols, "image op cols"))
        return e;
      static_assert((int)ir::ImageOp::Kind::Reshape == BDL_IMAGE_RESHAPE &&
                    (int)ir::ImageOp::Kind::MaxPoolAdjoint == BDL_IMAGE_MAXPOOL_ADJOINT &&
                    (int)ir::ImageOp::Kind::Im2col == BDL_IMAGE_IM2COL);
      std::string name =
          std::string(ir::spelling(img->kind)) + " " + c.name + " = " + m.tensors[img->in].name;
      out = opConstant({.kind = BDL_OP_IMAGE,
                        .a = img->in,
                        .b = img->aux,
                        .c = img->out,
                        .name = name,
                        .rows = rows,
                        .cols = cols,
                        .image = int32_t(img->kind),
                        .window = img->window});
      return Error::success();
    }
    const auto &k = std::get<ir::KernelOp>(o);
    if (nextKernel >= kernels.size())
      return createStringError(inconvertibleErrorCode(), "descriptor: kernel count mismatch");
    if (Error e = dim(k.rows, rows, "kernel '" + k.name + "' rows"))
      return e;
    if (Error e = dim(k.cols, cols, "kernel '" + k.name + "' cols"))
      return e;
    // ColReduce accumulates over all rows in one call: not row-parallel.
    bool parallel = k.kind != ir::KernelOp::Kind::ColReduce;
    out = opConstant({.kind = BDL_OP_KERNEL,
                      .parallel = parallel,
                      .fn = kernels[nextKernel],
                      .name = k.name,
                      .rows = rows,
                      .cols = cols,
                      .symbol = kernels[nextKernel]->getName().str()});
    ++nextKernel;
    return Error::success();
  }

  Error blocks(const std::vector<ir::Block> &bs, StringRef kind, Constant *&out) {
    std::vector<Constant *> elems;
    for (size_t i = 0; i < bs.size(); ++i) {
      const ir::Block &blk = bs[i];
      // The prologue's kernels come first in the kernel order (CodeGen.h).
      std::vector<Constant *> prologue, ops;
      for (const ir::Op &o : blk.prologue) {
        Constant *c = nullptr;
        if (Error e = op(o, nullptr, c))
          return e;
        prologue.push_back(c);
      }
      bool steps = blk.steps > 1 || blk.stepsExpr;
      std::set<ir::TensorId> stepWrites;
      for (const ir::Op &o : blk.ops)
        forEachWrite(o, /*unstored=*/true, [&](ir::TensorId t) { stepWrites.insert(t); });
      for (const ir::Op &o : blk.ops) {
        Constant *c = nullptr;
        if (Error e = op(o, steps ? &stepWrites : nullptr, c))
          return e;
        ops.push_back(c);
      }
      Function *fn = stepsFns.empty() ? nullptr : stepsFns[nextBlock];
      ++nextBlock;
      std::string prefix = ("bdl_model." + kind + Twine(i) + "." + blk.name).str();
      elems.push_back(ConstantStruct::get(
          types.block,
          {str(blk.name), i32(blk.steps), i32(ops.size()), array(types.op, ops, prefix + ".ops"),
           fn ? static_cast<Constant *>(fn) : null(), i32(prologue.size()), i32(blk.resetState),
           array(types.op, prologue, prefix + ".prologue"), i32(blk.monitorsOnly),
           i32(blk.afterWarmup)}));
    }
    out = array(types.block, elems, "bdl_model." + kind + "Blocks");
    return Error::success();
  }

  Module &mod;
  LLVMContext &ctx;
  const ir::Module &m;
  ArrayRef<Function *> kernels;
  ArrayRef<Function *> stepsFns;
  Function *derive;
  StringRef ptx, ptxArch;
  AbiTypes types;
  std::set<const ir::GemmOp *> soleWriters;
  size_t nextKernel = 0, nextBlock = 0;
  std::map<std::string, Constant *> strings;
};

} // namespace

AbiTypes AbiTypes::get(LLVMContext &ctx) {
  Type *i32 = Type::getInt32Ty(ctx), *f32 = Type::getFloatTy(ctx), *f64 = Type::getDoubleTy(ctx),
       *ptr = PointerType::getUnqual(ctx);
  AbiTypes t;
  t.dim = namedStruct(ctx, "BdlDim", {i32, i32});
  t.tensor = namedStruct(ctx, "BdlTensorDesc", {ptr, i32, i32, t.dim, t.dim, f32, f32, i32, i32});
  t.param =
      namedStruct(ctx, "BdlParamDesc", {ptr, f64, f64, f64, i32, i32, i32, i32, ptr, i32, ptr});
  t.window = namedStruct(ctx, "BdlWindow", {i32, i32, i32, i32, i32, i32, i32});
  t.op =
      namedStruct(ctx, "BdlOp", {i32, i32, i32,   i32,   i32, i32, i32,      i32, i32, f32, f32,
                                 ptr, ptr, t.dim, t.dim, ptr, i32, t.window, i32, i32, i32, ptr});
  t.block = namedStruct(ctx, "BdlBlock", {ptr, i32, i32, ptr, ptr, i32, i32, ptr, i32, i32});
  t.model = namedStruct(ctx, "BdlModel", {ptr, ptr, ptr, ptr, ptr, ptr, ptr, i32, i32, i32, i32,
                                          i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, ptr,
                                          ptr, ptr, i32, ptr, ptr, i32, i32, i32, i32});
  t.context = contextType(ctx);
  t.guardLiteral = namedStruct(ctx, "BdlGuardLiteral", {i32, i32});
  return t;
}

Error emitDescriptor(Module &llvmModule, const ir::Module &m, ArrayRef<Function *> kernels,
                     ArrayRef<Function *> stepsFns, Function *derive, StringRef ptx,
                     StringRef ptxArch) {
  return DescriptorBuilder(llvmModule, m, kernels, stepsFns, derive, ptx, ptxArch).build();
}

} // namespace cpu

namespace {

struct HostLayout {
  const char *name;
  size_t size;
  std::vector<size_t> offsets; // in the field order of AbiTypes
};

#define OFF(S, f) offsetof(S, f)
std::vector<HostLayout> hostLayouts() {
  return {
      {"BdlDim", sizeof(BdlDim), {OFF(BdlDim, kind), OFF(BdlDim, value)}},
      {"BdlTensorDesc",
       sizeof(BdlTensorDesc),
       {OFF(BdlTensorDesc, name), OFF(BdlTensorDesc, role), OFF(BdlTensorDesc, init),
        OFF(BdlTensorDesc, rows), OFF(BdlTensorDesc, cols), OFF(BdlTensorDesc, initA),
        OFF(BdlTensorDesc, initB), OFF(BdlTensorDesc, initASlot), OFF(BdlTensorDesc, initBSlot)}},
      {"BdlParamDesc",
       sizeof(BdlParamDesc),
       {OFF(BdlParamDesc, name), OFF(BdlParamDesc, value), OFF(BdlParamDesc, lo),
        OFF(BdlParamDesc, hi), OFF(BdlParamDesc, type), OFF(BdlParamDesc, tune),
        OFF(BdlParamDesc, derived), OFF(BdlParamDesc, numChoices), OFF(BdlParamDesc, choices),
        OFF(BdlParamDesc, range), OFF(BdlParamDesc, rangeUse)}},
      {"BdlOp",
       sizeof(BdlOp),
       {OFF(BdlOp, kind),       OFF(BdlOp, parallel),   OFF(BdlOp, a),
        OFF(BdlOp, b),          OFF(BdlOp, c),          OFF(BdlOp, transA),
        OFF(BdlOp, transB),     OFF(BdlOp, alphaSlot),  OFF(BdlOp, betaSlot),
        OFF(BdlOp, alpha),      OFF(BdlOp, beta),       OFF(BdlOp, fn),
        OFF(BdlOp, name),       OFF(BdlOp, rows),       OFF(BdlOp, cols),
        OFF(BdlOp, symbol),     OFF(BdlOp, image),      OFF(BdlOp, window),
        OFF(BdlOp, soleWriter), OFF(BdlOp, invariantB), OFF(BdlOp, numGuardLiterals),
        OFF(BdlOp, guard)}},
      {"BdlWindow",
       sizeof(BdlWindow),
       {OFF(BdlWindow, channels), OFF(BdlWindow, height), OFF(BdlWindow, width),
        OFF(BdlWindow, kernelH), OFF(BdlWindow, kernelW), OFF(BdlWindow, stride),
        OFF(BdlWindow, pad)}},
      {"BdlBlock",
       sizeof(BdlBlock),
       {OFF(BdlBlock, name), OFF(BdlBlock, steps), OFF(BdlBlock, numOps), OFF(BdlBlock, ops),
        OFF(BdlBlock, stepsFn), OFF(BdlBlock, numPrologueOps), OFF(BdlBlock, resetState),
        OFF(BdlBlock, prologueOps), OFF(BdlBlock, monitorsOnly), OFF(BdlBlock, afterWarmup)}},
      {"BdlModel",
       sizeof(BdlModel),
       {OFF(BdlModel, name),
        OFF(BdlModel, sourceFile),
        OFF(BdlModel, dataset),
        OFF(BdlModel, tensors),
        OFF(BdlModel, params),
        OFF(BdlModel, trainBlocks),
        OFF(BdlModel, evalBlocks),
        OFF(BdlModel, abiVersion),
        OFF(BdlModel, numTensors),
        OFF(BdlModel, numParams),
        OFF(BdlModel, numTrainBlocks),
        OFF(BdlModel, numEvalBlocks),
        OFF(BdlModel, inputTensor),
        OFF(BdlModel, targetTensor),
        OFF(BdlModel, predictTensor),
        OFF(BdlModel, lossTensor),
        OFF(BdlModel, epochs),
        OFF(BdlModel, batch),
        OFF(BdlModel, validation),
        OFF(BdlModel, objective),
        OFF(BdlModel, minimise),
        OFF(BdlModel, derive),
        OFF(BdlModel, ptx),
        OFF(BdlModel, ptxArch),
        OFF(BdlModel, numMonitors),
        OFF(BdlModel, monitorTensors),
        OFF(BdlModel, monitorNames),
        OFF(BdlModel, warmup),
        OFF(BdlModel, inputChannels),
        OFF(BdlModel, inputHeight),
        OFF(BdlModel, inputWidth)}},
      {"BdlGuardLiteral",
       sizeof(BdlGuardLiteral),
       {OFF(BdlGuardLiteral, slot), OFF(BdlGuardLiteral, flags)}},
      {"BdlContext",
       sizeof(BdlContext),
       {OFF(BdlContext, seed), OFF(BdlContext, example0), OFF(BdlContext, time),
        OFF(BdlContext, step), OFF(BdlContext, steps), OFF(BdlContext, block),
        OFF(BdlContext, reserved)}},
  };
}
#undef OFF

} // namespace

Error verifyDescriptorLayout(const DataLayout &dl) {
  LLVMContext ctx;
  cpu::AbiTypes t = cpu::AbiTypes::get(ctx);
  StructType *types[] = {t.dim,   t.tensor, t.param,        t.op,     t.window,
                         t.block, t.model,  t.guardLiteral, t.context};
  std::vector<HostLayout> host = hostLayouts();
  for (size_t s = 0; s < host.size(); ++s) {
    const StructLayout *sl = dl.getStructLayout(types[s]);
    const HostLayout &h = host[s];
    if (types[s]->getNumElements() != h.offsets.size())
      return createStringError(inconvertibleErrorCode(), "%s: %u LLVM fields, %zu C fields", h.name,
                               types[s]->getNumElements(), h.offsets.size());
    if (sl->getSizeInBytes() != h.size)
      return createStringError(inconvertibleErrorCode(), "%s: LLVM size %llu, C size %zu", h.name,
                               (unsigned long long)sl->getSizeInBytes(), h.size);
    for (size_t f = 0; f < h.offsets.size(); ++f)
      if (sl->getElementOffset(f) != h.offsets[f])
        return createStringError(inconvertibleErrorCode(),
                                 "%s field %zu: LLVM offset %llu, C offset %zu", h.name, f,
                                 (unsigned long long)sl->getElementOffset(f), h.offsets[f]);
  }
  return Error::success();
}

} // namespace bdl::codegen

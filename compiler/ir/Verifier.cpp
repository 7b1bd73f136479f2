//===- Verifier.cpp -------------------------------------------------------===//
#include "ir/Verifier.h"
#include "ir/ExprInfo.h"
#include "ir/Format.h"

#include <functional>
#include <map>
#include <optional>
#include <set>

namespace bdl::ir {
namespace {

std::optional<std::string> dimProblem(Dim d, const Module &m) {
  if (d.kind == Dim::Kind::Param && (d.value < 0 || d.value >= (int64_t)m.params.size()))
    return "dimension " + formatDim(d, m.params) + " names no param";
  if (d.kind == Dim::Kind::Const && d.value < 1)
    return "dimension " + std::to_string(d.value) + " is not positive";
  return std::nullopt;
}

bool validTensor(const Module &m, TensorId t) { return t >= 0 && t < (TensorId)m.tensors.size(); }

int runtimeScalars(const Module &m) { return kFirstParamSlot + (int)m.params.size(); }

/// Where an expression is evaluated, which decides the ops it may hold.
enum class Where { Kernel, Steps, Derivation };

/// The rules every expression shares: operand counts, null operands, slots
/// below `slotLimit`, and which ops may appear `where`. Kernel-only leaves
/// (Load, Local) are left to `leaf`, called on each of them in a kernel.
void checkExpr(const Expr &e, Where where, int slotLimit, const std::string &slotWhy,
               const std::function<void(std::string)> &fail,
               const std::function<void(const Expr &)> &leaf) {
  if ((int)e.operands.size() != arity(e.op))
    fail(std::string(spelling(e.op)) + " has " + std::to_string(e.operands.size()) +
         " operands, expected " + std::to_string(arity(e.op)));
  const char *place = where == Where::Kernel  ? "a kernel"
                      : where == Where::Steps ? "a step count"
                                              : "a derived param";
  switch (e.op) {
  case ExprOp::Load:
  case ExprOp::Local:
    if (where == Where::Kernel)
      leaf(e);
    else
      fail(std::string(spelling(e.op)) + " cannot appear in " + place);
    break;
  case ExprOp::Context:
    if (where != Where::Kernel)
      fail(std::string("ctx cannot appear in ") + place);
    else if (e.index != (int)ContextField::Step && e.index != (int)ContextField::Steps)
      fail("ctx field " + std::to_string(e.index) + " does not exist");
    break;
  case ExprOp::Slot:
    if (e.index < 0 || e.index >= slotLimit)
      fail("hp[" + std::to_string(e.index) + "] " + slotWhy);
    break;
  case ExprOp::Poisson:
  case ExprOp::Bernoulli:
  case ExprOp::Normal:
  case ExprOp::Wald: {
    bool allowed = e.op == ExprOp::Wald ? where == Where::Steps : where == Where::Kernel;
    if (!allowed)
      fail(std::string(spelling(e.op)) + " draws cannot appear in " + place);
    if (e.index < 0 || e.index >= kMaxDrawSites)
      fail(std::string(spelling(e.op)) + " draw site " + std::to_string(e.index) +
           " is not in [0, " + std::to_string(kMaxDrawSites) + ")");
    break;
  }
  default:
    break;
  }
  for (const ExprPtr &operand : e.operands) {
    if (!operand)
      fail(std::string(spelling(e.op)) + " has a null operand");
    else
      checkExpr(*operand, where, slotLimit, slotWhy, fail, leaf);
  }
}

std::string describeAccess(Access a) {
  return a == Access::Full ? std::string("whole") : "[" + std::string(spelling(a)) + "]";
}

class KernelVerifier {
public:
  KernelVerifier(const Module &m, const KernelOp &k) : m(m), k(k) {}

  std::vector<Problem> run() {
    for (Dim d : {k.rows, k.cols})
      if (auto p = dimProblem(d, m))
        fail(&k, "iteration space: " + *p);
    if (k.outputs.empty())
      fail(&k, "no outputs");
    if (k.kind == KernelOp::Kind::ColReduce && k.reduce != KernelOp::Reduce::Sum)
      fail(&k, "a colreduce can only sum");
    for (size_t i = 0; i < k.outputs.size(); ++i)
      output(i);
    return std::move(problems);
  }

private:
  void fail(Entity e, std::string message) { problems.push_back({e, "", std::move(message)}); }

  void output(size_t i) {
    const KernelOutput &o = k.outputs[i];
    std::string at = "output $" + std::to_string(i);
    if (!validTensor(m, o.tensor)) {
      fail(&o, at + " names tensor id " + std::to_string(o.tensor) + ", which does not exist");
    } else {
      const Tensor &t = m.tensors[o.tensor];
      auto [rows, cols] = outputShape(k, i);
      if (!(t.rows == rows) || !(t.cols == cols))
        fail(&o, at + " %" + formatName(t.name) + " is " + formatShape(t.rows, t.cols, m.params) +
                     ", but a " + spelling(k.kind) + " over " + shape(k.rows, k.cols) + " writes " +
                     shape(rows, cols));
    }
    if (isReducedOutput(k, i) && !o.stored)
      fail(&o, "the reduced " + at + " must be stored");
    if (!o.value)
      return fail(&o, at + " has no value");
    expr(*o.value, i, o, at);
  }

  void expr(const Expr &root, size_t output, const KernelOutput &o, const std::string &at) {
    std::string slotWhy =
        "does not exist (the module has " + std::to_string(runtimeScalars(m)) + " runtime scalars)";
    checkExpr(
        root, Where::Kernel, runtimeScalars(m), slotWhy,
        [&](std::string message) { fail(&o, at + ": " + message); },
        [&](const Expr &e) {
          if (e.op == ExprOp::Local) {
            if (e.index < 0 || (size_t)e.index >= output)
              fail(&o, at + ": local $" + std::to_string(e.index) + " is not an earlier output");
            return;
          }
          if (!validTensor(m, e.index)) {
            fail(&o,
                 at + ": load of tensor id " + std::to_string(e.index) + ", which does not exist");
            return;
          }
          const Tensor &t = m.tensors[e.index];
          if (!accessFits(t, e.access, k.rows, k.cols))
            fail(&o, at + ": %" + formatName(t.name) + " " + shape(t.rows, t.cols) +
                         " cannot be read " + describeAccess(e.access) + " in a kernel over " +
                         shape(k.rows, k.cols));
        });
  }

  std::string shape(Dim rows, Dim cols) const { return formatShape(rows, cols, m.params); }

  const Module &m;
  const KernelOp &k;
  std::vector<Problem> problems;
};

/// The module-wide rules: declarations, roles, GEMMs, and the order of
/// reads and writes along each schedule.
class ModuleVerifier {
public:
  ModuleVerifier(const Module &m, bool lowered) : m(m), lowered(lowered) {}

  std::vector<Problem> run() {
    declarations();
    role(m.input, Role::Input, "input");
    role(m.target, Role::Target, "target");
    if (!validTensor(m, m.predict))
      fail({}, "module has no predict tensor");
    if (m.loss != -1 && !validTensor(m, m.loss))
      fail({}, "loss names tensor id " + std::to_string(m.loss) + ", which does not exist");
    for (Problem &p : verifyDerivations(m))
      problems.push_back(std::move(p));
    schedule("train", m.trainBlocks);
    monitors(); // against what the train schedule wrote
    schedule("eval", m.evalBlocks);
    return std::move(problems);
  }

private:
  void fail(Entity e, std::string message) { problems.push_back({e, context, std::move(message)}); }

  void declarations() {
    std::set<std::string> params;
    for (const Param &p : m.params)
      if (!params.insert(p.name).second)
        fail(&p, "two params are named " + formatName(p.name));
    std::set<std::string> tensors;
    for (const Tensor &t : m.tensors) {
      if (!tensors.insert(t.name).second)
        fail(&t, "two tensors are named %" + formatName(t.name));
      for (Dim d : {t.rows, t.cols})
        if (auto p = dimProblem(d, m))
          fail(&t, "tensor %" + formatName(t.name) + ": " + *p);
      initSlots(t);
    }
  }

  void initSlots(const Tensor &t) {
    int arguments = t.init == InitKind::Const                                   ? 1
                    : t.init == InitKind::Uniform || t.init == InitKind::Normal ? 2
                                                                                : 0;
    int32_t slots[] = {t.initASlot, t.initBSlot};
    for (int a = 0; a < 2; ++a) {
      if (slots[a] == -1)
        continue;
      std::string which = a == 0 ? "first" : "second";
      if (a >= arguments)
        fail(&t, "tensor %" + formatName(t.name) + ": a " + spelling(t.init) +
                     " initialiser has no " + which + " argument to read from hp[" +
                     std::to_string(slots[a]) + "]");
      else if (slots[a] < 0 || slots[a] >= runtimeScalars(m))
        fail(&t, "tensor %" + formatName(t.name) + ": the initialiser's " + which +
                     " argument reads hp[" + std::to_string(slots[a]) + "], which does not exist");
    }
  }

  void monitors() {
    std::set<std::string> names;
    for (const Monitor &mon : m.monitors) {
      if (!names.insert(mon.name).second)
        fail({}, "two monitors are named " + formatName(mon.name));
      if (!validTensor(m, mon.tensor)) {
        fail({}, "monitor " + formatName(mon.name) + " names tensor id " +
                     std::to_string(mon.tensor) + ", which does not exist");
        continue;
      }
      const Tensor &t = m.tensors[mon.tensor];
      if (!t.rows.isOne() || !t.cols.isOne())
        fail({}, "monitor " + formatName(mon.name) + " reads %" + formatName(t.name) + " " +
                     shape(t) + ", not a [1, 1] scalar");
      if (t.role == Role::Temp && !written.count(mon.tensor))
        fail({}, "monitor " + formatName(mon.name) + " reads %" + formatName(t.name) +
                     ", which the train schedule never writes");
    }
  }

  void role(TensorId t, Role r, const char *what) {
    if (!validTensor(m, t) || m.tensors[t].role != r)
      fail({}, std::string("module's ") + what + " is not a tensor of role " + spelling(r));
  }

  void schedule(const char *name, const std::vector<Block> &blocks) {
    written.clear();
    rewritten.clear();
    multiStep = nullptr;
    for (const Block &b : blocks) {
      if (b.steps != 1 || b.stepsExpr)
        multiStep = &b;
      context = std::string(name) + " block " + formatName(b.name);
      if (b.stepsExpr) {
        for (Problem &p : verifyStepsExpr(m, *b.stepsExpr))
          fail(&b, std::move(p.message));
      } else if (b.steps < 1) {
        fail(&b, "steps must be positive");
      }
      for (const auto *ops : {&b.prologue, &b.ops})
        for (const Op &op : *ops) {
          if (auto *g = std::get_if<GemmOp>(&op))
            gemm(*g);
          else if (auto *k = std::get_if<KernelOp>(&op))
            kernel(*k);
          else if (auto *r = std::get_if<RotateOp>(&op))
            rotate(*r);
          else if (auto *d = std::get_if<GradOp>(&op))
            grad(*d);
          else if (auto *i = std::get_if<ImageOp>(&op))
            image(*i);
          else
            replay(std::get<ReplayOp>(op));
        }
    }
    context.clear();
  }

  void rotate(const RotateOp &r) {
    if (r.count < 2)
      return fail(&r, "rotate needs at least 2 tensors, not " + std::to_string(r.count));
    if (!validTensor(m, r.first) || !validTensor(m, r.first + r.count - 1))
      return fail(&r, "rotate of tensor ids " + std::to_string(r.first) + ".." +
                          std::to_string((int64_t)r.first + r.count - 1) +
                          ", which do not all exist");
    const Tensor &first = m.tensors[r.first];
    for (int32_t j = 0; j < r.count; ++j) {
      const Tensor &t = m.tensors[r.first + j];
      if (t.role != Role::State)
        fail(&r, "rotate of %" + formatName(t.name) + ", which is not a state tensor");
      if (!(t.rows == first.rows) || !(t.cols == first.cols))
        fail(&r, "rotate of %" + formatName(t.name) + " " + formatShape(t.rows, t.cols, m.params) +
                     " with %" + formatName(first.name) + " " +
                     formatShape(first.rows, first.cols, m.params) + ": shapes differ");
      write(&r, r.first + j);
    }
    guard(&r, r.guard);
  }

  /// A guard reads params only: the step and epoch slots change while a
  /// run goes on, and a skipped history would then be stale when read.
  void guard(Entity at, const Guard &g) {
    for (const std::vector<GuardLiteral> &term : g.terms) {
      if (term.empty())
        fail(at, "a guard's term has no condition");
      for (const GuardLiteral &l : term)
        if (l.slot < kFirstParamSlot || l.slot >= runtimeScalars(m))
          fail(at, "guard reads hp[" + std::to_string(l.slot) + "], which is not a param's slot");
    }
  }

  void image(const ImageOp &i) {
    std::string what = spelling(i.kind);
    for (TensorId t : {i.in, i.out})
      if (!validTensor(m, t))
        return fail(&i, what + " names tensor id " + std::to_string(t) + ", which does not exist");
    bool needsAux = i.kind == ImageOp::Kind::MaxPoolAdjoint;
    if (needsAux != (i.aux >= 0) || (needsAux && !validTensor(m, i.aux)))
      return fail(&i, what + (needsAux ? " needs" : " takes no") + " second operand");
    read(&i, i.in);
    if (needsAux)
      read(&i, i.aux);
    write(&i, i.out);
    const Tensor &in = m.tensors[i.in], &out = m.tensors[i.out];
    auto expect = [&](const Tensor &t, Dim rows, Dim cols) {
      if (!(t.rows == rows) || !(t.cols == cols))
        fail(&i, what + " of %" + formatName(t.name) + " " + shape(t) + ", which must be " +
                     formatShape(rows, cols, m.params));
    };
    if (i.kind == ImageOp::Kind::Reshape) {
      // The same elements in the same order: equal sizes, per example or whole.
      auto size = [](const Tensor &t) -> std::optional<std::pair<bool, int64_t>> {
        if (t.cols.kind != Dim::Kind::Const || t.rows.kind == Dim::Kind::Param)
          return std::nullopt;
        return std::pair{t.rows.kind == Dim::Kind::Batch, t.rows.value * t.cols.value};
      };
      auto a = size(in), b = size(out);
      if (!a || !b || *a != *b)
        fail(&i, "reshape of %" + formatName(in.name) + " " + shape(in) + " into %" +
                     formatName(out.name) + " " + shape(out) + ": the sizes differ");
      return;
    }
    const Window &w = i.window;
    if (!w.fits())
      return fail(&i, what + " window: a " + std::to_string(w.kernelH) + "x" +
                          std::to_string(w.kernelW) + " kernel with padding " +
                          std::to_string(w.pad) + " does not fit a " + std::to_string(w.height) +
                          "x" + std::to_string(w.width) + " image");
    Dim pixels = Dim::batch((int64_t)w.height * w.width), channels = Dim::constant(w.channels);
    Dim positions = Dim::batch((int64_t)w.outHeight() * w.outWidth());
    Dim patch = Dim::constant((int64_t)w.channels * w.kernelH * w.kernelW);
    switch (i.kind) {
    case ImageOp::Kind::Im2col:
      expect(in, pixels, channels);
      return expect(out, positions, patch);
    case ImageOp::Kind::Col2im:
      expect(in, positions, patch);
      return expect(out, pixels, channels);
    case ImageOp::Kind::MaxPool:
      expect(in, pixels, channels);
      return expect(out, positions, channels);
    case ImageOp::Kind::MaxPoolAdjoint:
      expect(in, pixels, channels);
      expect(m.tensors[i.aux], positions, channels);
      return expect(out, pixels, channels);
    case ImageOp::Kind::Reshape:
      return;
    }
  }

  void replay(const ReplayOp &r) {
    if (!validTensor(m, r.tensor))
      return fail(&r, "replay of tensor id " + std::to_string(r.tensor) + ", which does not exist");
    read(&r, r.tensor);
    write(&r, r.tensor);
  }

  void grad(const GradOp &d) {
    for (TensorId t : {d.loss, d.weight, d.out})
      if (!validTensor(m, t))
        return fail(&d, "grad names tensor id " + std::to_string(t) + ", which does not exist");
    if (lowered)
      fail(&d, "grad %" + formatName(m.tensors[d.out].name) +
                   " was not differentiated (the differentiate pass did not run)");
    // The reverse sweep runs once through the ops before it: no time steps
    // to go back through, and one value per tensor.
    if (multiStep)
      fail(&d, "grad through block " + formatName(multiStep->name) +
                   ", which runs more than one step (differentiating through time is not "
                   "supported)");
    if (!rewritten.empty())
      fail(&d, "grad after a second write of %" + formatName(m.tensors[*rewritten.begin()].name) +
                   " (the reverse sweep needs one value per tensor)");
    read(&d, d.loss);
    write(&d, d.out);
    const Tensor &L = m.tensors[d.loss], &W = m.tensors[d.weight], &G = m.tensors[d.out];
    if (!(L.cols.isOne() && (L.rows.isOne() || L.rows == Dim::batch())))
      fail(&d, "grad of %" + formatName(L.name) + " " + shape(L) +
                   ": the loss must be [batch, 1] or [1, 1]");
    if (W.role != Role::Weight)
      fail(&d, "grad with respect to %" + formatName(W.name) + ", of role " + spelling(W.role) +
                   ", not a weight");
    if (G.role != Role::Temp)
      fail(&d, "grad into %" + formatName(G.name) + ", of role " + spelling(G.role) +
                   ", not a temporary");
    if (!(G.rows == W.rows) || !(G.cols == W.cols))
      fail(&d, "grad %" + formatName(G.name) + " " + shape(G) + " of weight %" +
                   formatName(W.name) + " " + shape(W) + ": shapes differ");
  }

  std::string shape(const Tensor &t) const { return formatShape(t.rows, t.cols, m.params); }

  void read(Entity at, TensorId t) {
    if (validTensor(m, t) && m.tensors[t].role == Role::Temp && !written.count(t))
      fail(at, "reads %" + formatName(m.tensors[t].name) + " before anything writes it");
  }

  void write(Entity at, TensorId t) {
    if (!validTensor(m, t))
      return;
    Role r = m.tensors[t].role;
    if (r == Role::Input || r == Role::Target || r == Role::Fixed)
      fail(at, "writes read-only %" + formatName(m.tensors[t].name));
    if (!written.insert(t).second)
      rewritten.insert(t);
  }

  void gemm(const GemmOp &g) {
    for (TensorId t : {g.a, g.b, g.c})
      if (!validTensor(m, t))
        return fail(&g, "gemm names tensor id " + std::to_string(t) + ", which does not exist");
    read(&g, g.a);
    read(&g, g.b);
    if (g.readsC())
      read(&g, g.c);
    write(&g, g.c);
    const Tensor &A = m.tensors[g.a], &B = m.tensors[g.b], &C = m.tensors[g.c];
    Dim aRows = g.transA ? A.cols : A.rows, aCols = g.transA ? A.rows : A.cols;
    Dim bRows = g.transB ? B.cols : B.rows, bCols = g.transB ? B.rows : B.cols;
    if (!(aCols == bRows) || !(C.rows == aRows) || !(C.cols == bCols))
      fail(&g, "gemm %" + formatName(C.name) +
                   " has mismatched shapes: " + formatShape(aRows, aCols, m.params) + " x " +
                   formatShape(bRows, bCols, m.params) + " into " +
                   formatShape(C.rows, C.cols, m.params));
    if (g.alphaSlot < -1 || g.alphaSlot >= runtimeScalars(m))
      fail(&g, "gemm alpha reads hp[" + std::to_string(g.alphaSlot) + "], which does not exist");
    if (g.betaSlot < -1 || g.betaSlot >= runtimeScalars(m))
      fail(&g, "gemm beta reads hp[" + std::to_string(g.betaSlot) + "], which does not exist");
    // beta 0 means C is not read at all; a slot scaling it would be lost.
    if (g.betaSlot >= 0 && g.beta == 0)
      fail(&g,
           "gemm beta reads hp[" + std::to_string(g.betaSlot) + "] but its constant factor is 0");
    guard(&g, g.guard);
  }

  void kernel(const KernelOp &k) {
    std::string outer = context;
    context += ", kernel @" + formatName(k.name);
    std::vector<Problem> own = verifyKernel(m, k);
    for (Problem &p : own)
      fail(p.entity, std::move(p.message));
    if (own.empty()) {
      // Outputs are computed in order: a load sees the outputs stored before it.
      for (const KernelOutput &o : k.outputs) {
        forEachLoad(*o.value, [&](const Expr &e) { read(&o, e.index); });
        if (o.stored)
          write(&o, o.tensor);
      }
    }
    context = outer;
  }

  const Module &m;
  bool lowered;
  std::string context;
  std::set<TensorId> written;
  std::set<TensorId> rewritten;     // written more than once so far
  const Block *multiStep = nullptr; // the last block so far of more than one step
  std::vector<Problem> problems;
};

} // namespace

std::vector<Problem> verifyKernel(const Module &m, const KernelOp &k) {
  return KernelVerifier(m, k).run();
}

std::vector<Problem> verifyStepsExpr(const Module &m, const Expr &steps) {
  std::vector<Problem> problems;
  checkExpr(
      steps, Where::Steps, runtimeScalars(m),
      "does not exist (the module has " + std::to_string(runtimeScalars(m)) + " runtime scalars)",
      [&](std::string message) {
        problems.push_back({{}, "", "step count: " + message});
      },
      [](const Expr &) {});
  return problems;
}

std::vector<Problem> verifyDerivations(const Module &m) {
  std::vector<Problem> problems;
  for (size_t i = 0; i < m.params.size(); ++i) {
    const Param &p = m.params[i];
    if (!p.derivation)
      continue;
    int slot = kFirstParamSlot + (int)i;
    checkExpr(
        *p.derivation, Where::Derivation, slot,
        "is not an earlier slot than the param's own hp[" + std::to_string(slot) + "]",
        [&](std::string message) {
          problems.push_back({&p, "", "param " + formatName(p.name) + ": " + message});
        },
        [](const Expr &) {});
  }
  return problems;
}

std::vector<Problem> verifyModule(const Module &m, bool lowered) {
  return ModuleVerifier(m, lowered).run();
}

bool verify(const Module &m, llvm::raw_ostream &errs, bool lowered) {
  std::vector<Problem> problems = verifyModule(m, lowered);
  for (const Problem &p : problems)
    errs << "ir verifier: " << (p.context.empty() ? "" : p.context + ": ") << p.message << "\n";
  return problems.empty();
}

} // namespace bdl::ir

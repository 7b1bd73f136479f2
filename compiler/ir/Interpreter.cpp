//===- Interpreter.cpp ----------------------------------------------------===//
#include "ir/Interpreter.h"

#include "ir/ExprInfo.h"

#include "bdl/image.h"

#include <cassert>
#include <limits>

namespace bdl::ir {

Interpreter::Interpreter(const Module &m, int64_t batch) : m(m), batch(batch) {
  hp.assign(kFirstParamSlot + m.params.size(), 0);
  hp[kBatchSlot] = (double)batch;
  hp[kInvBatchSlot] = 1.0 / (double)batch;
  for (size_t i = 0; i < m.params.size(); ++i) {
    const Param &p = m.params[i];
    // Derivations read earlier slots only (the verifier's rule).
    hp[kFirstParamSlot + i] = p.derivation ? eval(*p.derivation, 0, 0, {}) : p.value;
  }
  values.resize(m.tensors.size());
  for (size_t t = 0; t < m.tensors.size(); ++t)
    values[t].assign(rows((TensorId)t) * cols((TensorId)t), 0.0);
}

int64_t Interpreter::extent(Dim d) const {
  switch (d.kind) {
  case Dim::Kind::Const:
    return d.value;
  case Dim::Kind::Batch:
    return batch * d.value;
  case Dim::Kind::Param:
    return (int64_t)hp[kFirstParamSlot + d.value];
  }
  return 1;
}

std::string Interpreter::run(const std::vector<Block> &blocks) {
  for (const Block &b : blocks) {
    if (b.steps != 1 || b.stepsExpr)
      return "block " + b.name + " runs more than one step";
    for (const auto *ops : {&b.prologue, &b.ops})
      for (const Op &op : *ops)
        if (std::string problem = runOp(op); !problem.empty())
          return "block " + b.name + ": " + problem;
  }
  return "";
}

std::string Interpreter::runOp(const Op &op) {
  if (auto *g = std::get_if<GemmOp>(&op)) {
    gemm(*g);
    return "";
  }
  if (auto *k = std::get_if<KernelOp>(&op)) {
    for (const KernelOutput &o : k->outputs)
      if (containsDraw(*o.value))
        return "kernel @" + k->name + " draws random numbers";
    kernel(*k);
    return "";
  }
  if (auto *i = std::get_if<ImageOp>(&op)) {
    image(*i);
    return "";
  }
  if (std::holds_alternative<GradOp>(op))
    return "a grad op (run the differentiate pass first)";
  return "a rotation or replay (dynamics)";
}

static BdlWindow toAbi(const Window &w) {
  return {w.channels, w.height, w.width, w.kernelH, w.kernelW, w.stride, w.pad};
}

void Interpreter::image(const ImageOp &i) {
  const std::vector<double> &in = values[i.in];
  std::vector<double> &out = values[i.out];
  BdlWindow w = toAbi(i.window);
  switch (i.kind) {
  case ImageOp::Kind::Im2col:
    return image::im2col(w, 0, batch, in.data(), out.data());
  case ImageOp::Kind::Col2im:
    return image::col2im(w, 0, batch, in.data(), out.data());
  case ImageOp::Kind::MaxPool:
    return image::maxPool(w, 0, batch, in.data(), out.data());
  case ImageOp::Kind::MaxPoolAdjoint:
    return image::maxPoolAdjoint(w, 0, batch, in.data(), values[i.aux].data(), out.data());
  case ImageOp::Kind::Reshape:
    out = in;
    return;
  }
}

void Interpreter::gemm(const GemmOp &g) {
  int64_t aRows = rows(g.a), aCols = cols(g.a), bRows = rows(g.b), bCols = cols(g.b);
  int64_t M = g.transA ? aCols : aRows, K = g.transA ? aRows : aCols;
  int64_t N = g.transB ? bRows : bCols;
  double alpha = g.alpha * (g.alphaSlot >= 0 ? hp[g.alphaSlot] : 1.0);
  double beta = g.beta * (g.betaSlot >= 0 ? hp[g.betaSlot] : 1.0);
  const std::vector<double> &A = values[g.a], &B = values[g.b];
  std::vector<double> C(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double sum = 0;
      for (int64_t k = 0; k < K; ++k)
        sum += (g.transA ? A[k * aCols + i] : A[i * aCols + k]) *
               (g.transB ? B[j * bCols + k] : B[k * bCols + j]);
      C[i * N + j] = alpha * sum + (g.readsC() ? beta * values[g.c][i * N + j] : 0.0);
    }
  values[g.c] = std::move(C);
}

void Interpreter::kernel(const KernelOp &k) {
  int64_t R = extent(k.rows), C = extent(k.cols);
  size_t n = k.outputs.size();
  bool reduces = k.kind != KernelOp::Kind::Map;
  size_t mapped = reduces ? n - 1 : n;
  std::vector<double> locals(n, 0.0);
  // Element-wise outputs are written as computed; a later output reads an
  // earlier one as a local, never as a load (the verifier's rule).
  auto elementwise = [&](int64_t r, int64_t c) {
    for (size_t o = 0; o < mapped; ++o) {
      locals[o] = eval(*k.outputs[o].value, r, c, locals);
      if (k.outputs[o].stored)
        values[k.outputs[o].tensor][r * C + c] = locals[o];
    }
  };
  if (!reduces) {
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c)
        elementwise(r, c);
    return;
  }
  const KernelOutput &red = k.outputs.back();
  bool isMax = k.reduce == KernelOp::Reduce::Max;
  double start = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
  auto combine = [&](double acc, double v) { return isMax ? std::fmax(acc, v) : acc + v; };
  std::vector<double> out;
  if (k.kind == KernelOp::Kind::RowReduce) {
    out.assign(R, start);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) {
        elementwise(r, c);
        out[r] = combine(out[r], eval(*red.value, r, c, locals));
      }
  } else {
    out.assign(C, start);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) {
        elementwise(r, c);
        out[c] = combine(out[c], eval(*red.value, r, c, locals));
      }
  }
  values[red.tensor] = std::move(out);
}

double Interpreter::eval(const Expr &e, int64_t r, int64_t c,
                         const std::vector<double> &locals) const {
  switch (e.op) {
  case ExprOp::Const:
    return e.value;
  case ExprOp::Slot:
    return hp[e.index];
  case ExprOp::Local:
    return locals[e.index];
  case ExprOp::Context: // one step: step 0 of 1
    return static_cast<ContextField>(e.index) == ContextField::Steps ? 1.0 : 0.0;
  case ExprOp::Load: {
    const std::vector<double> &t = values[e.index];
    int64_t tc = cols(e.index);
    switch (e.access) {
    case Access::Full:
      return t[r * tc + c];
    case Access::Row:
      return t[r];
    case Access::Col:
      return t[c];
    case Access::Scalar:
      return t[0];
    }
    return 0;
  }
  case ExprOp::Select:
    return eval(*e.operands[0], r, c, locals) != 0 ? eval(*e.operands[1], r, c, locals)
                                                   : eval(*e.operands[2], r, c, locals);
  default:
    break;
  }
  assert(!isDraw(e.op) && "the caller refuses draws");
  double a = eval(*e.operands[0], r, c, locals);
  double b = e.operands.size() > 1 ? eval(*e.operands[1], r, c, locals) : 0.0;
  return apply<double>(e.op, a, b);
}

} // namespace bdl::ir

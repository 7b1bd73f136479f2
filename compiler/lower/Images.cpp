//===- Images.cpp - Convolution, pooling, batch normalisation, flatten -----===//
//
// Images are channel-last, [batch*H*W, C] (ir::Window), so that:
//  - conv2d is an im2col of the image into [batch*OH*OW, C*KH*KW] patches
//    and one GEMM with the kernel [out, C*KH*KW]: BLAS does the arithmetic,
//    and the result is again channel-last;
//  - a per-channel value (a bias, batchnorm's scale and shift) is a column
//    broadcast, and a per-channel statistic a column reduction;
//  - flatten is a reshape of the same bytes.
// batchnorm normalises by the batch's statistics in training and by the
// running ones, which training updates, in evaluation (evaluationForward).
//
//===----------------------------------------------------------------------===//
#include "lower/Lowerer.h"

namespace bdl::lowering {

std::optional<Value> Lowerer::lowerImageCall(const ast::CallExpr *call) {
  const std::string &f = call->callee;
  const sema::Builtin *builtin = sema::findBuiltin(f);
  if (!builtin || builtin->form != sema::Builtin::Form::Image)
    return std::nullopt;
  if (f == "batchnorm")
    return lowerBatchNorm(call);
  ir::TensorId x = materialize(lowerExpr(call->args[0].value.get()), f + ".in");
  auto [rows, cols] = storage(model.shapeOf(call));
  auto imageOp = [&](ir::ImageOp::Kind kind, ir::TensorId in, ir::TensorId out) {
    ir::ImageOp op;
    op.kind = kind, op.in = in, op.out = out;
    if (kind != ir::ImageOp::Kind::Reshape)
      op.window = model.windows.find(call)->second;
    block->ops.push_back(op);
  };
  if (f == "conv2d") {
    const ir::Window &w = model.windows.find(call)->second;
    ir::TensorId kernel = tensorOf(model.symbolOf(cast<ast::NameExpr>(call->args[1].value.get())));
    ir::TensorId patches = temp("conv2d.patches", Dim::batch((int64_t)w.outHeight() * w.outWidth()),
                                Dim::constant((int64_t)w.channels * w.kernelH * w.kernelW));
    imageOp(ir::ImageOp::Kind::Im2col, x, patches);
    ir::TensorId out = temp("conv2d", rows, cols);
    anonymous.insert(out);
    ir::GemmOp g;
    g.a = patches, g.b = kernel, g.transB = true, g.c = out;
    block->ops.push_back(g);
    return load(out);
  }
  ir::TensorId out = temp(f, rows, cols);
  anonymous.insert(out);
  imageOp(f == "flatten" ? ir::ImageOp::Kind::Reshape : ir::ImageOp::Kind::MaxPool, x, out);
  return load(out);
}

Value Lowerer::lowerBatchNorm(const ast::CallExpr *call) {
  auto arg = [&](size_t i) { return lowerExpr(call->args[i].value.get()); };
  auto keyed = [&](const char *key, float fallback) {
    for (const ast::Arg &a : call->args)
      if (a.key == key)
        return lowerExpr(a.value.get()); // a constant (sema): folded
    return constant(fallback);
  };
  // The scale's name names the statistics, when it has one.
  std::string base = "batchnorm";
  if (auto *n = dyn_cast<ast::NameExpr>(call->args[1].value.get()))
    base = n->name;
  ir::TensorId x = materialize(arg(0), base + ".in");
  Dim rows = m.tensors[x].rows, cols = m.tensors[x].cols;
  // 1 / (the values per channel in the batch): 1/batch / (pixels per example).
  auto perCount = [&] {
    return binary(ExprOp::Mul, slot(ir::kInvBatchSlot), constant(1.0f / (float)rows.value));
  };
  BatchNormStatistics s;
  s.mean = colSum(base + ".mean", binary(ExprOp::Mul, load(x), perCount()));
  auto centred = [&] { return binary(ExprOp::Sub, load(x), load(s.mean)); };
  s.var = colSum(base + ".var",
                 binary(ExprOp::Mul, binary(ExprOp::Mul, centred(), centred()), perCount()));
  // Running statistics as PyTorch keeps them: the variance unbiased.
  ir::Tensor running;
  running.role = ir::Role::State, running.rows = Dim::constant(1), running.cols = cols;
  running.name = uniqueName(base + ".running_mean");
  s.runningMean = m.addTensor(running);
  running.name = uniqueName(base + ".running_var");
  running.init = ir::InitKind::Const, running.initA = 1;
  s.runningVar = m.addTensor(running);
  auto blend = [&](ir::TensorId state, Value batchValue) {
    map(m.tensors[state].name, state,
        binary(ExprOp::Add,
               binary(ExprOp::Mul, binary(ExprOp::Sub, constant(1), keyed("momentum", 0.1f)),
                      load(state)),
               binary(ExprOp::Mul, keyed("momentum", 0.1f), std::move(batchValue))));
  };
  blend(s.runningMean, load(s.mean));
  // n / (n - 1) with n = batch * pixels: hp[batch] * pixels / (hp[batch] * pixels - 1).
  Value n = binary(ExprOp::Mul, slot(ir::kBatchSlot), constant((float)rows.value));
  Value n2 = binary(ExprOp::Mul, slot(ir::kBatchSlot), constant((float)rows.value));
  Value unbias =
      binary(ExprOp::Div, std::move(n),
             binary(ExprOp::Max, binary(ExprOp::Sub, std::move(n2), constant(1)), constant(1)));
  blend(s.runningVar, binary(ExprOp::Mul, load(s.var), std::move(unbias)));
  batchNorms.push_back(s);
  // 1/sqrt(var + eps) per channel and the normalised x, stored: their
  // adjoints then read them instead of recomputing both at every element.
  ir::TensorId rstd = materialize(
      binary(ExprOp::Div, constant(1),
             unary(ExprOp::Sqrt, binary(ExprOp::Add, load(s.var), keyed("eps", 1e-5f)))),
      base + ".rstd");
  ir::TensorId normalised = materialize(binary(ExprOp::Mul, centred(), load(rstd)), base + ".xhat");
  return binary(ExprOp::Add, binary(ExprOp::Mul, load(normalised), arg(1)), arg(2));
}

ir::Block Lowerer::evaluationForward(const ir::Block &forward) {
  ir::Block eval = cloneBlock(forward);
  std::map<ir::TensorId, ir::TensorId> fromRunning; // batch statistic -> its running one
  std::set<ir::TensorId> runningStats;
  for (const BatchNormStatistics &s : batchNorms) {
    fromRunning[s.mean] = s.runningMean, fromRunning[s.var] = s.runningVar;
    runningStats.insert(s.runningMean), runningStats.insert(s.runningVar);
  }
  std::vector<ir::Op> ops;
  for (ir::Op &op : eval.ops) {
    auto *k = std::get_if<ir::KernelOp>(&op);
    if (k && k->outputs.size() == 1 && runningStats.count(k->outputs[0].tensor))
      continue; // only training updates them
    if (k && k->outputs.size() == 1 && fromRunning.count(k->outputs[0].tensor)) {
      ir::TensorId stat = k->outputs[0].tensor;
      ir::KernelOp copy;
      copy.kind = ir::KernelOp::Kind::Map;
      copy.name = m.tensors[stat].name;
      copy.rows = m.tensors[stat].rows, copy.cols = m.tensors[stat].cols;
      copy.outputs.push_back({stat, Expr::load(fromRunning[stat], ir::Access::Full), true});
      ops.push_back(std::move(copy));
      continue;
    }
    ops.push_back(std::move(op));
  }
  eval.ops = std::move(ops);
  return eval;
}

} // namespace bdl::lowering

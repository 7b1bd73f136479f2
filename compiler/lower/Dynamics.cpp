//===- Dynamics.cpp - Populations, phases and records to blocks -----------===//
//
// Every population member is a State tensor [batch, n]; one that is read
// steps later keeps its older values in the tensors that follow it (a
// history), which a RotateOp moves back one step right before the member is
// computed. A phase becomes a block whose step runs every population's
// statements in order (with the phase's overrides) and then its records; a
// record's window is an accumulator that each step either restarts, adds to
// or leaves alone, depending on the step's place in the phase.
//
//===----------------------------------------------------------------------===//
#include "lower/Lowerer.h"

#include <algorithm>
#include <functional>

namespace bdl::lowering {

namespace {

ExprPtr select(ExprPtr c, ExprPtr a, ExprPtr b) {
  auto e = std::make_unique<Expr>();
  e->op = ExprOp::Select;
  e->operands.push_back(std::move(c));
  e->operands.push_back(std::move(a));
  e->operands.push_back(std::move(b));
  return e;
}

ExprPtr context(ir::ContextField f) {
  auto e = std::make_unique<Expr>();
  e->op = ExprOp::Context;
  e->index = (int32_t)f;
  return e;
}

ExprPtr draw(ExprOp op, int site, std::vector<ExprPtr> operands) {
  auto e = std::make_unique<Expr>();
  e->op = op;
  e->index = site;
  e->operands = std::move(operands);
  return e;
}

/// The value of an expression of constants, if it is one.
std::optional<float> constantValue(const Expr &e) {
  if (e.op == ExprOp::Const)
    return e.value;
  if (e.operands.size() == 1 && e.op == ExprOp::Neg)
    if (auto v = constantValue(*e.operands[0]))
      return -*v;
  if (e.operands.size() != 2)
    return std::nullopt;
  auto l = constantValue(*e.operands[0]), r = constantValue(*e.operands[1]);
  if (!l || !r)
    return std::nullopt;
  switch (e.op) {
  case ExprOp::Add:
    return *l + *r;
  case ExprOp::Sub:
    return *l - *r;
  case ExprOp::Mul:
    return *l * *r;
  case ExprOp::Div:
    return *r == 0 ? std::nullopt : std::optional<float>(*l / *r);
  default:
    return std::nullopt;
  }
}

} // namespace

//===-- Params ----------------------------------------------------------------===//

void Lowerer::lowerDerivedParams() {
  for (auto [index, expr] : model.derivations)
    m.params[index].derivation = std::shared_ptr<const Expr>(scalarExpr(expr).release());
}

ExprPtr Lowerer::scalarExpr(const ast::Expr *e) { return std::move(lowerExpr(e).expr); }

//===-- Members ---------------------------------------------------------------===//

void Lowerer::declareMembers() {
  memberIds.resize(model.populations.size());
  for (size_t p = 0; p < model.populations.size(); ++p) {
    const sema::CheckedPopulation &pop = model.populations[p];
    for (const sema::CheckedMember &member : pop.members) {
      std::string name = pop.decl->name.name + "." + member.name;
      ir::TensorId first = -1;
      for (int lag = 0; lag < member.history; ++lag) {
        ir::Tensor t;
        t.name = lag == 0 ? name : name + "@" + std::to_string(lag);
        t.role = ir::Role::State;
        t.rows = Dim::batch(), t.cols = pop.size;
        if (member.isState && member.init != 0)
          t.init = ir::InitKind::Const, t.initA = (float)member.init;
        ir::TensorId id = m.addTensor(t);
        if (lag == 0)
          first = id;
      }
      memberIds[p].push_back(first);
    }
  }
  for (const sema::CheckedRecord &r : model.records) {
    auto it = model.globals.find(r.stmt->name.name);
    auto [rows, cols] = storage(it->second.shape);
    // State: a window accumulates across the steps of its phase.
    recordIds.push_back(temp(r.stmt->name.name, rows, cols, ir::Role::State, true));
  }
}

ir::TensorId Lowerer::memberBuffer(int population, int member, int lag) {
  if (rotatedMember == std::pair{population, member})
    ++lag; // the history moved back before this update
  const sema::CheckedMember &mem = model.populations[population].members[member];
  lag = std::min(lag, mem.history - 1); // sema sized every history; this is a guard
  return memberIds[population][member] + lag;
}

Value Lowerer::lowerMemberRead(const ast::Expr *use) {
  const sema::MemberRead &r = model.memberReads.find(use)->second;
  if (substitute && substitutedMember == std::pair{r.population, r.member} && r.lag == 0)
    return {substitute->expr->clone(), substitute->rows, substitute->cols};
  return load(memberBuffer(r.population, r.member, r.lag));
}

int Lowerer::drawSite(const ast::CallExpr *call) {
  auto [it, inserted] = drawSites.try_emplace(call, (int)drawSites.size() + 1);
  return it->second;
}

std::optional<Value> Lowerer::lowerDynamicsCall(const ast::CallExpr *call) {
  const std::string &f = call->callee;
  auto arg = [&](size_t i) { return lowerExpr(call->args[i].value.get()); };
  if (f == "prev")
    return lowerMemberRead(call);
  if (f == "if") {
    Value c = arg(0), a = arg(1), b = arg(2);
    Dim rows = join(c.rows, join(a.rows, b.rows)), cols = join(c.cols, join(a.cols, b.cols));
    return Value{select(std::move(c.expr), std::move(a.expr), std::move(b.expr)), rows, cols};
  }
  if (f == "poisson" || f == "bernoulli") {
    Value v = arg(0);
    std::vector<ExprPtr> ops;
    ops.push_back(std::move(v.expr));
    return Value{
        draw(f == "poisson" ? ExprOp::Poisson : ExprOp::Bernoulli, drawSite(call), std::move(ops)),
        v.rows, v.cols};
  }
  if (f == "wald") {
    std::vector<ExprPtr> ops;
    ops.push_back(arg(0).expr);
    ops.push_back(arg(1).expr);
    return Value{draw(ExprOp::Wald, drawSite(call), std::move(ops)), Dim::constant(1),
                 Dim::constant(1)};
  }
  if (f == "iota")
    return constant((float)std::max(iotaIndex, 0));
  if (f == "mean") {
    auto it = windowIds.find(call);
    return it == windowIds.end() ? constant(0) : load(it->second);
  }
  if (f == "fir") {
    const ast::Expr *x = call->args[0].value.get();
    const sema::MemberRead &r = model.memberReads.find(x)->second;
    const sema::Shape &taps = model.shapeOf(call->args[1].value.get());
    int n = (int)taps.dims[0].value;
    std::optional<Value> sum;
    for (int j = 0; j < n; ++j) {
      Value term = binary(ExprOp::Mul, firTap(call, j),
                          load(memberBuffer(r.population, r.member, r.lag + j)));
      sum = sum ? binary(ExprOp::Add, std::move(*sum), std::move(term)) : std::move(term);
    }
    return std::move(*sum);
  }
  return std::nullopt;
}

Value Lowerer::firTap(const ast::CallExpr *fir, int j) {
  int saved = iotaIndex;
  iotaIndex = j;
  Value tap = lowerExpr(fir->args[1].value.get());
  iotaIndex = saved;
  return tap;
}

//===-- Products of spike trains ------------------------------------------------===//

std::optional<Lowerer::SpikeProduct> Lowerer::matchSpikeProduct(const ast::BinaryExpr *b) {
  if (b->op != ast::BinaryOp::MatMul)
    return std::nullopt;
  auto *w = dyn_cast<ast::NameExpr>(b->lhs.get());
  auto readOf = [&](const ast::Expr *e) -> const sema::MemberRead * {
    auto it = model.memberReads.find(e);
    return it == model.memberReads.end() ? nullptr : &it->second;
  };
  const sema::MemberRead *read = readOf(b->rhs.get());
  if (!w || !read || model.symbolOf(w).kind != sema::Symbol::Kind::Tensor)
    return std::nullopt;
  const sema::CheckedMember &filtered = model.populations[read->population].members[read->member];
  if (!filtered.update || filtered.update->kind != ast::PopulationStmt::Kind::Value)
    return std::nullopt;
  for (const sema::CheckedPhase &ph : model.phases)
    if (ph.overrides.count({read->population, read->member}))
      return std::nullopt;
  SpikeProduct sp;
  sp.weight = tensorIds[model.symbolOf(w).index];
  sp.readLag = read->lag;
  const ast::Expr *value = filtered.update->value.get();
  const ast::Expr *plain = nullptr;
  if (auto *c = dyn_cast<ast::CallExpr>(value); c && c->callee == "if") {
    const sema::Shape &flag = model.shapeOf(c->args[0].value.get());
    if (!flag.isScalar() || flag.batched)
      return std::nullopt;
    sp.flag = c->args[0].value.get();
    value = c->args[1].value.get();
    plain = c->args[2].value.get();
  }
  auto *fir = dyn_cast<ast::CallExpr>(value);
  if (!fir || fir->callee != "fir")
    return std::nullopt;
  const sema::MemberRead *x = readOf(fir->args[0].value.get());
  if (!x)
    return std::nullopt;
  if (plain) {
    const sema::MemberRead *p = readOf(plain);
    if (!p || p->population != x->population || p->member != x->member || p->lag != x->lag)
      return std::nullopt;
  }
  const sema::CheckedMember &spikes = model.populations[x->population].members[x->member];
  // Only a drawn train is sparse; x must also be computed before the filter.
  if (!spikes.replayable || spikes.updateIndex < 0 ||
      (x->population == read->population && spikes.updateIndex > filtered.updateIndex) ||
      x->population > read->population)
    return std::nullopt;
  sp.population = x->population, sp.member = x->member, sp.lagX = x->lag, sp.fir = fir;
  int taps = (int)model.shapeOf(fir->args[1].value.get()).dims[0].value;
  sp.depth = (filtered.history - 1) + sp.lagX + taps;
  return sp;
}

void Lowerer::findSpikeProducts() {
  std::function<void(const ast::Expr *)> walk = [&](const ast::Expr *e) {
    if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
      if (auto sp = matchSpikeProduct(b)) {
        // One history per (weight, spike train), deep enough for every read.
        int index = -1;
        for (size_t i = 0; i < spikeHistories.size(); ++i)
          if (spikeHistories[i].weight == sp->weight &&
              spikeHistories[i].population == sp->population &&
              spikeHistories[i].member == sp->member)
            index = (int)i;
        if (index < 0) {
          index = (int)spikeHistories.size();
          spikeHistories.push_back({sp->weight, sp->population, sp->member, -1, 0});
        }
        spikeHistories[index].depth = std::max(spikeHistories[index].depth, sp->depth);
        sp->shared = index;
        spikeProducts[b] = *sp;
      }
      walk(b->lhs.get());
      walk(b->rhs.get());
    } else if (auto *n = dyn_cast<ast::NegExpr>(e)) {
      walk(n->operand.get());
    } else if (auto *c = dyn_cast<ast::CallExpr>(e)) {
      for (const ast::Arg &a : c->args)
        walk(a.value.get());
    }
  };
  for (const ast::PopulationDecl &p : model.file->populations)
    for (const ast::PopulationStmt &s : p.stmts)
      walk(s.value.get());
  for (const ast::PhaseDecl &p : model.file->phases)
    for (const ast::PhaseStmt &s : p.stmts)
      if (s.kind == ast::PhaseStmt::Kind::Override)
        walk(s.value.get());
  for (SpikeHistory &h : spikeHistories) {
    const ir::Tensor W = m.tensors[h.weight]; // a copy: addTensor below grows m.tensors
    const sema::CheckedPopulation &pop = model.populations[h.population];
    std::string name = W.name + "*" + pop.decl->name.name + "." + pop.members[h.member].name;
    for (int k = 0; k < h.depth; ++k) {
      ir::Tensor t;
      t.name = k == 0 ? name : name + "@" + std::to_string(k);
      t.role = ir::Role::State;
      t.rows = Dim::batch(), t.cols = W.rows;
      ir::TensorId id = m.addTensor(t);
      if (k == 0)
        h.first = id;
    }
  }
}

void Lowerer::updateSpikeProducts(int population, int member) {
  for (const SpikeHistory &h : spikeHistories) {
    if (h.population != population || h.member != member)
      continue;
    if (h.depth > 1)
      block->ops.push_back(ir::RotateOp{h.first, h.depth});
    ir::GemmOp g; // P@0 = x W^T; the runtime skips x's zeros
    g.a = memberIds[population][member], g.b = h.weight, g.transB = true, g.c = h.first;
    block->ops.push_back(g);
  }
}

std::optional<Value> Lowerer::lowerSpikeProduct(const ast::BinaryExpr *b) {
  auto it = spikeProducts.find(b);
  if (it == spikeProducts.end() || !block)
    return std::nullopt;
  const SpikeProduct &sp = it->second;
  const SpikeHistory &h = spikeHistories[sp.shared];
  // This read of the filter sees it `readLag` steps back (prev() and
  // histories as for any member); the products were computed with x.
  int base = sp.readLag + sp.lagX;
  int taps = (int)model.shapeOf(sp.fir->args[1].value.get()).dims[0].value;
  std::optional<Value> sum;
  for (int j = 0; j < taps; ++j) {
    Value term = binary(ExprOp::Mul, firTap(sp.fir, j), load(h.first + base + j));
    sum = sum ? binary(ExprOp::Add, std::move(*sum), std::move(term)) : std::move(term);
  }
  if (!sp.flag)
    return sum;
  Value flag = lowerExpr(sp.flag);
  Value plain = load(h.first + base);
  Dim rows = sum->rows, cols = sum->cols;
  return Value{select(std::move(flag.expr), std::move(sum->expr), std::move(plain.expr)), rows,
               cols};
}

//===-- The schedule ----------------------------------------------------------===//

void Lowerer::lowerDynamics() {
  declareMembers();
  findSpikeProducts();
  const sema::CheckedEvaluate &eval = model.evaluate;
  int predictPhase = eval.phases.empty() ? -1 : eval.phases.back();
  if (eval.predictValue) {
    const sema::Shape &s = model.shapeOf(eval.predictValue);
    auto [rows, cols] = storage(s);
    predictId = temp("predict", rows, cols, ir::Role::State, true);
    m.predict = predictId;
  }
  for (size_t ph = 0; ph < model.phases.size(); ++ph)
    m.trainBlocks.push_back(lowerPhase((int)ph, model.phases[ph].decl->steps.get(), false,
                                       (int)ph == predictPhase ? eval.predictValue : nullptr));
  if (!model.file->layers.empty()) {
    // Layers read what the phases left: records, final values.
    ir::Block readout{"readout", 1, {}};
    block = &readout;
    for (const ast::LayerDecl &layer : model.file->layers)
      layerIds.push_back(materialize(lowerExpr(layer.value.get()), layer.name.name, true));
    if (model.loss >= 0)
      m.loss = layerIds[model.loss];
    m.trainBlocks.push_back(std::move(readout));
  }
  lowerLearnBlocks();
  for (size_t i = 0; i < eval.phases.size(); ++i) {
    const ast::EvaluatePhase &p = eval.decl->phases[i];
    int ph = eval.phases[i];
    const ast::Expr *steps = p.steps ? p.steps.get() : model.phases[ph].decl->steps.get();
    ir::Block b =
        lowerPhase(ph, steps, true, i + 1 == eval.phases.size() ? eval.predictValue : nullptr);
    b.resetState = i == 0 && eval.reset;
    m.evalBlocks.push_back(std::move(b));
  }
  block = nullptr;
}

ir::Block Lowerer::lowerPhase(int phase, const ast::Expr *steps, bool evaluation,
                              const ast::Expr *predict) {
  const sema::CheckedPhase &ph = model.phases[phase];
  ir::Block b{ph.decl->name.name, 1, {}};
  block = &b;
  ExprPtr n = scalarExpr(steps);
  if (auto v = constantValue(*n))
    b.steps = (int32_t)*v;
  else
    b.stepsExpr = std::move(n);
  for (size_t p = 0; p < model.populations.size(); ++p) {
    const sema::CheckedPopulation &pop = model.populations[p];
    // Members in the order of their statements.
    std::vector<std::pair<int, int>> order;
    for (size_t i = 0; i < pop.members.size(); ++i)
      if (pop.members[i].update)
        order.push_back({pop.members[i].updateIndex, (int)i});
    std::sort(order.begin(), order.end());
    for (auto [stmt, member] : order)
      lowerMemberUpdate(phase, (int)p, member);
  }
  if (!evaluation)
    for (int r : ph.records)
      lowerRecord(model.records[r].stmt->value.get(), recordIds[r]);
  if (predict)
    lowerRecord(predict, predictId);
  block = nullptr;
  return b;
}

void Lowerer::lowerMemberUpdate(int phase, int population, int member) {
  const sema::CheckedPopulation &pop = model.populations[population];
  const sema::CheckedMember &mem = pop.members[member];
  const ast::Expr *value = mem.update->value.get();
  if (auto it = model.phases[phase].overrides.find({population, member});
      it != model.phases[phase].overrides.end())
    value = it->second->value.get();
  ir::TensorId out = memberIds[population][member];
  if (mem.history > 1)
    block->ops.push_back(ir::RotateOp{out, mem.history});
  rotatedMember = mem.history > 1 ? std::pair{population, member} : std::pair{-1, -1};
  if (mem.update->kind == ast::PopulationStmt::Kind::Ode) {
    lowerOde(mem, out, value);
  } else {
    Value v = lowerExpr(value);
    v.rows = m.tensors[out].rows, v.cols = m.tensors[out].cols;
    map(m.tensors[out].name, out, std::move(v));
  }
  rotatedMember = {-1, -1};
  if (mem.replayable)
    block->ops.push_back(ir::ReplayOp{out});
  updateSpikeProducts(population, member);
}

void Lowerer::lowerOde(const sema::CheckedMember &mem, ir::TensorId state, const ast::Expr *rhs) {
  const ir::Tensor S = m.tensors[state]; // a copy: temp() grows m.tensors
  Dim rows = S.rows, cols = S.cols;
  int population = -1, member = -1;
  for (size_t p = 0; p < memberIds.size(); ++p)
    for (size_t i = 0; i < memberIds[p].size(); ++i)
      if (memberIds[p][i] == state)
        population = (int)p, member = (int)i;
  Value current = load(memberBuffer(population, member, 0));
  const sema::Symbol &dtSymbol = model.globals.find("dt")->second;
  auto dtValue = [&] { return slot(ir::kFirstParamSlot + dtSymbol.index); };
  // f(y): the right-hand side with the state replaced by y.
  auto f = [&](Value y) {
    substitutedMember = {population, member};
    substitute = &y;
    Value v = lowerExpr(rhs);
    substitute = nullptr;
    substitutedMember = {-1, -1};
    v.rows = rows, v.cols = cols;
    return v;
  };
  auto tempOf = [&](Value v, const std::string &suffix) {
    ir::TensorId t = temp(S.name + "." + suffix, rows, cols);
    v.rows = rows, v.cols = cols;
    map(m.tensors[t].name, t, std::move(v));
    return load(t);
  };
  auto clone = [](const Value &v) { return Value{v.expr->clone(), v.rows, v.cols}; };
  Value next = constant(0);
  switch (mem.solver) {
  case sema::Solver::Euler:
    next = binary(ExprOp::Add, clone(current), binary(ExprOp::Mul, dtValue(), f(clone(current))));
    break;
  case sema::Solver::RK4: {
    Value k1 = tempOf(f(clone(current)), "k1");
    auto stage = [&](const Value &k, float c) {
      return binary(ExprOp::Add, clone(current),
                    binary(ExprOp::Mul, binary(ExprOp::Mul, constant(c), dtValue()), clone(k)));
    };
    Value k2 = tempOf(f(stage(k1, 0.5f)), "k2");
    Value k3 = tempOf(f(stage(k2, 0.5f)), "k3");
    Value k4 = tempOf(f(stage(k3, 1.0f)), "k4");
    Value sum = binary(ExprOp::Add,
                       binary(ExprOp::Add, clone(k1), binary(ExprOp::Mul, constant(2), clone(k2))),
                       binary(ExprOp::Add, binary(ExprOp::Mul, constant(2), clone(k3)), clone(k4)));
    next = binary(ExprOp::Add, clone(current),
                  binary(ExprOp::Mul, binary(ExprOp::Div, dtValue(), constant(6)), std::move(sum)));
    break;
  }
  case sema::Solver::ExpEuler:
  case sema::Solver::Exact: {
    // f(y) = a + b y; over a step with the inputs held, y(dt) = y∞ + (y - y∞) e^{b dt}
    // with y∞ = -a/b (and y + a dt when b = 0).
    Value a = tempOf(f(constant(0)), "a");
    Value b = tempOf(binary(ExprOp::Sub, f(constant(1)), clone(a)), "b");
    Value yInf = unary(ExprOp::Neg, binary(ExprOp::Div, clone(a), clone(b)));
    Value decay = unary(ExprOp::Exp, binary(ExprOp::Mul, clone(b), dtValue()));
    Value relaxed = binary(
        ExprOp::Add, clone(yInf),
        binary(ExprOp::Mul, binary(ExprOp::Sub, clone(current), clone(yInf)), std::move(decay)));
    Value drift = binary(ExprOp::Add, clone(current), binary(ExprOp::Mul, clone(a), dtValue()));
    next = Value{select(binary(ExprOp::Eq, clone(b), constant(0)).expr, std::move(drift.expr),
                        std::move(relaxed.expr)),
                 rows, cols};
    break;
  }
  }
  next.rows = rows, next.cols = cols;
  map(S.name, state, std::move(next));
}

void Lowerer::lowerRecord(const ast::Expr *value, ir::TensorId out) {
  // Each window: acc = in window ? (first ? 0 : acc) + x, divided at the last step.
  std::vector<const ast::CallExpr *> windows;
  std::function<void(const ast::Expr *)> find = [&](const ast::Expr *e) {
    if (auto *c = dyn_cast<ast::CallExpr>(e)) {
      if (c->callee == "mean" && c->args.size() == 2 && c->args[1].window)
        windows.push_back(c);
      for (const ast::Arg &a : c->args)
        find(a.value.get());
    } else if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
      find(b->lhs.get());
      find(b->rhs.get());
    } else if (auto *n = dyn_cast<ast::NegExpr>(e)) {
      find(n->operand.get());
    }
  };
  find(value);
  auto step = [] { return context(ir::ContextField::Step); };
  auto steps = [] { return context(ir::ContextField::Steps); };
  auto isLast = [&] {
    return Expr::binary(ExprOp::Eq, step(), Expr::binary(ExprOp::Sub, steps(), Expr::constant(1)));
  };
  const ir::Tensor O = m.tensors[out]; // a copy: temp() grows m.tensors
  bool single = windows.size() == 1 && windows[0] == value;
  for (const ast::CallExpr *w : windows) {
    ir::TensorId acc = single ? out : temp(O.name + ".window", O.rows, O.cols, ir::Role::State);
    Value x = lowerExpr(w->args[0].value.get());
    ExprPtr k = scalarExpr(w->args[1].value.get());
    auto width = [&] { return Expr::binary(ExprOp::Min, k->clone(), steps()); };
    auto start = [&] { return Expr::binary(ExprOp::Sub, steps(), width()); };
    auto sum = [&] {
      return Expr::binary(ExprOp::Add,
                          select(Expr::binary(ExprOp::Eq, step(), start()), Expr::constant(0),
                                 Expr::load(acc, ir::Access::Full)),
                          x.expr->clone());
    };
    ExprPtr next = select(Expr::binary(ExprOp::Ge, step(), start()),
                          select(isLast(), Expr::binary(ExprOp::Div, sum(), width()), sum()),
                          Expr::load(acc, ir::Access::Full));
    map(m.tensors[acc].name, acc, {std::move(next), O.rows, O.cols});
    windowIds[w] = acc;
  }
  if (single)
    return;
  Value v = lowerExpr(value);
  ExprPtr next = select(isLast(), std::move(v.expr), Expr::load(out, ir::Access::Full));
  map(O.name, out, {std::move(next), O.rows, O.cols});
}

} // namespace bdl::lowering

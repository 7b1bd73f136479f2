//===- FuseElementwise.cpp ------------------------------------------------===//
//
// Lowering emits one Map kernel per named value. Three steps turn those into
// one kernel per maximal elementwise region:
//  1. inline: a temporary read once, at the same element, by a later kernel
//     of the same block is recomputed there instead of stored;
//  2. merge: adjacent Map kernels over the same [rows, cols] become one
//     multi-output kernel, later outputs reading earlier ones as locals;
//  3. unstore: a temporary no other op reads is no longer written to memory.
// Each schedule (training, evaluation) is handled separately: the two read
// the same tensors through different op lists. A block's prologue and its
// step ops are separate lists too: nothing moves between them (the prologue
// runs once, the ops every step). Rotations and replays are barriers
// (OpEffects.h), and a random draw is never copied: it is inlined only
// into the one load that reads it, so it is still evaluated once per
// element.
//
//===----------------------------------------------------------------------===//
#include "ir/ExprInfo.h"
#include "transforms/OpEffects.h"
#include "transforms/Passes.h"

#include <map>
#include <set>

namespace bdl {
namespace {

using ir::Expr;
using ir::ExprOp;
using ir::ExprPtr;
using ir::forEachLoad;
using ir::KernelOp;

class Fuser {
public:
  Fuser(ir::Module &m, std::vector<ir::Block> &schedule) : m(m), schedule(schedule) {}

  void run() {
    for (ir::Block &b : schedule)
      for (std::vector<ir::Op> *ops : {&b.prologue, &b.ops})
        inlineSingleUse(*ops);
    for (ir::Block &b : schedule)
      for (std::vector<ir::Op> *ops : {&b.prologue, &b.ops})
        mergeAdjacent(*ops);
    unstoreUnread();
  }

private:
  bool isPinned(ir::TensorId t) const { return m.readByRuntime(t); }

  std::map<ir::TensorId, int> countReads() const {
    std::map<ir::TensorId, int> reads;
    for (const ir::Block &b : schedule)
      for (const std::vector<ir::Op> *ops : {&b.prologue, &b.ops})
        for (const ir::Op &op : *ops)
          forEachRead(op, [&](ir::TensorId t) { ++reads[t]; });
    return reads;
  }

  static std::set<ir::TensorId> writes(const ir::Op &op) {
    std::set<ir::TensorId> out;
    forEachWrite(op, /*unstored=*/true, [&](ir::TensorId t) { out.insert(t); });
    return out;
  }

  static int countLoads(const KernelOp &k, ir::TensorId t) {
    int n = 0;
    for (const ir::KernelOutput &o : k.outputs)
      forEachLoad(*o.value, [&](const Expr &e) { n += e.index == t; });
    return n;
  }

  static bool hasLocal(const Expr &e) {
    if (e.op == ExprOp::Local)
      return true;
    for (const ExprPtr &o : e.operands)
      if (hasLocal(*o))
        return true;
    return false;
  }

  /// Replaces the load of `t` in `e` by `value`; returns whether it did.
  static bool substitute(ExprPtr &e, ir::TensorId t, const Expr &value) {
    if (e->op == ExprOp::Load && e->index == t && e->access == ir::Access::Full) {
      e = value.clone();
      return true;
    }
    bool any = false;
    for (ExprPtr &o : e->operands)
      any |= substitute(o, t, value);
    return any;
  }

  void inlineSingleUse(std::vector<ir::Op> &ops) {
    for (size_t i = 0; i < ops.size(); ++i) {
      auto *producer = std::get_if<KernelOp>(&ops[i]);
      if (!producer || producer->kind != KernelOp::Kind::Map || producer->outputs.size() != 1)
        continue;
      ir::KernelOutput &out = producer->outputs[0];
      if (isPinned(out.tensor) || hasLocal(*out.value) || countReads()[out.tensor] != 1)
        continue;
      std::set<ir::TensorId> inputs;
      forEachLoad(*out.value, [&](const Expr &e) { inputs.insert(e.index); });
      inputs.insert(out.tensor);
      for (size_t j = i + 1; j < ops.size(); ++j) {
        if (isBarrier(ops[j]))
          break;
        auto *consumer = std::get_if<KernelOp>(&ops[j]);
        bool reads = false;
        if (consumer)
          for (const ir::KernelOutput &o : consumer->outputs)
            forEachLoad(*o.value, [&](const Expr &e) { reads |= e.index == out.tensor; });
        if (reads) {
          bool overwritesInput = false;
          for (const ir::KernelOutput &o : consumer->outputs)
            overwritesInput |= o.tensor != out.tensor && inputs.count(o.tensor) > 0;
          // Belt and braces: a draw must land in exactly one load.
          bool copiesDraw = ir::containsDraw(*out.value) && countLoads(*consumer, out.tensor) != 1;
          if (!overwritesInput && !copiesDraw && consumer->rows == producer->rows &&
              consumer->cols == producer->cols) {
            bool done = false;
            for (ir::KernelOutput &o : consumer->outputs)
              done |= substitute(o.value, out.tensor, *out.value);
            if (done) {
              ops.erase(ops.begin() + i);
              --i;
            }
          }
          break;
        }
        // Moving the computation later is only sound if nothing it reads
        // changes in between.
        bool clobbers = false;
        for (ir::TensorId w : writes(ops[j]))
          clobbers |= inputs.count(w) > 0;
        if (clobbers)
          break;
        if (std::holds_alternative<ir::GemmOp>(ops[j])) {
          auto &g = std::get<ir::GemmOp>(ops[j]);
          if (g.a == out.tensor || g.b == out.tensor)
            break;
        }
      }
    }
  }

  void mergeAdjacent(std::vector<ir::Op> &ops) {
    for (size_t i = 0; i + 1 < ops.size();) {
      auto *first = std::get_if<KernelOp>(&ops[i]);
      auto *second = std::get_if<KernelOp>(&ops[i + 1]);
      if (!first || !second || !canMerge(*first, *second)) {
        ++i;
        continue;
      }
      int offset = (int)first->outputs.size();
      std::map<ir::TensorId, int> produced;
      for (int k = 0; k < offset; ++k)
        produced[first->outputs[k].tensor] = k;
      for (ir::KernelOutput &o : second->outputs) {
        shiftLocals(*o.value, offset);
        toLocals(o.value, produced);
        produced[o.tensor] = (int)first->outputs.size();
        first->outputs.push_back(std::move(o));
      }
      first->name += "+" + second->name;
      ops.erase(ops.begin() + i + 1);
    }
  }

  static void shiftLocals(Expr &e, int offset) {
    if (e.op == ExprOp::Local)
      e.index += offset;
    for (ExprPtr &o : e.operands)
      shiftLocals(*o, offset);
  }

  static void toLocals(ExprPtr &e, const std::map<ir::TensorId, int> &produced) {
    if (e->op == ExprOp::Load) {
      if (auto it = produced.find(e->index); it != produced.end())
        e = Expr::local(it->second);
      return;
    }
    for (ExprPtr &o : e->operands)
      toLocals(o, produced);
  }

  /// Same iteration space, and every dependence between the two is at the
  /// same element.
  static bool canMerge(const KernelOp &a, const KernelOp &b) {
    if (a.kind != KernelOp::Kind::Map || b.kind != KernelOp::Kind::Map || !(a.rows == b.rows) ||
        !(a.cols == b.cols))
      return false;
    std::set<ir::TensorId> aWrites, bWrites;
    for (const ir::KernelOutput &o : a.outputs)
      aWrites.insert(o.tensor);
    for (const ir::KernelOutput &o : b.outputs)
      bWrites.insert(o.tensor);
    bool ok = true;
    for (const ir::KernelOutput &o : b.outputs)
      forEachLoad(*o.value, [&](const Expr &e) {
        ok &= !aWrites.count(e.index) || e.access == ir::Access::Full;
      });
    for (const ir::KernelOutput &o : a.outputs)
      forEachLoad(*o.value, [&](const Expr &e) {
        ok &= !bWrites.count(e.index) || e.access == ir::Access::Full;
      });
    return ok;
  }

  void unstoreUnread() {
    std::map<ir::TensorId, int> reads = countReads();
    for (ir::Block &b : schedule)
      for (std::vector<ir::Op> *ops : {&b.prologue, &b.ops}) {
        for (ir::Op &op : *ops)
          if (auto *k = std::get_if<KernelOp>(&op); k && k->kind == KernelOp::Kind::Map)
            for (ir::KernelOutput &o : k->outputs)
              if (!isPinned(o.tensor) && reads[o.tensor] == 0)
                o.stored = false;
        std::erase_if(*ops, [](const ir::Op &op) {
          auto *k = std::get_if<KernelOp>(&op);
          if (!k)
            return false;
          for (const ir::KernelOutput &o : k->outputs)
            if (o.stored)
              return false;
          return true;
        });
      }
  }

  ir::Module &m;
  std::vector<ir::Block> &schedule;
};

} // namespace

void fuseElementwise(ir::Module &m) {
  Fuser(m, m.trainBlocks).run();
  Fuser(m, m.evalBlocks).run();
}

} // namespace bdl

//===- GuardOps.cpp - Ops whose results are read only under ifs on params -===//
//
// Models switch features with params, and a select keeps one arm of an `if`
// while both are computed. Guerguiev's apical input is
// `if(symmetric, W1' @ psp + if(noisy_sym, Ynoise @ psp, 0), Y @ psp)`:
// three products every step, of which the default flags read one. This
// pass gives each product (and each rotation of a history) the condition
// under which what it computes is read, so that the runtime skips it while
// the condition is false:
//
//   gemm %mm = %psp x %W1                  gemm %mm = %psp x %W1 when hp[10]
//   gemm %mm.1 = %psp x %Y^T          ->   gemm %mm.1 = %psp x %Y^T when not hp[10]
//   map @A { $0 %A = select(hp[10], %mm, %mm.1) }
//
// A tensor's demand is the condition on params under which its value can
// reach what the run keeps: weights and every other tensor that is not a
// temporary or a state, and the temporaries the runtime reads (prediction,
// loss, monitors). A state is followed like a temporary: its demand is what
// reads it (the runtime ignores guards while it traces, when any state may
// be read). A demand is a disjunction of terms, each a conjunction of
// literals hp[i] != 0 or hp[i] == 0. It is the union over every read of the
// tensor, anywhere in the module, of the demand of what the read computes,
// conjoined with the literals of the selects on params above the read. A
// rotation of a history is demanded with the values it carries (all but
// the newest, which is written anew after it), and so is every tensor of
// the history: each one's value becomes the next's. Demands only grow, so
// iterating over the ops ends.
//
// Guards read param slots only: params hold for a whole run (a tuning trial
// is a new instance), so a history that was skipped is never read stale.
// Kernels are not guarded: a select already costs little there, and a
// fused kernel computes several values.
//
//===----------------------------------------------------------------------===//
#include "transforms/Passes.h"

#include <algorithm>
#include <set>

namespace bdl {
namespace {

using ir::GuardLiteral;
using Term = std::vector<GuardLiteral>; // sorted by slot, one literal per slot

// Beyond these a demand is taken as `always`: a guard stays cheap to test.
constexpr size_t kMaxTerms = 4;
constexpr size_t kMaxLiterals = 4;

/// Never read (no terms), read under some terms, or always read.
struct Demand {
  bool always = false;
  std::set<Term> terms;
};

/// `a` and `b` together, or false when they contradict each other.
bool conjoin(const Term &a, const Term &b, Term &out) {
  out.clear();
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].slot < b[j].slot)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].slot < a[i].slot) {
      out.push_back(b[j++]);
    } else {
      if (a[i].nonzero != b[j].nonzero)
        return false;
      out.push_back(a[i++]);
      ++j;
    }
  }
  return true;
}

/// Whether every literal of `a` is in `b` (then a term `b` adds nothing to `a`).
bool implied(const Term &a, const Term &b) {
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

/// Drops terms another term implies and merges pairs that differ in the
/// sign of one literal only (x and y or x and not y is x), to a fixpoint.
void simplify(Demand &d) {
  for (bool changed = true; changed && !d.always;) {
    changed = false;
    for (auto a = d.terms.begin(); a != d.terms.end() && !changed; ++a)
      for (auto b = d.terms.begin(); b != d.terms.end() && !changed; ++b) {
        if (a == b)
          continue;
        if (implied(*a, *b)) {
          d.terms.erase(b);
          changed = true;
        } else if (a->size() == b->size()) {
          size_t differ = 0, at = 0;
          for (size_t l = 0; l < a->size(); ++l) {
            if ((*a)[l].slot != (*b)[l].slot) {
              differ = 2;
              break;
            }
            if ((*a)[l].nonzero != (*b)[l].nonzero)
              ++differ, at = l;
          }
          if (differ == 1) {
            Term merged = *a;
            merged.erase(merged.begin() + std::ptrdiff_t(at));
            d.terms.erase(a);
            d.terms.erase(b);
            if (merged.empty())
              d.always = true, d.terms.clear();
            else
              d.terms.insert(std::move(merged));
            changed = true;
          }
        }
      }
  }
}

/// Adds `path and d` to `into`; true when `into` grew.
bool addUnder(Demand &into, const Term &path, const Demand &d) {
  if (into.always || (!d.always && d.terms.empty()))
    return false;
  std::vector<Term> added;
  Term t;
  if (d.always) {
    added.push_back(path);
  } else {
    for (const Term &term : d.terms)
      if (conjoin(path, term, t))
        added.push_back(t);
  }
  Demand before = into;
  for (Term &term : added) {
    if (term.empty() || term.size() > kMaxLiterals) {
      into.always = true;
      into.terms.clear();
      return true;
    }
    into.terms.insert(std::move(term));
  }
  simplify(into);
  if (into.terms.size() > kMaxTerms)
    into.always = true, into.terms.clear();
  return into.always != before.always || into.terms != before.terms;
}

class Demands {
public:
  explicit Demands(const ir::Module &m) : m(m), of(m.tensors.size()) {
    for (size_t t = 0; t < m.tensors.size(); ++t) {
      ir::Role r = m.tensors[t].role;
      of[t].always = r == ir::Role::State ? false : m.readByRuntime(ir::TensorId(t));
    }
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto *schedule : {&m.trainBlocks, &m.evalBlocks})
        for (const ir::Block &b : *schedule)
          for (const auto *ops : {&b.prologue, &b.ops})
            for (const ir::Op &op : *ops)
              grew |= propagate(op);
    }
  }

  const Demand &operator[](ir::TensorId t) const { return of[size_t(t)]; }

  /// What a rotation carries: the values one or more steps old (the newest
  /// is written anew after it). Each of them comes from the one before, so
  /// every tensor of the history, the newest too, is demanded with them.
  Demand rotation(const ir::RotateOp &r) const {
    Demand carried;
    for (int32_t j = 1; j < r.count; ++j)
      addUnder(carried, {}, of[size_t(r.first + j)]);
    return carried;
  }

private:
  const ir::Module &m;
  std::vector<Demand> of;

  bool propagate(const ir::Op &op) {
    if (auto *g = std::get_if<ir::GemmOp>(&op)) {
      Demand c = of[size_t(g->c)];
      return addUnder(of[size_t(g->a)], {}, c) | addUnder(of[size_t(g->b)], {}, c);
    }
    if (auto *k = std::get_if<ir::KernelOp>(&op))
      return kernel(*k);
    if (auto *r = std::get_if<ir::RotateOp>(&op)) {
      Demand carried = rotation(*r);
      bool grew = false;
      for (int32_t j = 0; j < r->count; ++j)
        grew |= addUnder(of[size_t(r->first + j)], {}, carried);
      return grew;
    }
    if (auto *i = std::get_if<ir::ImageOp>(&op)) {
      Demand out = of[size_t(i->out)];
      bool grew = addUnder(of[size_t(i->in)], {}, out);
      if (i->aux >= 0)
        grew |= addUnder(of[size_t(i->aux)], {}, out);
      return grew;
    }
    if (auto *d = std::get_if<ir::GradOp>(&op)) // not differentiated yet: reads unknown
      return addUnder(of[size_t(d->loss)], {}, Demand{true, {}}) |
             addUnder(of[size_t(d->weight)], {}, Demand{true, {}});
    return false; // a replay rewrites its tensor in place
  }

  bool kernel(const ir::KernelOp &k) {
    // Later outputs read earlier ones as locals: visit them last first.
    std::vector<Demand> outputs(k.outputs.size());
    bool grew = false;
    for (size_t i = k.outputs.size(); i-- > 0;) {
      const ir::KernelOutput &o = k.outputs[i];
      if (o.stored || ir::isReducedOutput(k, i))
        addUnder(outputs[i], {}, of[size_t(o.tensor)]);
      Term path;
      reads(*o.value, path, [&](const ir::Expr &leaf, const Term &under) {
        if (leaf.op == ir::ExprOp::Load)
          grew |= addUnder(of[size_t(leaf.index)], under, outputs[i]);
        else if (size_t(leaf.index) < i)
          addUnder(outputs[size_t(leaf.index)], under, outputs[i]);
      });
    }
    return grew;
  }

  /// Calls leaf(e, path) for each Load and Local of `e`, with the literals
  /// of the selects on param slots above it.
  template <typename F> void reads(const ir::Expr &e, Term &path, F &&leaf) {
    if (e.op == ir::ExprOp::Load || e.op == ir::ExprOp::Local)
      return leaf(e, path);
    const ir::Expr *cond = e.op == ir::ExprOp::Select ? e.operands[0].get() : nullptr;
    if (!cond || cond->op != ir::ExprOp::Slot || cond->index < ir::kFirstParamSlot) {
      for (const ir::ExprPtr &o : e.operands)
        if (o)
          reads(*o, path, leaf);
      return;
    }
    for (bool nonzero : {true, false}) {
      Term saved = path, under;
      if (!conjoin(path, Term{GuardLiteral{cond->index, nonzero}}, under))
        continue; // an arm an enclosing select already excludes
      path = std::move(under);
      reads(*e.operands[nonzero ? 1 : 2], path, leaf);
      path = std::move(saved);
    }
  }
};

ir::Guard guardFor(const Demand &d) {
  ir::Guard g;
  if (!d.always) // a never-read result is dead code, not this pass's business
    g.terms.assign(d.terms.begin(), d.terms.end());
  return g;
}

} // namespace

void guardOps(ir::Module &m) {
  Demands demands(m);
  for (auto *schedule : {&m.trainBlocks, &m.evalBlocks})
    for (ir::Block &b : *schedule)
      for (auto *ops : {&b.prologue, &b.ops})
        for (ir::Op &op : *ops) {
          if (auto *g = std::get_if<ir::GemmOp>(&op))
            g->guard = guardFor(demands[g->c]);
          else if (auto *r = std::get_if<ir::RotateOp>(&op))
            r->guard = guardFor(demands.rotation(*r));
        }
}

} // namespace bdl

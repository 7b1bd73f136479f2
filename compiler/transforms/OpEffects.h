//===- OpEffects.h - Which tensors an op reads and writes -----*- C++ -*-===//
//
// One answer for every pass. A rotation reads and writes each tensor of its
// history (it moves their buffers); a replay reads and writes its tensor (it
// may overwrite it with recorded values), so both are barriers to moving a
// computation of those tensors across them.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TRANSFORMS_OPEFFECTS_H
#define BDL_TRANSFORMS_OPEFFECTS_H

#include "ir/IR.h"

namespace bdl {

/// Calls f(t) once per read of tensor t by `op` (a kernel: once per Load).
template <typename F> void forEachRead(const ir::Op &op, F &&f) {
  if (auto *g = std::get_if<ir::GemmOp>(&op)) {
    f(g->a);
    f(g->b);
    if (g->readsC())
      f(g->c);
  } else if (auto *k = std::get_if<ir::KernelOp>(&op)) {
    for (const ir::KernelOutput &o : k->outputs)
      ir::forEachLoad(*o.value, [&](const ir::Expr &e) { f(e.index); });
  } else if (auto *r = std::get_if<ir::RotateOp>(&op)) {
    for (int32_t j = 0; j < r->count; ++j)
      f(r->first + j);
  } else if (auto *d = std::get_if<ir::GradOp>(&op)) {
    // What it names; the sweep that replaces it reads more (every value on
    // the way from the weight to the loss), so passes before it must treat
    // it as a barrier (isBarrier).
    f(d->loss);
    f(d->weight);
  } else if (auto *i = std::get_if<ir::ImageOp>(&op)) {
    f(i->in);
    if (i->aux >= 0)
      f(i->aux);
  } else {
    f(std::get<ir::ReplayOp>(op).tensor);
  }
}

/// Calls f(t) for each tensor `op` writes; `unstored`: include kernel
/// outputs that are not stored.
template <typename F> void forEachWrite(const ir::Op &op, bool unstored, F &&f) {
  if (auto *g = std::get_if<ir::GemmOp>(&op)) {
    f(g->c);
  } else if (auto *k = std::get_if<ir::KernelOp>(&op)) {
    for (const ir::KernelOutput &o : k->outputs)
      if (o.stored || unstored)
        f(o.tensor);
  } else if (auto *r = std::get_if<ir::RotateOp>(&op)) {
    for (int32_t j = 0; j < r->count; ++j)
      f(r->first + j);
  } else if (auto *d = std::get_if<ir::GradOp>(&op)) {
    f(d->out);
  } else if (auto *i = std::get_if<ir::ImageOp>(&op)) {
    f(i->out);
  } else {
    f(std::get<ir::ReplayOp>(op).tensor);
  }
}

/// Whether `op` is a rotation, a replay or a gradient not yet differentiated.
inline bool isBarrier(const ir::Op &op) {
  return std::holds_alternative<ir::RotateOp>(op) || std::holds_alternative<ir::ReplayOp>(op) ||
         std::holds_alternative<ir::GradOp>(op);
}

} // namespace bdl

#endif // BDL_TRANSFORMS_OPEFFECTS_H

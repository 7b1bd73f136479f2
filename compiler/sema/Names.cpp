//===- Names.cpp - Declaring and resolving names ----------------------------===//
#include "sema/Builtins.h"
#include "sema/Checker.h"

#include "llvm/Support/Casting.h"

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

bool Checker::declare(const ast::Ident &name, Symbol symbol) {
  symbol.declRange = name.range;
  auto [it, inserted] = model->globals.try_emplace(name.name, symbol);
  if (!inserted) {
    diags.report(name.range, DiagID::err_redefinition, name.name);
    diags.report(it->second.declRange, DiagID::note_previous_definition);
    return false;
  }
  return true;
}

void Checker::declareGlobals() {
  for (size_t i = 0; i < file.params.size(); ++i)
    declare(file.params[i].name, {Symbol::Kind::Param, (int)i});
  for (const ast::ConstDecl &c : file.consts)
    declare(c.name, {Symbol::Kind::Const});
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    Symbol s{Symbol::Kind::Tensor, (int)i};
    s.tensor = &file.tensors[i];
    declare(file.tensors[i].name, s);
  }
  for (size_t i = 0; i < file.layers.size(); ++i)
    declare(file.layers[i].name, {Symbol::Kind::Layer, (int)i});
}

const Symbol *Checker::lookup(const ast::NameExpr *n) {
  if (auto it = model->lets.find(n->name); it != model->lets.end() && inLearn) {
    transientSymbol = Symbol{Symbol::Kind::Let, -1, it->second};
    return &transientSymbol;
  }
  auto it = model->globals.find(n->name);
  if (it != model->globals.end())
    return &it->second;
  if (auto later = laterLets.find(n->name); later != laterLets.end() && inLearn) {
    diags.report(n->getRange(), DiagID::err_use_before_definition, n->name);
    diags.report(later->second, DiagID::note_declared_here, n->name);
    return nullptr;
  }
  if (int slot = runtimeScalarSlot(n->name); slot >= 0) {
    transientSymbol = Symbol{Symbol::Kind::Runtime, slot, Shape::scalar()};
    return &transientSymbol;
  }
  std::string best;
  unsigned bestDistance = 3;
  auto consider = [&](llvm::StringRef candidate) {
    unsigned d = llvm::StringRef(n->name).edit_distance(candidate, true, bestDistance);
    if (d < bestDistance || (d == bestDistance && best.empty() && d < 3)) {
      bestDistance = d;
      best = candidate.str();
    }
  };
  for (const auto &entry : model->globals)
    consider(entry.getKey());
  if (inLearn)
    for (const auto &entry : model->lets)
      consider(entry.getKey());
  if (!best.empty() && bestDistance <= std::max<size_t>(1, n->name.size() / 3))
    diags.report(n->getRange(), DiagID::err_undeclared_suggest, n->name, best);
  else
    diags.report(n->getRange(), DiagID::err_undeclared, n->name);
  return nullptr;
}

} // namespace bdl::sema

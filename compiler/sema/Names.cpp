//===- Names.cpp - Declaring and resolving names ----------------------------===//
#include "sema/Builtins.h"
#include "sema/Checker.h"

namespace bdl::sema {

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
  for (size_t i = 0; i < file.consts.size(); ++i)
    declare(file.consts[i].name, {Symbol::Kind::Const, (int)i});
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    Symbol s{Symbol::Kind::Tensor, (int)i};
    s.tensor = &file.tensors[i];
    declare(file.tensors[i].name, s);
  }
  for (size_t i = 0; i < file.layers.size(); ++i)
    declare(file.layers[i].name, {Symbol::Kind::Layer, (int)i});
  declarePopulations();
}

const Symbol *Checker::lookup(const ast::NameExpr *n) {
  const Symbol *s = resolveName(n->name, n->getRange());
  if (s)
    model->resolved[n] = s;
  return s;
}

const Symbol *Checker::resolveName(const std::string &name, llvm::SMRange use) {
  // A population's own names hide the model's inside its statements.
  if (const Symbol *member = lookupMember(name))
    return member;
  if (inLearn)
    if (auto it = learn->lets.find(name); it != learn->lets.end())
      return &it->second;
  if (auto it = model->globals.find(name); it != model->globals.end())
    return &it->second;
  if (inLearn)
    if (auto later = laterLets.find(name); later != laterLets.end()) {
      diags.report(use, DiagID::err_use_before_definition, name);
      diags.report(later->second, DiagID::note_declared_here, name);
      return nullptr;
    }
  if (const RuntimeScalar *r = findRuntimeScalar(name))
    return &model->runtime
                .try_emplace(name, Symbol{Symbol::Kind::Runtime, r->slot, Shape::scalar()})
                .first->second;
  std::string best;
  unsigned bestDistance = 3;
  auto consider = [&](llvm::StringRef candidate) {
    unsigned d = llvm::StringRef(name).edit_distance(candidate, true, bestDistance);
    if (d < bestDistance || (d == bestDistance && best.empty() && d < 3)) {
      bestDistance = d;
      best = candidate.str();
    }
  };
  for (const auto &entry : model->globals)
    consider(entry.getKey());
  if (inLearn)
    for (const auto &entry : learn->lets)
      consider(entry.getKey());
  if (!best.empty() && bestDistance <= std::max<size_t>(1, name.size() / 3))
    diags.report(use, DiagID::err_undeclared_suggest, name, best);
  else
    diags.report(use, DiagID::err_undeclared, name);
  return nullptr;
}

} // namespace bdl::sema

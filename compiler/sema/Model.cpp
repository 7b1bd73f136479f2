//===- Model.cpp - Layers, the loss, training settings and the prediction ---===//
#include "sema/Checker.h"

#include "ir/Format.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Casting.h"

#include <cmath>

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {
const char *const kDatasets[] = {"fashion_mnist", "mnist", "cifar10"};
const char *const kSettings[] = {"epochs", "batch", "validation", "warmup", "predict", "objective"};
} // namespace

void Checker::checkLayers() {
  layerShapes.resize(file.layers.size());
  for (size_t i = 0; i < file.layers.size(); ++i) {
    const ast::LayerDecl &layer = file.layers[i];
    currentLayer = (int)i;
    std::optional<Shape> s = shape(layer.value.get());
    if (s && rejectBatchedMatrix(layer.value.get(), *s, layer.name.name))
      s.reset();
    if (s && layer.isLoss && !(s->isScalar() && s->batched)) {
      diags.report(layer.value->getRange(), DiagID::err_loss_shape, layer.name.name,
                   describe(*s, model->params));
      s.reset();
    }
    layerShapes[i] = s;
    if (Symbol &g = model->globals[layer.name.name];
        s && g.kind == Symbol::Kind::Layer && g.index == (int)i)
      g.shape = *s;
    if (!layer.isLoss)
      continue;
    if (model->loss >= 0) {
      // One loss is what the logs average and what grad() will differentiate.
      const ast::Ident &first = file.layers[model->loss].name;
      diags.report(layer.name.range, DiagID::err_duplicate_declaration, "loss");
      diags.report(first.range, DiagID::note_first_loss, first.name);
      continue;
    }
    model->loss = (int)i;
  }
  currentLayer = (int)file.layers.size();
}

namespace {
const ast::Setting *setting(const ast::TrainDecl &train, llvm::StringRef name) {
  for (const ast::Setting &s : train.settings)
    if (s.name.name == name)
      return &s;
  return nullptr;
}
} // namespace

void Checker::checkTrain() {
  if (file.trains.empty())
    return defaultPredict(nullptr);
  for (size_t i = 1; i < file.trains.size(); ++i)
    diags.report(file.trains[i].keywordRange, DiagID::err_duplicate_declaration, "'train' block");
  const ast::TrainDecl &train = file.trains[0];
  bool known = false;
  for (const char *d : kDatasets)
    known |= train.dataset.name == d;
  if (!known)
    diags.report(train.dataset.range, DiagID::err_unknown_dataset, train.dataset.name,
                 "fashion_mnist, mnist, cifar10");
  model->dataset = train.dataset.name;
  const ast::Setting *predict = nullptr;
  llvm::StringMap<llvm::SMRange> seen;
  for (const ast::Setting &s : train.settings) {
    if (auto [it, inserted] = seen.try_emplace(s.name.name, s.name.range); !inserted) {
      diags.report(s.name.range, DiagID::err_redefinition, s.name.name);
      diags.report(it->second, DiagID::note_previous_definition);
      continue;
    }
    if (s.name.name == "predict") {
      predict = &s;
      continue;
    }
    if (s.name.name == "objective") {
      checkObjective(s);
      continue;
    }
    int *slot = s.name.name == "epochs"       ? &model->epochs
                : s.name.name == "batch"      ? &model->batch
                : s.name.name == "validation" ? &model->validation
                : s.name.name == "warmup"     ? &model->warmup
                                              : nullptr;
    if (!slot) {
      diags.report(s.name.range, DiagID::err_unknown_setting, s.name.name,
                   llvm::join(std::begin(kSettings), std::end(kSettings), ", "));
      continue;
    }
    std::optional<double> v = constant(s.value.get(), "a training setting");
    if (!v)
      continue;
    int minimum = s.name.name == "validation" || s.name.name == "warmup" ? 0 : 1;
    if (*v != std::floor(*v) || *v < minimum || *v > 1e9)
      diags.report(s.value->getRange(), DiagID::err_invalid_value,
                   "'" + s.name.name + "' must be an integer >= " + std::to_string(minimum));
    else
      *slot = (int)*v;
  }
  // The warm-up epochs are the first of `epochs`, so that epoch numbers,
  // logs and --resume mean the same with or without one.
  if (const ast::Setting *w = setting(train, "warmup"); w && model->warmup >= model->epochs)
    diags.report(w->value->getRange(), DiagID::err_invalid_value,
                 "'warmup' counts the first of the " + std::to_string(model->epochs) +
                     " epochs, so it must be smaller than 'epochs'");
  defaultPredict(predict);
}

/// The metric is a word of this setting, not a name in scope: `loss` is the
/// model's loss whatever its declaration calls it.
void Checker::checkObjective(const ast::Setting &s) {
  std::string metrics;
  for (ir::Metric m : {ir::Metric::Accuracy, ir::Metric::Loss})
    metrics += std::string(metrics.empty() ? "" : ", ") + ir::spelling(m);
  auto *call = dyn_cast<ast::CallExpr>(s.value.get());
  if (!call || (call->callee != "maximize" && call->callee != "minimize"))
    return diags.report(call ? call->calleeRange : s.value->getRange(), DiagID::err_objective_form,
                        metrics);
  const ast::Arg *arg = call->args.size() == 1 ? &call->args[0] : nullptr;
  auto *n =
      arg && arg->key.empty() && !arg->window ? dyn_cast<ast::NameExpr>(arg->value.get()) : nullptr;
  if (!n)
    return diags.report(call->getRange(), DiagID::err_objective_form, metrics);
  std::optional<ir::Metric> metric = ir::fromSpelling<ir::Metric>(n->name);
  if (!metric)
    return diags.report(n->getRange(), DiagID::err_unknown_metric, n->name, metrics);
  if (*metric == ir::Metric::Loss && model->loss < 0)
    return diags.report(n->getRange(), DiagID::err_missing_declaration, file.name.name,
                        "loss, which '" + call->callee + "(loss)' scores trials by");
  model->objective = {*metric, call->callee == "minimize"};
}

bool Checker::canPredictWith(const Symbol *s) const {
  return s && s->kind == Symbol::Kind::Layer && !file.layers[s->index].isLoss &&
         layerShapes[s->index] && layerShapes[s->index]->isVector() &&
         layerShapes[s->index]->batched;
}

void Checker::defaultPredict(const ast::Setting *predict) {
  if (model->hasDynamics()) {
    // The evaluate block's predict is the prediction of a model with time.
    if (predict)
      diags.report(predict->name.range, DiagID::err_invalid_value,
                   "a model with populations predicts with its evaluate block's 'predict'");
    else if (!model->evaluate.predictValue && !diags.hasErrors())
      diags.report(model->evaluate.decl ? model->evaluate.decl->keywordRange : file.name.range,
                   DiagID::err_missing_declaration, file.name.name,
                   "prediction (evaluate { phase NAME  predict mean(out.C, last K) })");
    return;
  }
  if (predict) {
    auto *n = dyn_cast<ast::NameExpr>(predict->value.get());
    const Symbol *s = n ? lookup(n) : nullptr;
    if (n && (!s || (s->kind == Symbol::Kind::Layer && !layerShapes[s->index])))
      return; // an unknown name or a layer in error, reported
    if (!canPredictWith(s))
      diags.report(predict->value->getRange(), DiagID::err_invalid_value,
                   "'predict' names a layer with one vector per example");
    else
      model->predict = s->index;
    return;
  }
  // The loss compares a prediction with the target: its first argument;
  // failing that, the last layer that can be a prediction.
  if (model->loss >= 0) {
    auto *call = dyn_cast<ast::CallExpr>(file.layers[model->loss].value.get());
    auto *n =
        call && !call->args.empty() ? dyn_cast<ast::NameExpr>(call->args[0].value.get()) : nullptr;
    if (auto it = n ? model->resolved.find(n) : model->resolved.end();
        it != model->resolved.end() && canPredictWith(it->second)) {
      model->predict = it->second->index;
      return;
    }
  }
  for (int i = (int)file.layers.size() - 1; i >= 0; --i) {
    Symbol layer{Symbol::Kind::Layer, i};
    if (canPredictWith(&layer)) {
      model->predict = i;
      return;
    }
  }
  if (!diags.hasErrors())
    diags.report(file.name.range, DiagID::err_missing_declaration, file.name.name,
                 "layer to predict with (a vector per example; name it with 'predict = LAYER' "
                 "in the train block)");
}

} // namespace bdl::sema

//===- Sema.cpp - The checker's entry point and shared descriptions -------===//
#include "sema/Checker.h"

#include "ir/Format.h"

namespace bdl::sema {

const char *describe(Symbol::Kind kind) {
  switch (kind) {
  case Symbol::Kind::Param:
    return "param";
  case Symbol::Kind::Const:
    return "const";
  case Symbol::Kind::Tensor:
    return "tensor";
  case Symbol::Kind::Layer:
    return "layer";
  case Symbol::Kind::Let:
    return "learning-rule value";
  case Symbol::Kind::Runtime:
    return "runtime value";
  case Symbol::Kind::Member:
    return "population value";
  case Symbol::Kind::Record:
    return "record";
  case Symbol::Kind::Population:
    return "population";
  }
  return "name";
}

std::string describe(const Shape &shape, const std::vector<ir::Param> &params) {
  std::string s = shape.batched ? "a per-example " : "a ";
  if (shape.isScalar())
    return s + "scalar";
  if (shape.isImage())
    return s + "image " + ir::formatDims(shape.dims, params);
  if (shape.dims.size() == 4)
    return s + "convolution kernel " + ir::formatDims(shape.dims, params);
  s += shape.isVector() ? "vector " : "matrix ";
  return s + ir::formatDims(shape.dims, params);
}

Checker::Checker(const ast::ModelFile &file, DiagnosticEngine &diags) : file(file), diags(diags) {
  model = std::make_unique<CheckedModel>();
  model->file = &file;
  constStates.resize(file.consts.size());
}

std::unique_ptr<CheckedModel> Checker::run() {
  declareGlobals();
  checkParams();
  checkConsts();
  checkTensors();
  checkPopulations();
  checkPhases();
  checkEvaluate();
  checkLayers();
  checkLearn();
  checkTrain();
  if (diags.hasErrors())
    return nullptr;
  return std::move(model);
}

std::unique_ptr<CheckedModel> check(const ast::ModelFile &file, DiagnosticEngine &diags) {
  return Checker(file, diags).run();
}

} // namespace bdl::sema

//===- AST.cpp ------------------------------------------------------------===//
#include "ast/AST.h"

namespace bdl::ast {

const char *spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::MatMul:
    return "@";
  case BinaryOp::Pow:
    return "^";
  }
  return "?";
}

const char *spelling(TensorKind kind) {
  switch (kind) {
  case TensorKind::Input:
    return "input";
  case TensorKind::Target:
    return "target";
  case TensorKind::Weight:
    return "weight";
  case TensorKind::Fixed:
    return "fixed";
  }
  return "?";
}

} // namespace bdl::ast

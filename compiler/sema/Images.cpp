//===- Images.cpp - Convolution, pooling, batch normalisation, flatten ------===//
//
// An image is a per-example value [channels, height, width] (an `input
// x[C, H, W]` and what conv2d and maxpool2d make of it); a convolution
// kernel a weight [out, in, height, width]. Their extents are constants:
// the windows are fixed at compile time. An image combines elementwise with
// an image of its shape, a model-wide scalar, or a vector of one value per
// channel (a bias, batchnorm's scale).
//
//===----------------------------------------------------------------------===//
#include "sema/Builtins.h"
#include "sema/Checker.h"

#include "llvm/Support/Casting.h"

#include <cmath>

namespace bdl::sema {

using llvm::dyn_cast;

namespace {

/// What each image builtin takes after its positional arguments (as many as
/// its Builtin::arity), and how to say them.
struct ImageBuiltin {
  const char *name;
  const char *usage;
  std::vector<const char *> keys;
};

const ImageBuiltin *findImageBuiltin(const std::string &name) {
  static const ImageBuiltin builtins[] = {
      {"conv2d", "2 arguments (image, kernel)", {"stride", "pad"}},
      {"maxpool2d", "2 arguments (image, size)", {"stride"}},
      {"batchnorm", "3 arguments (x, scale, shift)", {"eps", "momentum"}},
      {"flatten", "1 argument", {}},
  };
  for (const ImageBuiltin &b : builtins)
    if (name == b.name)
      return &b;
  return nullptr;
}

int64_t extent(const ir::Dim &d) { return d.value; } // images' dims are constants

} // namespace

std::optional<Shape> Checker::imageBroadcast(const Shape &l, const Shape &r, const char *verb,
                                             llvm::SMRange range) {
  const Shape &image = l.isImage() ? l : r, &other = l.isImage() ? r : l;
  bool fits = (other.isImage() && other.dims == image.dims) ||
              (!other.batched && other.isScalar()) ||
              (!other.batched && other.isVector() && other.dims[0] == image.dims[0]);
  if (fits)
    return image;
  std::string why = other.batched && other.isScalar()
                        ? " (a per-example scalar does not broadcast over an image's pixels)"
                        : "";
  diags.report(range, DiagID::err_shape_mismatch, verb, describe(l, model->params),
               describe(r, model->params) + why);
  return std::nullopt;
}

std::optional<int64_t> Checker::windowArgument(const ast::CallExpr *call, const char *key,
                                               std::optional<int64_t> fallback, int64_t lo) {
  const ast::Expr *value = nullptr;
  for (const ast::Arg &a : call->args)
    if (a.key == key)
      value = a.value.get();
  if (!value)
    return fallback;
  Constant c = evaluate(value, /*report=*/true);
  if (c.status == Constant::Invalid)
    return std::nullopt;
  if (c.status != Constant::Known || c.value != std::floor(c.value) || c.value < (double)lo ||
      c.value > 1e6) {
    diags.report(value->getRange(), DiagID::err_image,
                 std::string("'") + key + "' of '" + call->callee + "' must be an integer " +
                     (lo > 0 ? "of at least 1" : "of at least 0") + ", known when it is compiled");
    return std::nullopt;
  }
  return (int64_t)c.value;
}

std::optional<Shape> Checker::imageCallShape(const ast::CallExpr *call) {
  const ImageBuiltin &b = *findImageBuiltin(call->callee);
  const std::string &f = call->callee;
  std::vector<const ast::Expr *> positional;
  for (const ast::Arg &a : call->args) {
    if (a.key.empty()) {
      positional.push_back(a.value.get());
      continue;
    }
    if (!llvm::is_contained(b.keys, a.key)) {
      diags.report(a.keyRange, DiagID::err_unknown_argument, f, a.key);
      return std::nullopt;
    }
  }
  if (positional.size() != findBuiltin(f)->arity) {
    diags.report(call->getRange(), DiagID::err_argument_count, f, b.usage,
                 std::to_string(positional.size()));
    return std::nullopt;
  }
  if (inLearn || place != Place::Model || model->hasDynamics()) {
    diags.report(call->calleeRange, DiagID::err_misplaced_call,
                 "'" + f + "' is a layer of a rate model: use it in a 'layer' declaration");
    return std::nullopt;
  }
  std::optional<Shape> x = shape(positional[0]);
  if (!x)
    return std::nullopt;
  auto expect = [&](const ast::Expr *e, const Shape &s, bool ok, const char *what) {
    if (!ok)
      diags.report(e->getRange(), DiagID::err_operand_type, f, what, describe(s, model->params));
    return ok;
  };
  const char *anImage = "an image [channels, height, width]";

  if (f == "flatten") {
    if (!expect(positional[0], *x, x->isImage(), anImage))
      return std::nullopt;
    int64_t n = extent(x->dims[0]) * extent(x->dims[1]) * extent(x->dims[2]);
    return Shape{true, {ir::Dim::constant(n)}};
  }

  if (f == "batchnorm") {
    if (!expect(positional[0], *x, x->isImage() || (x->batched && x->isVector()),
                "an image or a per-example vector"))
      return std::nullopt;
    for (const ast::Expr *e : {positional[1], positional[2]}) {
      std::optional<Shape> s = shape(e);
      if (!s)
        return std::nullopt;
      bool perFeature =
          !s->batched && (s->isScalar() || (s->isVector() && s->dims[0] == x->dims[0]));
      if (!expect(e, *s, perFeature,
                  x->isImage() ? "one value per channel (a vector [channels]) or a scalar"
                               : "a vector of x's size or a scalar"))
        return std::nullopt;
    }
    for (const ast::Arg &a : call->args) {
      if (a.key.empty())
        continue;
      std::optional<double> v = constant(a.value.get(), a.key == "eps" ? "eps" : "momentum");
      if (!v)
        return std::nullopt;
      bool valid = a.key == "eps" ? *v > 0 : (*v > 0 && *v <= 1);
      if (!valid) {
        diags.report(a.value->getRange(), DiagID::err_image,
                     a.key == "eps" ? "batchnorm's eps must be positive"
                                    : "batchnorm's momentum (the weight of each batch in the "
                                      "running statistics) must be in (0, 1]");
        return std::nullopt;
      }
    }
    return x;
  }

  if (!expect(positional[0], *x, x->isImage(), anImage))
    return std::nullopt;
  int64_t channels = extent(x->dims[0]), height = extent(x->dims[1]), width = extent(x->dims[2]);
  ir::Window w;
  w.channels = (int32_t)channels, w.height = (int32_t)height, w.width = (int32_t)width;
  int64_t outChannels = channels;
  if (f == "conv2d") {
    const ast::Expr *k = positional[1];
    std::optional<Shape> ks = shape(k);
    if (!ks)
      return std::nullopt;
    auto *n = dyn_cast<ast::NameExpr>(k);
    const Symbol *sym = n ? model->resolved.lookup(n) : nullptr;
    if (!sym || sym->kind != Symbol::Kind::Tensor || ks->dims.size() != 4) {
      expect(k, *ks, false, "a convolution kernel: a weight [out, in, height, width]");
      return std::nullopt;
    }
    if (extent(ks->dims[1]) != channels) {
      diags.report(k->getRange(), DiagID::err_image,
                   "kernel '" + n->name + "' takes " + std::to_string(extent(ks->dims[1])) +
                       " input channels, but the image has " + std::to_string(channels));
      noteDeclaration(k);
      return std::nullopt;
    }
    outChannels = extent(ks->dims[0]);
    w.kernelH = (int32_t)extent(ks->dims[2]), w.kernelW = (int32_t)extent(ks->dims[3]);
    std::optional<int64_t> stride = windowArgument(call, "stride", 1, 1);
    std::optional<int64_t> pad = windowArgument(call, "pad", 0, 0);
    if (!stride || !pad)
      return std::nullopt;
    w.stride = (int32_t)*stride, w.pad = (int32_t)*pad;
  } else { // maxpool2d
    Constant c = evaluate(positional[1], /*report=*/true);
    if (c.status != Constant::Known || c.value != std::floor(c.value) || c.value < 1 ||
        c.value > 1e6) {
      diags.report(positional[1]->getRange(), DiagID::err_image,
                   "the size of a maxpool2d window must be an integer of at least 1, known when "
                   "it is compiled");
      return std::nullopt;
    }
    w.kernelH = w.kernelW = (int32_t)c.value;
    std::optional<int64_t> stride = windowArgument(call, "stride", (int64_t)c.value, 1);
    if (!stride)
      return std::nullopt;
    w.stride = (int32_t)*stride;
  }
  if (!w.fits()) {
    diags.report(call->getRange(), DiagID::err_image,
                 "a " + std::to_string(w.kernelH) + "x" + std::to_string(w.kernelW) + " window" +
                     (w.pad ? " with padding " + std::to_string(w.pad) : "") + " does not fit " +
                     describe(*x, model->params) +
                     (w.pad >= w.kernelH || w.pad >= w.kernelW
                          ? " (the padding must be smaller than the window)"
                          : ""));
    return std::nullopt;
  }
  model->windows[call] = w;
  return Shape{true,
               {ir::Dim::constant(outChannels), ir::Dim::constant(w.outHeight()),
                ir::Dim::constant(w.outWidth())}};
}

} // namespace bdl::sema

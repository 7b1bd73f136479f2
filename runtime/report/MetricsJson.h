//===- report/MetricsJson.h - An epoch's metrics as JSON --------*- C++ -*-===//
//
// One spelling of the metric names for log.jsonl and for the history a
// checkpoint carries (internal to libbdlrt: nlohmann_json is a private
// dependency).
//
//===----------------------------------------------------------------------===//
#ifndef BDL_REPORT_METRICSJSON_H
#define BDL_REPORT_METRICSJSON_H

#include "bdl/train.h"

#include <nlohmann/json.hpp>

namespace bdl {

/// epoch, train_loss, train_accuracy, val_accuracy, test_loss, test_accuracy,
/// seconds, examples_per_second (absent values as null).
nlohmann::json metricsJson(const EpochMetrics &metrics);

/// The inverse of metricsJson; `epochs` is left 0. Throws nlohmann's
/// exceptions on a missing or mistyped field.
EpochMetrics metricsFromJson(const nlohmann::json &json);

} // namespace bdl

#endif // BDL_REPORT_METRICSJSON_H

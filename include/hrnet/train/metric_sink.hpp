// Where a training run's numbers go: one CSV row per logged iteration (train_log.csv), one per epoch
// (epoch_log.csv), and the same values as TensorBoard scalars (tb/). On resume the CSV files are
// appended to (a killed epoch's rows stay and are followed by its rerun).
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "hrnet/train/csv_log.hpp"
#include "hrnet/train/event_writer.hpp"

namespace hrnet::train {

using Scalars = std::vector<std::pair<std::string, double>>;

class MetricSink {
 public:
  MetricSink(const std::filesystem::path& dir, std::vector<std::string> iteration_columns,
             std::vector<std::string> epoch_columns, bool append);

  void iteration(const std::vector<CsvCell>& row, const Scalars& scalars, std::int64_t step);
  void epoch(const std::vector<CsvCell>& row, const Scalars& scalars, std::int64_t epochs_done);
  void scalars(const Scalars& scalars, std::int64_t step);  // TensorBoard only (e.g. validation)

 private:
  CsvLog iterations_, epochs_;
  EventWriter tb_;
};

}  // namespace hrnet::train

// CSV + TensorBoard together (see hrnet/train/metric_sink.hpp).
#include "hrnet/train/metric_sink.hpp"

namespace hrnet::train {

MetricSink::MetricSink(const std::filesystem::path& dir, std::vector<std::string> iteration_columns,
                       std::vector<std::string> epoch_columns, bool append)
    : iterations_(dir / "train_log.csv", std::move(iteration_columns), append),
      epochs_(dir / "epoch_log.csv", std::move(epoch_columns), append),
      tb_(dir / "tb") {}

void MetricSink::iteration(const std::vector<CsvCell>& row, const Scalars& scalars, std::int64_t step) {
  iterations_.row(row);
  tb_.add_scalars(scalars, step);
}

void MetricSink::epoch(const std::vector<CsvCell>& row, const Scalars& scalars, std::int64_t epochs_done) {
  epochs_.row(row);
  tb_.add_scalars(scalars, epochs_done);
}

void MetricSink::scalars(const Scalars& scalars, std::int64_t step) { tb_.add_scalars(scalars, step); }

}  // namespace hrnet::train

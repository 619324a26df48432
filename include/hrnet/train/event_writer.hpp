// TensorBoard event files without protobuf or TensorFlow: the few messages we need are encoded by
// hand and framed as TFRecords, so `tensorboard --logdir` reads the training curves directly.
//
//   hrnet::train::EventWriter tb("output/coco/w32/tb");
//   tb.add_scalars({{"train/loss", loss}, {"train/lr", lr}}, step);  // one event, flushed
//
// Scalars are stored as float32 (TensorBoard's `simple_value`): log quantities whose exact value
// matters (e.g. a learning rate compared across runs) in the CSV log as well.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hrnet/io/crc32c.hpp"

namespace hrnet::train {

// The building blocks, public so tests (and other record writers) can check them byte by byte.
namespace tfevents {

// CRC-32C and the masked CRC live in io/crc32c.hpp; re-exported here for the event encoders.
using io::crc32c;
using io::mask_crc;

// One TFRecord: uint64 length (little endian), masked CRC of those 8 bytes, the data, masked CRC
// of the data (the same bytes as io::frame_tfrecord).
std::string frame_record(std::string_view data);

// Serialized `Event{wall_time, file_version}`: the first record of every event file.
std::string encode_file_version_event(double wall_time, std::string_view version = "brain.Event:2");

// Serialized `Event{wall_time, step, summary{value{tag, simple_value}...}}`. Values are converted
// to float32 with IEEE rounding (a finite double beyond float range becomes +-inf). Throws
// ValueError for an empty list, an empty tag or a tag that is not valid UTF-8 (TensorBoard's
// protobuf parser rejects such a file).
std::string encode_scalar_event(double wall_time, std::int64_t step,
                                const std::vector<std::pair<std::string, double>>& values);

}  // namespace tfevents

class EventWriter {
 public:
  // Creates `dir` if missing and a new file `events.out.tfevents.<unix seconds>.<hostname>` in it
  // (".1", ".2", ... appended when that name exists: a resumed run in the same second never
  // overwrites; TensorBoard reads every event file of the directory). Writes the file_version
  // record. Throws IoError naming the path when the directory or file cannot be created.
  explicit EventWriter(std::filesystem::path dir);
  ~EventWriter();
  EventWriter(EventWriter&&) noexcept;
  EventWriter& operator=(EventWriter&&) noexcept;
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // Writes one event holding all the values at `step` (the wall time is now) and flushes it to
  // the OS, so a run killed afterwards keeps it. Throws IoError on a failed write, ValueError on a
  // bad tag (see encode_scalar_event).
  void add_scalars(const std::vector<std::pair<std::string, double>>& values, std::int64_t step);
  void add_scalar(const std::string& tag, double value, std::int64_t step) { add_scalars({{tag, value}}, step); }

  void flush();
  const std::filesystem::path& file() const { return path_; }

 private:
  struct Closer {
    void operator()(std::FILE* f) const;
  };
  void write_record(std::string_view data);

  std::filesystem::path path_;
  std::unique_ptr<std::FILE, Closer> file_;
};

}  // namespace hrnet::train

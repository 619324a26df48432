// TFRecord shards and tf.Example records, read without TensorFlow or protobuf.
//
// Record framing (tensorflow/core/lib/io/record_writer.h), records simply concatenated:
//   uint64 length (LE) | uint32 masked crc32c(length bytes) | data[length] | uint32 masked crc32c(data)
//
//   auto index = hrnet::io::TfRecordIndex::build("data/train-00000-of-01024");  // one scan
//   hrnet::io::TfRecordFile shard(index.shard());
//   auto example = hrnet::io::parse_example(shard.read(index[7].offset), shard.where(index[7].offset));
//   auto rec = hrnet::io::imagenet_record(example);  // rec.encoded (JPEG), rec.label (1-based), ...
//
// Guarantees:
//  - Both CRCs of a record are checked every time its data is returned; a sample is a pure function
//    of (shard, offset), so an index of offsets is all a loader needs to be deterministic.
//  - Every length is checked against the bytes the file really has before anything is allocated:
//    a corrupt or hostile length is an IoError, never a huge allocation or a read past the end.
//  - Every error is an IoError whose message names the shard file and the byte offset of the record
//    (and, for a tf.Example that does not parse, the field and the byte inside the record).
//  - The tf.Example reader is bounded: varints of at most 10 bytes, every length checked against the
//    remaining bytes, unknown fields skipped by wire type, nesting limited to the fixed schema.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hrnet::io {

inline constexpr std::size_t kTfRecordHeaderSize = 12;  // length + masked CRC of the length
inline constexpr std::size_t kTfRecordFooterSize = 4;   // masked CRC of the data

// One framed record, as TensorFlow's TFRecordWriter writes it.
std::string frame_tfrecord(std::string_view data);

// Where a record lies in its shard: `offset` is the byte of its header, the data starts at
// offset + 12 and is `length` bytes long.
struct TfRecordRef {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint64_t end() const { return offset + kTfRecordHeaderSize + length + kTfRecordFooterSize; }
  bool operator==(const TfRecordRef&) const = default;
};

// An open shard, read by offset. read() and header() use pread, so one TfRecordFile may be shared
// by several threads. Throws IoError naming the path when the file cannot be opened.
class TfRecordFile {
 public:
  explicit TfRecordFile(std::filesystem::path shard);
  ~TfRecordFile();
  TfRecordFile(TfRecordFile&&) noexcept;
  TfRecordFile& operator=(TfRecordFile&&) noexcept;
  TfRecordFile(const TfRecordFile&) = delete;
  TfRecordFile& operator=(const TfRecordFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::uint64_t size() const { return size_; }  // the file's size when it was opened

  // The record whose header starts at `offset`: its length CRC verified and the whole record
  // (data and data CRC) checked to lie inside the file. Nothing of the data is read.
  TfRecordRef header(std::uint64_t offset) const;
  // The data of the record at `offset`, with both CRCs verified.
  std::string read(std::uint64_t offset) const;
  // "tfrecord shard '<path>', record at byte offset <offset>": the prefix of every error message,
  // and the `source` to pass to parse_example.
  std::string where(std::uint64_t offset) const;

 private:
  void pread_exact(void* dst, std::size_t n, std::uint64_t at, std::uint64_t record, const char* what) const;
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// The offsets and lengths of every record of a shard, from one sequential scan.
class TfRecordIndex {
 public:
  enum class Verify {
    kData,     // read every record and check both CRCs (the whole shard is read once)
    kHeaders,  // check the length CRCs and the framing only, seeking over the data (fast on a
               // big dataset); the data CRC is still checked by every TfRecordFile::read
  };
  // Throws IoError naming the shard and the offset of the first bad record (a truncated last
  // record included: a shard must end exactly after a record).
  static TfRecordIndex build(const std::filesystem::path& shard, Verify verify = Verify::kData);

  const std::filesystem::path& shard() const { return shard_; }
  std::size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  const TfRecordRef& operator[](std::size_t i) const { return records_[i]; }
  const std::vector<TfRecordRef>& records() const { return records_; }
  std::uint64_t file_size() const { return file_size_; }

 private:
  std::filesystem::path shard_;
  std::vector<TfRecordRef> records_;
  std::uint64_t file_size_ = 0;
};

// ---- tf.Example ----------------------------------------------------------------------------

// Which list a Feature holds. kNone: a Feature message with no list set (TensorFlow reads it as
// an empty list of whatever kind it expects, and so do the accessors below).
enum class FeatureKind { kNone, kBytes, kFloat, kInt64 };
const char* feature_kind_name(FeatureKind kind);  // "none", "bytes_list", "float_list", "int64_list"

using FeatureValue =
    std::variant<std::monostate, std::vector<std::string>, std::vector<float>, std::vector<std::int64_t>>;
inline FeatureKind kind_of(const FeatureValue& v) { return static_cast<FeatureKind>(v.index()); }

// A parsed tf.Example: its feature map. The accessors throw IoError naming the key, the kind
// found and `source` (the shard and offset the record came from) when a key is missing or holds
// another kind of list.
struct Example {
  std::map<std::string, FeatureValue, std::less<>> features;
  std::string source;  // where it came from, for error messages

  bool has(std::string_view key) const { return features.find(key) != features.end(); }
  FeatureKind kind(std::string_view key) const;  // throws when missing
  const std::vector<std::string>& bytes(std::string_view key) const;
  const std::vector<float>& floats(std::string_view key) const;
  const std::vector<std::int64_t>& int64s(std::string_view key) const;
  // The single value of a one-element list; throws naming the key when the list has another size.
  const std::string& bytes1(std::string_view key) const;
  std::int64_t int64_1(std::string_view key) const;
};

// Parses a serialized tf.Example (proto3: Example{features=1: Features{feature=1: map<string,
// Feature>}}, Feature oneof {bytes_list=1, float_list=2, int64_list=3}). Packed and unpacked
// floats and int64s are accepted, unknown fields skipped, map entries in any order (the last
// duplicate key wins), repeated occurrences of a message merged as protobuf does. Throws IoError
// "<source>: tf.Example does not parse: <field path>: <what> at byte <n> of the record".
Example parse_example(std::string_view data, std::string source = "tf.Example");

// Serializes an Example the way protobuf does for a map (entries in key order; packed lists).
// The inverse of parse_example; used to write shards (synthetic datasets, tests).
std::string encode_example(const Example& example);

// ---- ImageNet (tensorflow/models research/inception build_imagenet_data.py) ------------------

struct NormalizedBox {
  float xmin = 0, ymin = 0, xmax = 0, ymax = 0;  // in [0, 1] as the script writes them
  bool operator==(const NormalizedBox&) const = default;
};

struct ImageNetRecord {
  std::string encoded;               // image/encoded: the JPEG bytes
  std::int64_t label = 0;            // image/class/label: 1..1000 as written (0 is "background")
  std::string text;                  // image/class/text, empty when absent
  std::vector<NormalizedBox> boxes;  // image/object/bbox/{xmin,ymin,xmax,ymax}, empty when absent
};

// Extracts the ImageNet fields; IoError naming the key and example.source when image/encoded or
// image/class/label is missing, of the wrong kind or not exactly one value, or when the four
// bbox lists are present only in part or differ in length. The label's range is the caller's to
// check (it knows the number of classes).
ImageNetRecord imagenet_record(const Example& example);

// ---- shards of a dataset --------------------------------------------------------------------

// The files DIR/<split>-*-of-* (e.g. split "train" or "validation"), sorted by name. IoError when
// DIR is not a directory or holds no such file.
std::vector<std::filesystem::path> list_tfrecord_shards(const std::filesystem::path& dir, std::string_view split);

// The shards of one rank: shard i goes to rank i % world. ValueError for world < 1 or a rank
// outside [0, world). A rank may get no shard when there are fewer shards than ranks.
std::vector<std::filesystem::path> shards_for_rank(const std::vector<std::filesystem::path>& shards, int rank,
                                                   int world);

}  // namespace hrnet::io

// Where classification samples come from: an image folder (torchvision ImageFolder layout) or the
// TF port's TFRecord shards (inception's build_imagenet_data.py layout). Either way a sample is a
// pure function of its index: the encoded image, its label as a logit index and its boxes.
//
//   auto train = open_cls_dataset(dir, ClsSplit::kTrain, LabelBase::kZero);  // folder or shards
//   ClsSample s = train->read(7);  // throws IoError naming the file, or the shard and byte offset
//
// Labels. Folders: the sorted class-folder index c. TFRecords store 1..1000 (0 is "background");
// the official code trains 1000 logits on label - 1, the TF port 1001 logits on the label as
// stored. LabelBase says which: kZero gives folder c / record label - 1, kOne folder c + 1 /
// record label. A label outside [0, num_logits) is an IoError naming where it came from, never
// a silent wrong label (check_labels at start for folders; every read for records).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hrnet/io/tfrecord.hpp"

namespace hrnet::classification {

enum class ClsSplit { kTrain, kVal };
enum class LabelBase { kZero, kOne };

struct ClsSample {
  std::vector<std::uint8_t> encoded;     // the file's (or image/encoded's) bytes
  std::int64_t label = 0;                // logit index
  std::vector<io::NormalizedBox> boxes;  // object boxes (TFRecords that have them; else empty)
  std::string name;                      // for messages: the file, or "shard ..., record at byte N"
};

class ClsDataset {
 public:
  virtual ~ClsDataset() = default;
  virtual std::int64_t size() const = 0;
  // Reads sample i (thread-safe). Throws hrnet::Error naming the source when it cannot.
  virtual ClsSample read(std::int64_t i) const = 0;
  // Where sample i lives, without reading it (for warnings).
  virtual std::string where(std::int64_t i) const = 0;
  // "N images of K classes in DIR" and the like.
  virtual std::string describe() const = 0;
  // Number of classes when the layout says (folders); 0 when only the records know (TFRecords).
  virtual std::int64_t num_classes() const = 0;
  // Class names in label order when known (folders), else empty.
  virtual std::vector<std::string> class_names() const = 0;
  virtual std::filesystem::path root() const = 0;
  // Throws IoError when a label can fall outside [0, num_logits) (folders: too many classes).
  virtual void check_labels(std::int64_t num_logits, const std::string& model_source) const = 0;
};

// True when dir holds TFRecord shards of the split (train-*-of-*, validation-*-of-*).
bool has_tfrecord_shards(const std::filesystem::path& dir, ClsSplit split);

// Opens DIR as TFRecord shards when it holds `train-*-of-*` / `validation-*-of-*` files of the
// split, else as the image folder DIR/<folder> (folder: "train", "val", or the config's
// TRAIN_SET/TEST_SET). Training shards are split by rank (shard i to rank i % world); a rank left
// without a shard is an IoError.
std::unique_ptr<ClsDataset> open_cls_dataset(const std::filesystem::path& dir, ClsSplit split, const std::string& folder,
                                             LabelBase base, int rank = 0, int world = 1);

// The image folder root/... (torchvision ImageFolder).
std::unique_ptr<ClsDataset> open_image_folder_dataset(const std::filesystem::path& root, LabelBase base);

// The records of `shards` (each indexed once; the data CRC is checked on every read).
std::unique_ptr<ClsDataset> open_tfrecord_dataset(const std::vector<std::filesystem::path>& shards, LabelBase base,
                                                  std::filesystem::path root);

}  // namespace hrnet::classification

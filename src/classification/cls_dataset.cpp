// Image folders and TFRecord shards as classification datasets (hrnet/classification/cls_dataset.hpp).
#include "hrnet/classification/cls_dataset.hpp"

#include <sstream>

#include "hrnet/core/error.hpp"
#include "hrnet/data/image.hpp"
#include "hrnet/data/image_folder.hpp"

namespace hrnet::classification {
namespace {

namespace fs = std::filesystem;

const char* shard_prefix(ClsSplit split) { return split == ClsSplit::kTrain ? "train" : "validation"; }

class FolderDataset final : public ClsDataset {
 public:
  FolderDataset(const fs::path& root, LabelBase base) : folder_(root), offset_(base == LabelBase::kOne ? 1 : 0) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(folder_.size()); }
  ClsSample read(std::int64_t i) const override {
    const data::ImageFolderSample& s = folder_[static_cast<std::size_t>(i)];
    ClsSample r;
    r.encoded = data::read_image_file(s.path);
    r.label = s.label + offset_;
    r.name = s.path.string();
    return r;
  }
  std::string where(std::int64_t i) const override { return folder_[static_cast<std::size_t>(i)].path.string(); }
  std::string describe() const override {
    std::ostringstream s;
    s << folder_.size() << " images of " << folder_.classes().size() << " classes in " << folder_.root().string();
    return s.str();
  }
  std::int64_t num_classes() const override { return static_cast<std::int64_t>(folder_.classes().size()); }
  std::vector<std::string> class_names() const override { return folder_.classes(); }
  fs::path root() const override { return folder_.root(); }
  void check_labels(std::int64_t num_logits, const std::string& model_source) const override {
    HRNET_CHECK(num_classes() + offset_ <= num_logits, IoError,
                folder_.root().string() << " has " << num_classes() << " class folders"
                                        << (offset_ ? " (labels 1.." : " (labels 0..") << num_classes() - 1 + offset_
                                        << ") but the model of " << model_source << " has " << num_logits << " logits");
  }

 private:
  data::ImageFolder folder_;
  std::int64_t offset_;
};

class TfRecordDataset final : public ClsDataset {
 public:
  TfRecordDataset(const std::vector<fs::path>& shards, LabelBase base, fs::path root)
      : offset_(base == LabelBase::kOne ? 0 : -1), root_(std::move(root)) {
    for (const fs::path& p : shards) {
      // framing and length CRCs of every record now (a truncated or corrupt shard fails here,
      // naming the shard and offset); each data CRC when the record is read
      const io::TfRecordIndex index = io::TfRecordIndex::build(p, io::TfRecordIndex::Verify::kHeaders);
      const auto shard = static_cast<std::uint32_t>(files_.size());
      files_.emplace_back(p);
      for (const io::TfRecordRef& r : index.records()) records_.push_back({shard, r.offset});
    }
    HRNET_CHECK(!records_.empty(), IoError, "tfrecord shards in " << root_.string() << " hold no record");
  }

  std::int64_t size() const override { return static_cast<std::int64_t>(records_.size()); }
  ClsSample read(std::int64_t i) const override {
    const Ref& ref = records_[static_cast<std::size_t>(i)];
    const io::TfRecordFile& f = files_[ref.shard];
    const std::string where = f.where(ref.offset);
    const std::string data = f.read(ref.offset);
    io::ImageNetRecord rec = io::imagenet_record(io::parse_example(data, where));
    ClsSample s;
    s.label = rec.label + offset_;
    HRNET_CHECK(s.label >= 0 && (num_logits_ == 0 || s.label < num_logits_), IoError,
                where << ": image/class/label " << rec.label << " gives logit " << s.label << ", outside 0.."
                      << num_logits_ - 1 << " of the model of " << model_source_
                      << (offset_ ? " (labels 1..N train logit label - 1, as the official code)"
                                  : " (labels train the logit of the same index, as the TF port)"));
    s.encoded.assign(rec.encoded.begin(), rec.encoded.end());
    s.boxes = std::move(rec.boxes);
    s.name = where;
    return s;
  }
  std::string where(std::int64_t i) const override {
    const Ref& ref = records_[static_cast<std::size_t>(i)];
    return files_[ref.shard].where(ref.offset);
  }
  std::string describe() const override {
    std::ostringstream s;
    s << records_.size() << " records in " << files_.size() << " TFRecord shard" << (files_.size() == 1 ? "" : "s") << " of "
      << root_.string();
    return s.str();
  }
  std::int64_t num_classes() const override { return 0; }
  std::vector<std::string> class_names() const override { return {}; }
  fs::path root() const override { return root_; }
  void check_labels(std::int64_t num_logits, const std::string& model_source) const override {
    // the records are checked as they are read (reading them all here would cost an epoch)
    num_logits_ = num_logits;
    model_source_ = model_source;
  }

 private:
  struct Ref {
    std::uint32_t shard;
    std::uint64_t offset;
  };
  std::vector<io::TfRecordFile> files_;
  std::vector<Ref> records_;
  std::int64_t offset_;
  fs::path root_;
  mutable std::int64_t num_logits_ = 0;  // set once by check_labels, before any reader thread starts
  mutable std::string model_source_;
};

}  // namespace

bool has_tfrecord_shards(const fs::path& dir, ClsSplit split) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  try {
    return !io::list_tfrecord_shards(dir, shard_prefix(split)).empty();
  } catch (const IoError&) {
    return false;
  }
}

std::unique_ptr<ClsDataset> open_image_folder_dataset(const fs::path& root, LabelBase base) {
  return std::make_unique<FolderDataset>(root, base);
}

std::unique_ptr<ClsDataset> open_tfrecord_dataset(const std::vector<fs::path>& shards, LabelBase base, fs::path root) {
  return std::make_unique<TfRecordDataset>(shards, base, std::move(root));
}

std::unique_ptr<ClsDataset> open_cls_dataset(const fs::path& dir, ClsSplit split, const std::string& folder, LabelBase base,
                                             int rank, int world) {
  if (has_tfrecord_shards(dir, split)) {
    std::vector<fs::path> shards = io::list_tfrecord_shards(dir, shard_prefix(split));
    if (split == ClsSplit::kTrain && world > 1) {
      const std::size_t all = shards.size();
      shards = io::shards_for_rank(shards, rank, world);
      HRNET_CHECK(!shards.empty(), IoError,
                  dir.string() << ": " << all << " training shards for " << world << " ranks leave rank " << rank
                               << " without data (use at least as many shards as ranks)");
    }
    return open_tfrecord_dataset(shards, base, dir);
  }
  return open_image_folder_dataset(dir / folder, base);
}

}  // namespace hrnet::classification

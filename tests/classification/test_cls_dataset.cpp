// Classification datasets (hrnet/classification/cls_dataset.hpp) on the synthetic data written both
// ways (make_synthetic cls --format folder|tfrecord): the same images and labels either way, the
// label conventions of the two command lines, sharding by rank, and bad records naming the shard and
// the byte offset.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <unistd.h>

#include "hrnet/classification/cls_dataset.hpp"
#include "hrnet/core/error.hpp"
#include "hrnet/data/synthetic_cls.hpp"
#include "hrnet/io/tfrecord.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace hrnet;
using namespace hrnet::classification;
using Catch::Matchers::Contains;

namespace {

struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name)
      : dir(fs::temp_directory_path() / ("hrnet_cls_dataset_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
};

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}
void write_bytes(const fs::path& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }

data::SyntheticClsOptions small() { return {.classes = 3, .images = 5, .val_images = 2, .seed = 11, .min_side = 24, .max_side = 40}; }

// A shard of one record holding `ex`.
void write_one_record_shard(const fs::path& p, const io::Example& ex) { write_bytes(p, io::frame_tfrecord(io::encode_example(ex))); }

io::Example record(std::int64_t label, std::string jpeg = "not a jpeg") {
  io::Example ex;
  ex.features["image/encoded"] = std::vector<std::string>{std::move(jpeg)};
  ex.features["image/class/label"] = std::vector<std::int64_t>{label};
  return ex;
}

}  // namespace

TEST_CASE("cls dataset: folders and TFRecord shards hold the same images and labels", "[cls][data]") {
  Scratch s("same");
  const auto o = small();
  data::write_synthetic_cls(s.dir / "folder", o);
  const auto sum = data::write_synthetic_cls_tfrecord(s.dir / "tf", o, 2, 1);
  CHECK(sum.train_images == 15);
  CHECK(sum.val_images == 6);
  CHECK(fs::exists(s.dir / "tf" / "train-00000-of-00002"));
  CHECK(fs::exists(s.dir / "tf" / "train-00001-of-00002"));
  CHECK(fs::exists(s.dir / "tf" / "validation-00000-of-00001"));
  CHECK(has_tfrecord_shards(s.dir / "tf", ClsSplit::kTrain));
  CHECK_FALSE(has_tfrecord_shards(s.dir / "folder", ClsSplit::kTrain));

  for (const LabelBase base : {LabelBase::kZero, LabelBase::kOne}) {
    const auto folder = open_cls_dataset(s.dir / "folder", ClsSplit::kTrain, "train", base);
    const auto tf = open_cls_dataset(s.dir / "tf", ClsSplit::kTrain, "train", base);
    REQUIRE(folder->size() == 15);
    REQUIRE(tf->size() == 15);
    CHECK(folder->num_classes() == 3);
    CHECK(tf->num_classes() == 0);  // only the records know
    CHECK_THAT(tf->describe(), Contains("15 records in 2 TFRecord shards"));
    // every folder image appears once among the records, with the same bytes and label
    std::map<std::string, std::int64_t> by_bytes;
    for (std::int64_t i = 0; i < folder->size(); ++i) {
      const ClsSample f = folder->read(i);
      CHECK(f.label == folder->read(i).label);
      by_bytes[std::string(f.encoded.begin(), f.encoded.end())] = f.label;
      CHECK(f.boxes.empty());
    }
    REQUIRE(by_bytes.size() == 15);
    std::int64_t with_boxes = 0;
    std::set<std::int64_t> labels;
    for (std::int64_t i = 0; i < tf->size(); ++i) {
      const ClsSample r = tf->read(i);
      const auto it = by_bytes.find(std::string(r.encoded.begin(), r.encoded.end()));
      REQUIRE(it != by_bytes.end());
      CHECK(r.label == it->second);
      labels.insert(r.label);
      CHECK_THAT(r.name, Contains("tfrecord shard") && Contains("record at byte offset"));
      CHECK(r.name == tf->where(i));
      with_boxes += !r.boxes.empty();
      for (const auto& b : r.boxes) CHECK((0 <= b.xmin && b.xmin < b.xmax && b.xmax <= 1 && 0 <= b.ymin && b.ymin < b.ymax && b.ymax <= 1));
    }
    CHECK(with_boxes == 3 * 3);  // images 0, 2, 4 of each class
    const std::int64_t first = base == LabelBase::kZero ? 0 : 1;
    CHECK(labels == std::set<std::int64_t>{first, first + 1, first + 2});
  }
  // validation split: validation-*-of-* shards, or the named folder
  CHECK(open_cls_dataset(s.dir / "tf", ClsSplit::kVal, "val", LabelBase::kZero)->size() == 6);
  CHECK(open_cls_dataset(s.dir / "folder", ClsSplit::kVal, "val", LabelBase::kZero)->size() == 6);
}

TEST_CASE("cls dataset: the writer is deterministic and shuffles classes across shards", "[cls][data]") {
  Scratch s("determinism");
  data::write_synthetic_cls_tfrecord(s.dir / "a", small(), 2, 1);
  data::write_synthetic_cls_tfrecord(s.dir / "b", small(), 2, 1);
  for (const char* f : {"train-00000-of-00002", "train-00001-of-00002", "validation-00000-of-00001"})
    CHECK(bytes_of(s.dir / "a" / f) == bytes_of(s.dir / "b" / f));
  const auto shard0 = open_tfrecord_dataset({s.dir / "a" / "train-00000-of-00002"}, LabelBase::kZero, s.dir / "a");
  std::set<std::int64_t> labels;
  for (std::int64_t i = 0; i < shard0->size(); ++i) labels.insert(shard0->read(i).label);
  CHECK(labels.size() >= 2);  // not one class per shard
}

TEST_CASE("cls dataset: training shards are split by rank", "[cls][data]") {
  Scratch s("ranks");
  data::write_synthetic_cls_tfrecord(s.dir, small(), 3, 1);
  const auto all = open_cls_dataset(s.dir, ClsSplit::kTrain, "train", LabelBase::kZero);
  std::int64_t total = 0;
  for (int r = 0; r < 2; ++r) total += open_cls_dataset(s.dir, ClsSplit::kTrain, "train", LabelBase::kZero, r, 2)->size();
  CHECK(total == all->size());
  hrnet::test::check_throws<IoError>([&] { open_cls_dataset(s.dir, ClsSplit::kTrain, "train", LabelBase::kZero, 3, 4); },
                                     "3 training shards for 4 ranks leave rank 3 without data");
  // validation is never split: every rank evaluates everything
  CHECK(open_cls_dataset(s.dir, ClsSplit::kVal, "val", LabelBase::kZero, 1, 2)->size() == 6);
}

TEST_CASE("cls dataset: labels outside the logits name the folder or the shard and offset", "[cls][data]") {
  Scratch s("labels");
  data::write_synthetic_cls(s.dir / "folder", small());
  const auto folder = open_cls_dataset(s.dir / "folder", ClsSplit::kTrain, "train", LabelBase::kOne);
  CHECK_NOTHROW(folder->check_labels(4, "m.cfg"));
  hrnet::test::check_throws<IoError>([&] { folder->check_labels(3, "m.cfg"); }, "has 3 class folders (labels 1..3) but the model of m.cfg has 3 logits");

  // records: label 0 with the official convention (label - 1 = -1), label 1001 with 1001 logits
  fs::create_directories(s.dir / "tf");
  write_one_record_shard(s.dir / "tf" / "train-00000-of-00001", record(0));
  const auto official = open_cls_dataset(s.dir / "tf", ClsSplit::kTrain, "train", LabelBase::kZero);
  official->check_labels(1000, "cls.yaml");
  hrnet::test::check_throws<IoError>([&] { official->read(0); },
                                     "train-00000-of-00001', record at byte offset 0: image/class/label 0 gives logit -1, outside 0..999");
  write_one_record_shard(s.dir / "tf" / "train-00000-of-00001", record(1001));
  const auto port = open_cls_dataset(s.dir / "tf", ClsSplit::kTrain, "train", LabelBase::kOne);
  port->check_labels(1001, "w30_s4.cfg");
  hrnet::test::check_throws<IoError>([&] { port->read(0); }, "image/class/label 1001 gives logit 1001, outside 0..1000 of the model of w30_s4.cfg");
}

TEST_CASE("cls dataset: corrupt, truncated and unparsable records name the shard and offset", "[cls][data]") {
  Scratch s("bad");
  data::write_synthetic_cls_tfrecord(s.dir, small(), 1, 1);
  const fs::path shard = s.dir / "train-00000-of-00001";
  const std::string good = bytes_of(shard);
  const auto index = io::TfRecordIndex::build(shard);
  REQUIRE(index.size() == 15);
  const std::uint64_t third = index[2].offset;

  // a flipped byte in the data of the third record: the index still builds (headers only), that
  // record's read fails naming it, the others read
  std::string bad = good;
  bad[third + io::kTfRecordHeaderSize + 40] ^= 0x5a;
  write_bytes(shard, bad);
  const auto d = open_cls_dataset(s.dir, ClsSplit::kTrain, "train", LabelBase::kZero);
  d->check_labels(1000, "x");
  CHECK_NOTHROW(d->read(1));
  CHECK_NOTHROW(d->read(3));
  hrnet::test::check_throws<IoError>([&] { d->read(2); }, "record at byte offset " + std::to_string(third));

  // a corrupt length CRC: the index fails at that record
  bad = good;
  bad[third + 9] ^= 0x01;
  write_bytes(shard, bad);
  hrnet::test::check_throws<IoError>([&] { open_cls_dataset(s.dir, ClsSplit::kTrain, "train", LabelBase::kZero); },
                                     "record at byte offset " + std::to_string(third));

  // truncated in the middle of the last record
  write_bytes(shard, good.substr(0, good.size() - 7));
  hrnet::test::check_throws<IoError>([&] { open_cls_dataset(s.dir, ClsSplit::kTrain, "train", LabelBase::kZero); },
                                     "train-00000-of-00001', record at byte offset " + std::to_string(index[14].offset));

  // a record that is not a tf.Example
  write_bytes(shard, io::frame_tfrecord("\x0a\xff\xff\xff\x0f garbage"));
  const auto p = open_cls_dataset(s.dir, ClsSplit::kTrain, "train", LabelBase::kZero);
  hrnet::test::check_throws<IoError>([&] { p->read(0); }, "record at byte offset 0: tf.Example does not parse");
  // one without a label
  io::Example no_label;
  no_label.features["image/encoded"] = std::vector<std::string>{"x"};
  write_one_record_shard(shard, no_label);
  const auto q = open_cls_dataset(s.dir, ClsSplit::kTrain, "train", LabelBase::kZero);
  hrnet::test::check_throws<IoError>([&] { q->read(0); }, "image/class/label");
}

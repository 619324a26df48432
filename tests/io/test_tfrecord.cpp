// Tests of the TFRecord reader and the tf.Example parser (hrnet/io/tfrecord.hpp): against a shard
// written by TensorFlow (io/make_tfrecord_fixtures.py, outputs in io/data/), against the `tfrecord`
// pip package live (io/tfrecord_oracle.py, skipped without it), and every bad-shard case.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hrnet/core/error.hpp"
#include "hrnet/io/crc32c.hpp"
#include "hrnet/io/tfrecord.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace hrnet::io;
using hrnet::IoError;
using hrnet::ValueError;
using hrnet::test::check_throws;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

fs::path data_dir() { return fs::path(HRNET_TFRECORD_TEST_DIR) / "data"; }
fs::path fixture_shard() { return data_dir() / "examples.tfrecord"; }

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> n{0};
    path = fs::temp_directory_path() / ("hrnet_tfrecord_" + tag + "_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& rel) const { return path / rel; }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}
std::string from_hex(const std::string& h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}
std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}
std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Compares a parsed Example with the JSON description written by the Python scripts.
void check_features(const Example& ex, const json& expected) {
  std::set<std::string> want_keys, got_keys;
  for (const auto& [k, v] : expected.items()) want_keys.insert(k);
  for (const auto& [k, v] : ex.features) got_keys.insert(k);
  CHECK(got_keys == want_keys);
  for (const auto& [key, want] : expected.items()) {
    INFO("feature '" << key << "'");
    if (!ex.has(key)) continue;
    const std::string kind = want.at("kind");
    CHECK(feature_kind_name(ex.kind(key)) == kind);
    if (kind == "bytes_list") {
      std::vector<std::string> w;
      for (const auto& h : want.at("hex")) w.push_back(from_hex(h.get<std::string>()));
      CHECK(ex.bytes(key) == w);
    } else if (kind == "float_list") {
      std::vector<std::uint32_t> w = want.at("bits").get<std::vector<std::uint32_t>>(), got;
      for (float f : ex.floats(key)) got.push_back(bits_of(f));  // bit patterns: -0 and nan included
      CHECK(got == w);
    } else if (kind == "int64_list") {
      CHECK(ex.int64s(key) == want.at("values").get<std::vector<std::int64_t>>());
    }
  }
}

// A shard made of these records, framed as TensorFlow does.
fs::path write_shard(const TempDir& dir, const std::string& name, const std::vector<std::string>& records) {
  std::string all;
  for (const auto& r : records) all += frame_tfrecord(r);
  write_file(dir / name, all);
  return dir / name;
}

// Requires f() to throw IoError whose message names the file, the offset and `phrase`.
template <class F>
void check_shard_error(F&& f, const fs::path& shard, std::uint64_t offset, const std::string& phrase) {
  try {
    f();
  } catch (const IoError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK_THAT(msg, Contains("'" + shard.string() + "'"));
    CHECK_THAT(msg, Contains("byte offset " + std::to_string(offset)));
    CHECK_THAT(msg, Contains(phrase));
    return;
  } catch (const std::exception& e) {
    FAIL("threw a different exception type: " << e.what());
  }
  FAIL("did not throw; expected an IoError containing: " << phrase);
}

// The Python interpreter of the oracle: $HRNET_PYTHON, else python3.
std::string python() {
  const char* p = std::getenv("HRNET_PYTHON");
  return p && *p ? std::string(p) : std::string("python3");
}
std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
// Runs the oracle script; returns the exit status and its output.
int run_oracle(const std::string& args, const TempDir& dir, std::string& output) {
  const fs::path log = dir / "oracle.log";
  const std::string cmd = quote(python()) + " " + quote((fs::path(HRNET_TFRECORD_TEST_DIR) / "tfrecord_oracle.py").string()) +
                          " " + args + " >" + quote(log.string()) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  output = fs::exists(log) ? read_file(log) : "";
  return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST_CASE("tfrecord: CRC-32C mask and framing test vectors", "[tfrecord]") {
  CHECK(crc32c(std::string_view("123456789")) == 0xE3069283u);
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(mask_crc(0xE3069283u) == 0xc78ab0e5u);
  for (std::uint32_t c : {0u, 1u, 0xE3069283u, 0xffffffffu, 0x80000000u}) CHECK(unmask_crc(mask_crc(c)) == c);
  // An empty record, and the single-feature Example of the reference (30 bytes).
  CHECK(frame_tfrecord("") == bytes({0, 0, 0, 0, 0, 0, 0, 0, 0x29, 0x03, 0x98, 0x07, 0xd8, 0xea, 0x82, 0xa2}));
  const std::string label5 = bytes({0x0a, 0x1c, 0x0a, 0x1a, 0x0a, 0x11}) + "image/class/label" +
                             bytes({0x12, 0x05, 0x1a, 0x03, 0x0a, 0x01, 0x05});
  REQUIRE(label5.size() == 30);
  Example ex;
  ex.features["image/class/label"] = std::vector<std::int64_t>{5};
  CHECK(encode_example(ex) == label5);
  CHECK(frame_tfrecord(label5) == bytes({0x1e, 0, 0, 0, 0, 0, 0, 0, 0xd9, 0xdc, 0x12, 0x32}) + label5 +
                                      bytes({0x05, 0x58, 0x08, 0xf0}));
  CHECK(parse_example(label5).int64_1("image/class/label") == 5);
}

TEST_CASE("tfrecord: a shard written by TensorFlow gives its offsets lengths CRCs and every feature", "[tfrecord]") {
  const json expected = json::parse(read_file(data_dir() / "examples.json"));
  const std::string raw = read_file(fixture_shard());
  REQUIRE(raw.size() == expected.at("file_size").get<std::size_t>());
  const auto& records = expected.at("records");
  REQUIRE(records.size() == 6);

  for (auto verify : {TfRecordIndex::Verify::kData, TfRecordIndex::Verify::kHeaders}) {
    const TfRecordIndex index = TfRecordIndex::build(fixture_shard(), verify);
    CHECK(index.file_size() == raw.size());
    REQUIRE(index.size() == records.size());
    for (std::size_t i = 0; i < index.size(); ++i) {
      CHECK(index[i].offset == records[i].at("offset").get<std::uint64_t>());
      CHECK(index[i].length == records[i].at("length").get<std::uint64_t>());
    }
  }
  const TfRecordFile file(fixture_shard());
  for (const auto& rec : records) {
    const std::uint64_t offset = rec.at("offset");
    INFO("record at " << offset);
    const std::string data = file.read(offset);
    CHECK(data.size() == rec.at("length").get<std::size_t>());
    // our framing of the same data reproduces TensorFlow's bytes, CRCs included
    CHECK(frame_tfrecord(data) == raw.substr(offset, data.size() + 16));
    CHECK(le32(raw, offset + 8) == rec.at("masked_length_crc").get<std::uint32_t>());
    CHECK(le32(raw, offset + 12 + data.size()) == rec.at("masked_data_crc").get<std::uint32_t>());
    const Example ex = parse_example(data, file.where(offset));
    check_features(ex, rec.at("features"));
    // encoding and parsing again gives the same features
    check_features(parse_example(encode_example(ex)), rec.at("features"));
  }
  CHECK(file.read(records[3].at("offset")).empty());  // tf.train.Example() serializes to nothing
}

TEST_CASE("tfrecord: ImageNet fields as build_imagenet_data.py writes them", "[tfrecord]") {
  const TfRecordIndex index = TfRecordIndex::build(fixture_shard());
  const TfRecordFile file(fixture_shard());
  auto example_at = [&](std::size_t i) { return parse_example(file.read(index[i].offset), file.where(index[i].offset)); };

  const ImageNetRecord train = imagenet_record(example_at(0));
  REQUIRE(train.encoded.size() > 100);
  CHECK(train.encoded.substr(0, 2) == bytes({0xff, 0xd8}));  // a JPEG
  CHECK(train.label == 1);
  CHECK(train.text == "tench, Tinca tinca");
  REQUIRE(train.boxes.size() == 2);
  CHECK(train.boxes[0] == NormalizedBox{0.125f, 0.0f, 0.75f, 0.5f});
  CHECK(train.boxes[1] == NormalizedBox{0.5f, 0.25f, 1.0f, 0.875f});

  const ImageNetRecord val = imagenet_record(example_at(1));
  CHECK(val.label == 1000);
  CHECK(val.boxes.empty());
  CHECK(val.text == "toilet tissue, toilet paper, bathroom tissue");

  // the edge-value record has no ImageNet keys: the error names the key, the shard and the offset
  check_shard_error([&] { (void)imagenet_record(example_at(2)); }, fixture_shard(), index[2].offset,
                    "no feature 'image/encoded'");

  // missing key and wrong kind on a record read from the shard
  const Example ex = example_at(2);
  check_shard_error([&] { (void)ex.int64s("image/class/label"); }, fixture_shard(), index[2].offset,
                    "no feature 'image/class/label'");
  check_shard_error([&] { (void)ex.floats("ints"); }, fixture_shard(), index[2].offset,
                    "'ints' is of kind int64_list, expected float_list");
  check_shard_error([&] { (void)ex.bytes("floats"); }, fixture_shard(), index[2].offset,
                    "'floats' is of kind float_list, expected bytes_list");
  check_shard_error([&] { (void)ex.int64_1("ints"); }, fixture_shard(), index[2].offset,
                    "'ints' holds 13 values, expected 1");
  // a Feature with no list set reads as an empty list of any kind, as in TensorFlow
  CHECK(ex.kind("no_kind") == FeatureKind::kNone);
  CHECK(ex.bytes("no_kind").empty());
  CHECK(ex.floats("no_kind").empty());
  CHECK(ex.int64s("no_kind").empty());

  // partial or inconsistent boxes
  Example partial = example_at(0);
  partial.features.erase("image/object/bbox/ymax");
  check_throws<IoError>([&] { (void)imagenet_record(partial); }, "only 3 of the 4 lists");
  Example uneven = example_at(0);
  uneven.features["image/object/bbox/ymin"] = std::vector<float>{0.5f};
  check_throws<IoError>([&] { (void)imagenet_record(uneven); }, "differ in length");
}

TEST_CASE("tfrecord: tf.Example encodings TensorFlow does not write but protobuf allows", "[tfrecord]") {
  auto entry = [](const std::string& key, const std::string& feature) {
    const std::string e = bytes({0x0a, int(key.size())}) + key + bytes({0x12, int(feature.size())}) + feature;
    return bytes({0x0a, int(e.size())}) + e;
  };
  auto example = [](const std::string& features) { return bytes({0x0a, int(features.size())}) + features; };
  // unpacked int64s (0x08 varint each) and floats (0x0d fixed32 each), mixed with a packed run
  const std::string ints = bytes({0x1a, 0x0e, 0x08, 0x05, 0x08, 0x7f, 0x0a, 0x02, 0x80, 0x01, 0x08, 0xff, 0xff,
                                  0xff, 0xff, 0x0f});
  const std::string floats = bytes({0x12, 0x0a, 0x0d, 0x00, 0x00, 0xc0, 0x3f, 0x0d, 0x00, 0x00, 0x80, 0xbf});
  // unknown fields of every wire type in every message are skipped
  const std::string unknown = bytes({0x20, 0x96, 0x01, 0x29, 1, 2, 3, 4, 5, 6, 7, 8, 0x35, 1, 2, 3, 4, 0x3a, 0x02, 9, 9});
  const std::string bytes_with_unknown = bytes({0x0a, 0x07, 0x0a, 0x01, 'a'}) + bytes({0x10, 0x01}) + bytes({0x0a, 0x00});
  std::string data = example(entry("i", ints) + entry("f", floats) + entry("b", bytes_with_unknown) + unknown) + unknown;
  Example ex = parse_example(data);
  CHECK(ex.int64s("i") == std::vector<std::int64_t>{5, 127, 128, 4294967295});
  CHECK(ex.floats("f") == std::vector<float>{1.5f, -1.0f});
  CHECK(ex.bytes("b") == std::vector<std::string>{"a", ""});

  // the key after the value; the last duplicate key wins; a list of another kind replaces one
  const std::string value_first = bytes({0x0a, 0x0a, 0x12, 0x05, 0x1a, 0x03, 0x0a, 0x01, 0x07, 0x0a, 0x01, 'k'});
  data = example(value_first + entry("k", bytes({0x1a, 0x03, 0x0a, 0x01, 0x09})));
  CHECK(parse_example(data).int64s("k") == std::vector<std::int64_t>{9});
  data = example(value_first);
  CHECK(parse_example(data).int64s("k") == std::vector<std::int64_t>{7});
  data = example(entry("k", bytes({0x1a, 0x03, 0x0a, 0x01, 0x07, 0x12, 0x05, 0x0d, 0, 0, 0, 0})));
  CHECK(parse_example(data).floats("k") == std::vector<float>{0.0f});
  // two Features messages merge, two lists of one kind concatenate
  data = example(entry("a", bytes({0x1a, 0x03, 0x0a, 0x01, 0x01, 0x1a, 0x03, 0x0a, 0x01, 0x02}))) + example(entry("b", ""));
  ex = parse_example(data);
  CHECK(ex.int64s("a") == std::vector<std::int64_t>{1, 2});
  CHECK(ex.kind("b") == FeatureKind::kNone);
  // an empty list is its tag and length 0
  CHECK(parse_example(example(entry("e", bytes({0x12, 0x00})))).kind("e") == FeatureKind::kFloat);
}

TEST_CASE("tfrecord: every truncation and corruption names the shard and the record's offset", "[tfrecord]") {
  TempDir dir("bad");
  const std::string raw = read_file(fixture_shard());
  const TfRecordIndex good = TfRecordIndex::build(fixture_shard());
  const TfRecordRef r1 = good[1];  // errors are in the second record: the first one reads fine
  const std::uint64_t at = r1.offset, len = r1.length;
  const fs::path bad = dir / "train-00000-of-00001";
  auto build = [&] { (void)TfRecordIndex::build(bad); };

  SECTION("truncated in the length") {
    write_file(bad, raw.substr(0, at + 5));
    check_shard_error(build, bad, at, "truncated in the record length (5 of 8 bytes");
  }
  SECTION("truncated in the length CRC") {
    write_file(bad, raw.substr(0, at + 10));
    check_shard_error(build, bad, at, "truncated in the length CRC (2 of 4 bytes");
  }
  SECTION("truncated in the data") {
    write_file(bad, raw.substr(0, at + 12 + len / 2));
    check_shard_error(build, bad, at, "truncated in the data: the record length " + std::to_string(len));
  }
  SECTION("truncated in the data CRC") {
    write_file(bad, raw.substr(0, at + 12 + len + 3));
    check_shard_error(build, bad, at, "truncated in the data CRC (3 of 4 bytes");
  }
  SECTION("corrupt length CRC, and a corrupt length") {
    for (std::uint64_t byte : {at + 9, at + 1}) {
      std::string b = raw;
      b[byte] = static_cast<char>(b[byte] ^ 0x10);
      write_file(bad, b);
      check_shard_error(build, bad, at, "length CRC mismatch");
    }
  }
  SECTION("corrupt data CRC, and corrupt data") {
    for (std::uint64_t byte : {at + 12 + len + 2, at + 12 + len / 3}) {
      std::string b = raw;
      b[byte] = static_cast<char>(b[byte] ^ 0x01);
      write_file(bad, b);
      check_shard_error(build, bad, at, "data CRC mismatch");
      // an index of headers only does not read the data: the CRC is checked when the record is
      const TfRecordIndex headers = TfRecordIndex::build(bad, TfRecordIndex::Verify::kHeaders);
      CHECK(headers.size() == good.size());
      const TfRecordFile file(bad);
      CHECK_NOTHROW(file.read(good[0].offset));
      check_shard_error([&] { (void)file.read(at); }, bad, at, "data CRC mismatch");
    }
  }
  SECTION("a length larger than the file, with a valid length CRC: an error, never an allocation") {
    for (std::uint64_t huge : {std::uint64_t(1) << 62, std::numeric_limits<std::uint64_t>::max(),
                               std::uint64_t(raw.size())}) {
      std::string head(8, '\0');
      for (int i = 0; i < 8; ++i) head[i] = static_cast<char>((huge >> (8 * i)) & 0xff);
      std::string crc(4, '\0');
      const std::uint32_t m = mask_crc(crc32c(head));
      for (int i = 0; i < 4; ++i) crc[i] = static_cast<char>((m >> (8 * i)) & 0xff);
      write_file(bad, raw.substr(0, at) + head + crc + raw.substr(at + 12));
      check_shard_error(build, bad, at, "runs past the end of the shard");
    }
  }
  SECTION("an offset that is not a record start, or past the end") {
    write_file(bad, raw);
    const TfRecordFile file(bad);
    check_shard_error([&] { (void)file.read(at + 1); }, bad, at + 1, "length CRC mismatch");
    check_shard_error([&] { (void)file.read(raw.size() + 1); }, bad, raw.size() + 1, "past the end of the shard");
    check_shard_error([&] { (void)file.read(raw.size()); }, bad, raw.size(), "truncated in the record length (0 of 8");
  }
  SECTION("every truncation of the shard: a clean index up to a record boundary, else an error") {
    std::set<std::uint64_t> ends{0};
    for (const auto& r : good.records()) ends.insert(r.end());
    for (std::size_t n = 0; n <= raw.size(); ++n) {
      write_file(bad, raw.substr(0, n));
      if (ends.count(n)) {
        CHECK(TfRecordIndex::build(bad).size() == std::size_t(std::distance(ends.begin(), ends.find(n))));
      } else {
        CHECK_THROWS_AS(TfRecordIndex::build(bad), IoError);
      }
    }
  }
  SECTION("missing file, directory") {
    check_throws<IoError>([&] { (void)TfRecordIndex::build(dir / "nope"); }, "nope': cannot open");
    check_throws<IoError>([&] { (void)TfRecordFile(dir.path); }, "not a regular file");
  }
}

TEST_CASE("tfrecord: a record that is not a tf.Example names the shard and offset and field", "[tfrecord]") {
  TempDir dir("notex");
  const std::string ok = bytes({0x0a, 0x00});  // Example{features{}}
  struct Case {
    std::string data, phrase;
  };
  const std::string key_k = bytes({0x0a, 0x01, 'k'});
  auto entry = [&](const std::string& feature) {
    const std::string e = key_k + bytes({0x12, int(feature.size())}) + feature;
    return bytes({0x0a, int(e.size() + 2), 0x0a, int(e.size())}) + e;
  };
  const std::vector<Case> cases = {
      {bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), "Example (field tag): varint longer than 10 bytes at byte 0"},
      {bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), "Example.features: wrong wire type 0"},
      {bytes({0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), "Example (unknown varint field): varint overflows 64 bits at byte 1"},
      {bytes({0x20, 0x80}), "Example (unknown varint field): varint runs past the end of its message at byte 1"},
      {bytes({0x0a, 0x05, 0x0a, 0x01}), "Example.features: length 5 runs past the end of its message (2 bytes left) at byte 1"},
      {bytes({0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), "Example.features: length 9223372036854775807 runs past"},
      {bytes({0x0a, 0x04, 0x08, 0x01, 0x10, 0x00}), "Features.feature: wrong wire type 0 (expected 2)"},
      {entry(bytes({0x0a, 0x03, 0x0a, 0x02, 'a'})), "feature['k'].bytes_list.value: length 2 runs past the end of its message (1 bytes left)"},
      {entry(bytes({0x12, 0x03, 0x0a, 0x01, 0x00})), "feature['k'].float_list.value (packed): length 1 is not a multiple of 4"},
      {entry(bytes({0x12, 0x02, 0x08, 0x01})), "feature['k'].float_list.value: wrong wire type 0 (expected 2)"},
      {entry(bytes({0x1a, 0x02, 0x0d, 0x01})), "feature['k'].int64_list.value: wrong wire type 5 (expected 2)"},
      {entry(bytes({0x1a, 0x01})), "feature['k'].int64_list: length 1 runs past"},
      {entry(bytes({0x1a, 0x03, 0x0a, 0x01, 0x80})), "feature['k'].int64_list.value (packed): varint runs past the end"},
      {entry(bytes({0x08, 0x01})), "feature['k'].bytes_list: wrong wire type 0"},
      {bytes({0x23, 0x0c}), "Example: group fields (wire type 3/4) are not part of tf.Example"},
      {bytes({0x27}), "Example: invalid wire type 7"},
      {bytes({0x35, 0x01, 0x02}), "Example: unknown fixed-size field runs past the end"},
      {bytes({0x02}), "Example: invalid field number 0"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i << ": expecting " << cases[i].phrase);
    const fs::path shard = write_shard(dir, std::to_string(i) + ".tfrecord", {ok, cases[i].data});
    const TfRecordIndex index = TfRecordIndex::build(shard);  // the framing is fine
    REQUIRE(index.size() == 2);
    const TfRecordFile file(shard);
    CHECK(parse_example(file.read(index[0].offset), file.where(index[0].offset)).features.empty());
    check_shard_error([&] { (void)parse_example(file.read(index[1].offset), file.where(index[1].offset)); }, shard,
                      index[1].offset, "tf.Example does not parse: " + cases[i].phrase);
  }
}

TEST_CASE("tfrecord: random corruption of the records gives IoError or a parse and never a crash", "[tfrecord]") {
  const TfRecordIndex index = TfRecordIndex::build(fixture_shard());
  const TfRecordFile file(fixture_shard());
  std::mt19937 rng(1234);
  int parsed = 0, rejected = 0;
  for (const auto& ref : index.records()) {
    const std::string data = file.read(ref.offset);
    for (int trial = 0; trial < 300; ++trial) {
      std::string d = data;
      if (trial % 3 == 0 && !d.empty()) {
        d.resize(rng() % d.size());  // truncation
      } else {
        for (int k = 0; k < 1 + int(rng() % 3) && !d.empty(); ++k) d[rng() % d.size()] = static_cast<char>(rng());
      }
      try {
        (void)parse_example(d, "fuzz");
        ++parsed;
      } catch (const IoError& e) {
        CHECK_THAT(std::string(e.what()), Contains("fuzz: tf.Example does not parse: "));
        ++rejected;
      }
    }
  }
  CHECK(rejected > 0);
  CHECK(parsed > 0);
}

TEST_CASE("tfrecord: shard listing in sorted order and sharding by rank", "[tfrecord]") {
  TempDir dir("list");
  for (const char* name : {"train-00002-of-00003", "train-00000-of-00003", "train-00001-of-00003",
                           "validation-00000-of-00001", "train-x", "train-00000-of-", "train--of-00003", "other.txt",
                           "trains-00000-of-00001"})
    write_file(dir / name, "");
  fs::create_directories(dir / "train-00009-of-00010");  // a directory is not a shard
  const auto train = list_tfrecord_shards(dir.path, "train");
  REQUIRE(train.size() == 3);
  CHECK(train[0] == dir / "train-00000-of-00003");
  CHECK(train[1] == dir / "train-00001-of-00003");
  CHECK(train[2] == dir / "train-00002-of-00003");
  CHECK(list_tfrecord_shards(dir.path, "validation") == std::vector<fs::path>{dir / "validation-00000-of-00001"});
  check_throws<IoError>([&] { (void)list_tfrecord_shards(dir.path, "test"); }, "no file test-*-of-* in");
  check_throws<IoError>([&] { (void)list_tfrecord_shards(dir / "none", "train"); }, "is not a directory");

  CHECK(shards_for_rank(train, 0, 1) == train);
  CHECK(shards_for_rank(train, 0, 2) == std::vector<fs::path>{train[0], train[2]});
  CHECK(shards_for_rank(train, 1, 2) == std::vector<fs::path>{train[1]});
  CHECK(shards_for_rank(train, 3, 4).empty());
  check_throws<ValueError>([&] { (void)shards_for_rank(train, 2, 2); }, "rank 2 outside [0, 2)");
  check_throws<ValueError>([&] { (void)shards_for_rank(train, 0, 0); }, "world size must be >= 1");
}

TEST_CASE("tfrecord: live oracle with the tfrecord pip package writing and reading", "[tfrecord][oracle]") {
  TempDir dir("oracle");
  std::string out;
  // theirs -> ours
  const fs::path theirs = dir / "theirs.tfrecord";
  int rc = run_oracle("write " + quote(theirs.string()) + " " + quote((dir / "theirs.json").string()), dir, out);
  if (rc == 77 || rc == 127) {
    WARN("skipped: python3 lacks the tfrecord package (pip install tfrecord): " << out);
    return;
  }
  INFO(out);
  REQUIRE(rc == 0);
  const json expected = json::parse(read_file(dir / "theirs.json"));
  const TfRecordIndex index = TfRecordIndex::build(theirs);
  REQUIRE(index.size() == expected.at("records").size());
  REQUIRE(index.size() == 5);
  const TfRecordFile file(theirs);
  for (std::size_t i = 0; i < index.size(); ++i) {
    const auto& rec = expected["records"][i];
    CHECK(index[i].offset == rec.at("offset").get<std::uint64_t>());
    CHECK(index[i].length == rec.at("length").get<std::uint64_t>());
    const Example ex = parse_example(file.read(index[i].offset), file.where(index[i].offset));
    check_features(ex, rec.at("features"));
    const ImageNetRecord r = imagenet_record(ex);
    CHECK(r.label == std::int64_t(1 + 199 * i));
    CHECK(r.boxes.size() == i);
  }

  // ours -> theirs: a shard we frame and encode, read by their iterator and protobuf
  std::vector<std::string> records;
  json ours = json::object();
  for (int i = 0; i < 4; ++i) {
    Example ex;
    ex.features["image/encoded"] = std::vector<std::string>{std::string(size_t(50 * i), char('a' + i))};
    ex.features["image/class/label"] = std::vector<std::int64_t>{i + 1, -i, std::numeric_limits<std::int64_t>::min()};
    ex.features["floats"] = std::vector<float>(std::size_t(i), -0.5f * float(i));
    ex.features["none"] = std::monostate{};
    records.push_back(encode_example(ex));
  }
  const fs::path mine = write_shard(dir, "mine.tfrecord", records);
  rc = run_oracle("read " + quote(mine.string()) + " " + quote((dir / "mine.json").string()), dir, out);
  INFO(out);
  REQUIRE(rc == 0);
  const json read_back = json::parse(read_file(dir / "mine.json"));
  REQUIRE(read_back.at("records").size() == records.size());
  for (std::size_t i = 0; i < records.size(); ++i) check_features(parse_example(records[i]), read_back["records"][i].at("features"));
}

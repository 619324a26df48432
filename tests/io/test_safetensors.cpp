// Tests of the safetensors reader/writer (hrnet/io/safetensors.hpp) and the conversion between
// file tensors and hrnet::Tensor (hrnet/io/tensor_io.hpp).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hrnet/io/json_limits.hpp"
#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"

namespace fs = std::filesystem;
using hrnet::bfloat16;
using hrnet::CPU;
using hrnet::DType;
using hrnet::half;
using hrnet::Shape;
using hrnet::Tensor;
using namespace hrnet::io;
using Catch::Matchers::Contains;

namespace {

// A fresh directory under the system temp dir, removed when the test ends.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("hrnet_st_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// 8-byte little-endian length + header text + `data_len` bytes of data (value = index).
std::vector<std::uint8_t> make_file(const std::string& header, std::size_t data_len) {
  std::vector<std::uint8_t> b;
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  for (std::size_t i = 0; i < data_len; ++i) b.push_back(static_cast<std::uint8_t>(i));
  return b;
}

// Matches an exception whose what() contains `part` (combine with && and !).
class MsgMatcher : public Catch::MatcherBase<std::exception> {
 public:
  explicit MsgMatcher(std::string part) : part_(std::move(part)) {}
  bool match(const std::exception& e) const override {
    return std::string(e.what()).find(part_) != std::string::npos;
  }
  std::string describe() const override { return "message contains \"" + part_ + "\""; }

 private:
  std::string part_;
};
MsgMatcher Msg(const std::string& part) { return MsgMatcher(part); }

const std::string kSrc = "bad_model.safetensors";

// Parses `bytes` as kSrc and returns the IoError message ("" when nothing was thrown; any other
// exception type fails the test).
std::string parse_error(const std::vector<std::uint8_t>& bytes) {
  try {
    (void)parse_safetensors(bytes, kSrc);
  } catch (const hrnet::IoError& e) {
    return e.what();
  }
  return "";
}

template <class T>
std::vector<std::uint8_t> le_bytes(const std::vector<T>& v) {
  std::vector<std::uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::string slurp(const fs::path& p) {
  const auto b = read_bytes(p);
  return std::string(b.begin(), b.end());
}

bool python_safetensors_available() {
  return std::system("python3 -c \"import safetensors, numpy\" >/dev/null 2>&1") == 0;
}

}  // namespace

// ---- round trips -----------------------------------------------------------------------------

TEST_CASE("safetensors round trip of every dtype, on disk", "[safetensors]") {
  // F64 2-D
  auto f64 = Tensor<double, CPU>::from_vector(Shape{2, 3}, {1.5, -2.25, 3.0, 1e300, -0.0, 7.125});
  // F32 4-D (N, C, H, W) = (2, 3, 2, 2); memory (NHWC) element i holds i
  auto f32 = Tensor<float, CPU>::empty(Shape{2, 3, 2, 2});
  for (std::int64_t i = 0; i < f32.numel(); ++i) f32[i] = static_cast<float>(i);
  // F16 1-D and BF16 2-D
  std::vector<half> hv;
  for (float x : {0.5f, -1.0f, 65504.0f, 0.099975586f, 0.0f}) hv.push_back(half(x));
  auto f16 = Tensor<half, CPU>::from_vector(Shape{5}, hv);
  std::vector<bfloat16> bv;
  for (float x : {1.0f, -3.5f, 1e30f, 0.15625f}) bv.push_back(bfloat16(x));
  auto bf16 = Tensor<bfloat16, CPU>::from_vector(Shape{2, 2}, bv);
  // I64 0-d scalar and I64 3-D
  auto i64s = Tensor<std::int64_t, CPU>::from_vector(Shape{}, {-9007199254740993LL});
  auto i64 = Tensor<std::int64_t, CPU>::from_vector(Shape{1, 2, 2}, {1, -2, 1LL << 40, 0});

  SafetensorsFile f;
  f.tensors["f64"] = to_raw(f64);
  f.tensors["conv.weight"] = to_raw(f32);
  f.tensors["f16"] = to_raw(f16);
  f.tensors["bf16"] = to_raw(bf16);
  f.tensors["step"] = to_raw(i64s);
  f.tensors["i64"] = to_raw(i64);

  CHECK(f.tensors["f64"].dtype == DType::F64);
  CHECK(f.tensors["conv.weight"].dtype == DType::F32);
  CHECK(f.tensors["f16"].dtype == DType::F16);
  CHECK(f.tensors["bf16"].dtype == DType::BF16);
  CHECK(f.tensors["step"].dtype == DType::I64);
  CHECK(f.tensors["step"].shape.empty());
  CHECK(f.tensors["step"].numel() == 1);
  CHECK(f.tensors["step"].data.size() == 8);

  // NHWC memory -> NCHW file order, checked on a hand-computed element:
  // logical (n, c, h, w) = (1, 2, 0, 1) sits at NHWC memory index ((1*2+0)*2+1)*3+2 = 17,
  // and at NCHW file index ((1*3+2)*2+0)*2+1 = 21.
  REQUIRE(f32.at(1, 2, 0, 1) == 17.0f);
  {
    const RawTensor& r = f.tensors["conv.weight"];
    CHECK(r.shape == std::vector<std::int64_t>{2, 3, 2, 2});
    float v21 = 0;
    std::memcpy(&v21, r.data.data() + 21 * 4, 4);
    CHECK(v21 == 17.0f);
    float v1 = 0;  // file index 1 = (0, 0, 0, 1) -> memory ((0*2+0)*2+1)*3+0 = 3
    std::memcpy(&v1, r.data.data() + 1 * 4, 4);
    CHECK(v1 == 3.0f);
  }

  TempDir dir("roundtrip");
  const fs::path p = dir.path / "model.safetensors";
  write_safetensors(p, f);
  const SafetensorsFile g = read_safetensors(p);
  REQUIRE(g.tensors.size() == 6);
  CHECK(g.metadata.empty());
  for (const auto& [name, r] : f.tensors) {
    INFO("tensor " << name);
    REQUIRE(g.tensors.count(name) == 1);
    CHECK(g.tensors.at(name).dtype == r.dtype);
    CHECK(g.tensors.at(name).shape == r.shape);
    CHECK(g.tensors.at(name).data == r.data);
  }

  CHECK(get<double>(g, "f64").to_vector() == f64.to_vector());
  auto w = get<float>(g, "conv.weight");
  CHECK(w.shape() == f32.shape());
  CHECK(w.to_vector() == f32.to_vector());  // back in NHWC memory order
  CHECK(w.at(1, 2, 0, 1) == 17.0f);
  auto h = get<half>(g, "f16");
  for (std::int64_t i = 0; i < 5; ++i) CHECK(h[i].bits == hv[static_cast<std::size_t>(i)].bits);
  auto b = get<bfloat16>(g, "bf16");
  CHECK(b.shape() == Shape{2, 2});
  for (std::int64_t i = 0; i < 4; ++i) CHECK(b[i].bits == bv[static_cast<std::size_t>(i)].bits);
  auto s = get<std::int64_t>(g, "step");
  CHECK(s.rank() == 0);
  CHECK(s[0] == -9007199254740993LL);
  CHECK(get<std::int64_t>(g, "i64").to_vector() == i64.to_vector());

  // Serializing what was read gives the same bytes as the file.
  CHECK(serialize_safetensors(g) == read_bytes(p));
}

TEST_CASE("safetensors empty file, empty tensors and large ranks", "[safetensors]") {
  SafetensorsFile f;
  const auto bytes = serialize_safetensors(f);
  CHECK(bytes == make_file("{}      ", 0));
  CHECK(parse_safetensors(bytes, "empty").tensors.empty());

  f.tensors["z"] = RawTensor{DType::F32, {0, 3}, {}};
  f.tensors["r5"] = RawTensor{DType::F16, {1, 1, 1, 1, 2}, {1, 2, 3, 4}};
  const SafetensorsFile g = parse_safetensors(serialize_safetensors(f), "mem");
  CHECK(g.tensors.at("z").shape == std::vector<std::int64_t>{0, 3});
  CHECK(g.tensors.at("z").data.empty());
  CHECK(get<float>(g, "z").numel() == 0);
  CHECK(g.tensors.at("r5").shape.size() == 5);  // the file format allows any rank...
  CHECK_THROWS_MATCHES(get<half>(g, "r5"), hrnet::ShapeError,  // ...hrnet tensors do not
                       Msg("'r5'") && Msg("at most 4 dimensions"));
}

TEST_CASE("safetensors from_raw dtype conversions", "[safetensors]") {
  SafetensorsFile f;
  f.tensors["d"] = to_raw(Tensor<double, CPU>::from_vector(Shape{3}, {0.1, -2.5, 1e10}));
  f.tensors["h"] = to_raw(Tensor<half, CPU>::from_vector(Shape{2}, {half(0.333f), half(-8.0f)}));
  f.tensors["b"] = to_raw(Tensor<bfloat16, CPU>::from_vector(Shape{1}, {bfloat16(3.0f)}));
  f.tensors["f"] = to_raw(Tensor<float, CPU>::from_vector(Shape{2}, {1.0f / 3.0f, 70000.0f}));
  f.tensors["i"] = to_raw(Tensor<std::int64_t, CPU>::from_vector(Shape{2}, {1, 2}));

  auto d2f = get<float>(f, "d");
  CHECK(d2f[0] == 0.1f);
  CHECK(d2f[1] == -2.5f);
  CHECK(d2f[2] == 1e10f);
  auto h2d = get<double>(f, "h");
  CHECK(h2d[0] == static_cast<double>(static_cast<float>(half(0.333f))));
  CHECK(h2d[1] == -8.0);
  CHECK(static_cast<float>(get<half>(f, "b")[0]) == 3.0f);
  auto f2h = get<half>(f, "f");
  CHECK(f2h[0].bits == half(1.0f / 3.0f).bits);
  CHECK(f2h[1].bits == 0x7c00);  // 70000 overflows fp16 to +inf
  CHECK(static_cast<float>(get<bfloat16>(f, "d")[1]) == -2.5f);

  CHECK_THROWS_MATCHES(get<float>(f, "i"), hrnet::DTypeError, Msg("'i'") && Msg("I64"));
  CHECK_THROWS_MATCHES(get<std::int64_t>(f, "f"), hrnet::DTypeError,
                       Msg("'f'") && Msg("cannot load F32"));
  CHECK_THROWS_MATCHES(get<float>(f, "missing.weight"), hrnet::IoError,
                       Msg("'missing.weight'") && Msg("'d', 'f', 'h', 'i'"));

  // A RawTensor whose data does not match its shape is rejected by name.
  RawTensor bad{DType::F32, {2, 2}, std::vector<std::uint8_t>(12)};
  CHECK_THROWS_MATCHES(from_raw<float>(bad, "bad"), hrnet::ShapeError,
                       Msg("'bad'") && Msg("needs 16 bytes"));
  // And the writer refuses it too.
  SafetensorsFile fb;
  fb.tensors["bad"] = bad;
  CHECK_THROWS_MATCHES(serialize_safetensors(fb), hrnet::ShapeError,
                       Msg("'bad'") && Msg("needs 16 bytes"));

  // The "available" list is capped at 20 names.
  SafetensorsFile many;
  for (int i = 0; i < 25; ++i) many.tensors["t" + std::to_string(100 + i)] = f.tensors["i"];
  CHECK_THROWS_MATCHES(get<std::int64_t>(many, "x"), hrnet::IoError,
                       Msg("'t119'") && !Msg("'t120'") && Msg("5 more"));
}

TEST_CASE("safetensors metadata round trip", "[safetensors]") {
  SafetensorsFile f;
  f.metadata["format"] = "pt";
  f.metadata["epoch"] = "12";
  f.metadata["note"] = "quotes \" backslash \\ newline \n unicode \xc3\xa9";
  f.metadata[""] = "";
  f.tensors["x"] = to_raw(Tensor<float, CPU>::from_vector(Shape{1}, {4.0f}));
  const auto bytes = serialize_safetensors(f);
  const SafetensorsFile g = parse_safetensors(bytes, "meta");
  CHECK(g.metadata == f.metadata);
  CHECK(g.tensors.at("x").data == f.tensors.at("x").data);

  // No metadata: no "__metadata__" key at all.
  SafetensorsFile h;
  h.tensors["x"] = f.tensors["x"];
  const auto hb = serialize_safetensors(h);
  CHECK(std::string(hb.begin(), hb.end()).find("__metadata__") == std::string::npos);

  SafetensorsFile bad;
  bad.tensors["__metadata__"] = f.tensors["x"];
  CHECK_THROWS_AS(serialize_safetensors(bad), hrnet::ValueError);
}

TEST_CASE("safetensors byte-exact serialization of a small file", "[safetensors]") {
  SafetensorsFile f;
  f.metadata["k"] = "v";
  f.tensors["a"] = to_raw(Tensor<float, CPU>::from_vector(Shape{2}, {1.0f, -2.0f}));
  f.tensors["b"] = to_raw(Tensor<std::int64_t, CPU>::from_vector(Shape{}, {7}));

  // Header: 132 bytes of JSON + 4 spaces = 136 = 0x88. Keys sorted; the I64 data comes first
  // (larger elements first, so every tensor is aligned), then the F32 data.
  const std::string header =
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("b":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})"
      "    ";
  REQUIRE(header.size() == 136);
  std::vector<std::uint8_t> expected = {0x88, 0, 0, 0, 0, 0, 0, 0};
  expected.insert(expected.end(), header.begin(), header.end());
  const std::vector<std::uint8_t> data = {
      7, 0, 0, 0, 0, 0, 0, 0,  // b = 7 (I64)
      0x00, 0x00, 0x80, 0x3f,  // a[0] = 1.0f
      0x00, 0x00, 0x00, 0xc0,  // a[1] = -2.0f
  };
  expected.insert(expected.end(), data.begin(), data.end());
  CHECK(serialize_safetensors(f) == expected);

  // And the same bytes parse back.
  const SafetensorsFile g = parse_safetensors(expected, "known");
  CHECK(g.metadata == f.metadata);
  CHECK(g.tensors.at("a").data == f.tensors.at("a").data);
  CHECK(g.tensors.at("b").data == f.tensors.at("b").data);
  CHECK(g.tensors.at("b").shape.empty());
}

// ---- malformed files: IoError naming the file and what is wrong --------------------------------

TEST_CASE("safetensors rejects a truncated file", "[safetensors]") {
  const std::vector<std::uint8_t> five = {1, 0, 0, 0, 0};
  const std::string m = parse_error(five);
  CHECK_THAT(m, Contains(kSrc) && Contains("truncated: header length field needs 8 bytes, file has 5"));
  CHECK_THAT(parse_error({}), Contains(kSrc) && Contains("file has 0"));
  // Also through the file reader, which names the path.
  TempDir dir("trunc");
  const fs::path p = dir.path / "model.safetensors";
  write_bytes(p, five);
  CHECK_THROWS_MATCHES(read_safetensors(p), hrnet::IoError,
                       Msg(p.string()) && Msg("truncated") && Msg("file has 5"));
}

TEST_CASE("safetensors rejects a header length past the end of the file", "[safetensors]") {
  auto b = make_file(std::string(100, ' '), 12);  // 120 bytes in all
  b[0] = 0xe8;                                     // header length 1000
  b[1] = 0x03;
  CHECK_THAT(parse_error(b), Contains(kSrc) &&
                                 Contains("header length 1000 runs past the end of the file (size 120)"));
  // A huge length is caught before any allocation.
  for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = 0xff;
  CHECK_THAT(parse_error(b), Contains(kSrc) && Contains("header length 18446744073709551615 runs past"));
  // Header that does not start with '{'.
  CHECK_THAT(parse_error(make_file("  {}", 0)), Contains(kSrc) && Contains("must start with '{'"));
}

TEST_CASE("safetensors rejects an unknown dtype", "[safetensors]") {
  const auto b = make_file(R"({"conv1.weight":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", 4);
  CHECK_THAT(parse_error(b), Contains(kSrc) && Contains("tensor 'conv1.weight': unknown dtype 'F8_E4M3'"));
  const auto c = make_file(R"({"idx":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", 4);
  CHECK_THAT(parse_error(c), Contains("tensor 'idx': unknown dtype 'I32'"));
}

TEST_CASE("safetensors rejects a shape/size mismatch", "[safetensors]") {
  const auto b = make_file(R"({"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20);
  CHECK_THAT(parse_error(b),
             Contains(kSrc) && Contains("tensor 'x': shape [2, 3] needs 24 bytes of F32 but data_offsets span 20"));
  // Element count overflow is reported, not wrapped.
  const auto c = make_file(
      R"({"big":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8);
  CHECK_THAT(parse_error(c), Contains("tensor 'big'") && Contains("too large"));
}

TEST_CASE("safetensors rejects data_offsets out of range", "[safetensors]") {
  const auto b = make_file(R"({"w":{"dtype":"F32","shape":[10],"data_offsets":[0,40]}})", 32);
  CHECK_THAT(parse_error(b), Contains(kSrc) && Contains("tensor 'w': data_offsets [0, 40] out of range") &&
                                 Contains("32 bytes"));
  const auto c = make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8);
  CHECK_THAT(parse_error(c), Contains(kSrc) && Contains("tensor 'w'") && Contains("end 4 is before begin 8"));
}

TEST_CASE("safetensors rejects overlapping tensors", "[safetensors]") {
  const auto b = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                           12);
  CHECK_THAT(parse_error(b), Contains(kSrc) && Contains("'a'") && Contains("'b'") && Contains("overlap"));
  // Two tensors sharing the same bytes (aliasing) overlap too.
  const auto c = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                           8);
  CHECK_THAT(parse_error(c), Contains(kSrc) && Contains("overlap"));
}

TEST_CASE("safetensors rejects gaps in the data buffer", "[safetensors]") {
  const auto b = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                           20);
  CHECK_THAT(parse_error(b), Contains(kSrc) && Contains("gap") && Contains("bytes [8, 12)") &&
                                 Contains("between 'a' and 'b'"));
  const auto c = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12);
  CHECK_THAT(parse_error(c), Contains(kSrc) && Contains("gap") && Contains("bytes [8, 12)") &&
                                 Contains("after 'a'"));
  const auto d = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
  CHECK_THAT(parse_error(d), Contains("gap") && Contains("bytes [0, 4)") && Contains("before 'a'"));
  CHECK_THAT(parse_error(make_file("{}", 3)), Contains(kSrc) && Contains("gap") && Contains("no tensors"));
}

TEST_CASE("safetensors rejects invalid JSON", "[safetensors]") {
  const auto b = make_file(R"({"a":{"dtype":"F32","shape":[2],)", 8);
  const std::string m = parse_error(b);
  CHECK_THAT(m, Contains(kSrc) && Contains("header is not valid JSON") && Contains("parse error"));
  CHECK_THAT(parse_error(make_file("{\"a\":1} x", 0)), Contains("header is not valid JSON"));
  CHECK_THAT(parse_error(make_file("{\"\xff\":1}", 0)), Contains("header is not valid JSON"));
  // Duplicate keys would silently drop a tensor.
  const auto d = make_file(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                           R"("a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}})",
                           8);
  CHECK_THAT(parse_error(d), Contains(kSrc) && Contains("duplicate key 'a'"));
}

TEST_CASE("safetensors rejects wrong JSON types and missing fields", "[safetensors]") {
  struct Case {
    std::string header, phrase;
  };
  const std::vector<Case> cases = {
      {R"({"t":[1,2]})", "tensor 't': entry must be a JSON object"},
      {R"({"t":{"shape":[1],"data_offsets":[0,4]}})", "tensor 't': missing field 'dtype'"},
      {R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", "tensor 't': missing field 'shape'"},
      {R"({"t":{"dtype":"F32","shape":[1]}})", "tensor 't': missing field 'data_offsets'"},
      {R"({"t":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", "tensor 't': field 'dtype' must be a string"},
      {R"({"t":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", "tensor 't': field 'shape' must be an array"},
      {R"({"t":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", "tensor 't': shape element 0 must be a non-negative integer"},
      {R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "tensor 't': negative dimension -1"},
      {R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "tensor 't': field 'data_offsets' must be an array of 2"},
      {R"({"t":{"dtype":"F32","shape":[1],"data_offsets":{"a":0}}})", "tensor 't': field 'data_offsets' must be an array of 2"},
      {R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}})", "tensor 't': field 'data_offsets' must be an array of 2"},
      {R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[-4,4]}})", "tensor 't': field 'data_offsets' must be an array of 2"},
      {R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", "tensor 't': unexpected field 'extra'"},
      {R"({"__metadata__":[1]})", "__metadata__ must be a JSON object of string to string"},
      {R"({"__metadata__":{"epoch":3}})", "__metadata__ must be a JSON object of string to string, but key 'epoch'"},
      {"[]", "header is not a JSON object"},
  };
  for (const Case& c : cases) {
    INFO("header: " << c.header);
    CHECK_THAT(parse_error(make_file(c.header, 4)), Contains(kSrc) && Contains(c.phrase));
  }
}

TEST_CASE("safetensors rejects a missing file", "[safetensors]") {
  TempDir dir("missing");
  const fs::path p = dir.path / "no_such_model.safetensors";
  CHECK_THROWS_MATCHES(read_safetensors(p), hrnet::IoError,
                       Msg(p.string()) && Msg("cannot open") && Msg("No such file"));
  CHECK_THROWS_MATCHES(read_safetensors(dir.path), hrnet::IoError,
                       Msg(dir.path.string()) && Msg("not a regular file"));
}

// ---- atomic write ----------------------------------------------------------------------------

TEST_CASE("safetensors write is atomic and leaves no temporary file", "[safetensors]") {
  TempDir dir("atomic");
  const fs::path p = dir.path / "ckpt.safetensors";
  SafetensorsFile a, b;
  a.tensors["w"] = to_raw(Tensor<float, CPU>::full(Shape{64}, 1.0f));
  a.metadata["v"] = "old";
  b.tensors["w"] = to_raw(Tensor<float, CPU>::full(Shape{4096}, 2.0f));
  b.metadata["v"] = "new";
  const auto a_bytes = serialize_safetensors(a), b_bytes = serialize_safetensors(b);

  auto only_target_in_dir = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
    return names == std::vector<std::string>{"ckpt.safetensors"};
  };

  write_safetensors(p, a);
  CHECK(read_bytes(p) == a_bytes);
  CHECK(only_target_in_dir());
  write_safetensors(p, b);  // replaces the old contents
  CHECK(read_bytes(p) == b_bytes);
  CHECK(only_target_in_dir());

  // A reader running concurrently with repeated rewrites sees either the old or the new file,
  // never a partial one.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      const auto got = read_bytes(p);
      if (got != a_bytes && got != b_bytes) bad.fetch_add(1);
      reads.fetch_add(1);
    }
  });
  for (int i = 0; i < 40; ++i) write_safetensors(p, i % 2 ? b : a);
  while (reads.load() < 5) std::this_thread::yield();
  stop = true;
  reader.join();
  CHECK(bad.load() == 0);
  CHECK(read_bytes(p) == b_bytes);
  CHECK(only_target_in_dir());

  // A failed write (invalid tensor) leaves the old file untouched.
  SafetensorsFile broken;
  broken.tensors["w"] = RawTensor{DType::F32, {3}, std::vector<std::uint8_t>(5)};
  CHECK_THROWS_AS(write_safetensors(p, broken), hrnet::ShapeError);
  CHECK(read_bytes(p) == b_bytes);
  CHECK(only_target_in_dir());

  // A failed rename (the target is a non-empty directory) removes the temporary file.
  const fs::path d = dir.path / "blocker.safetensors";
  fs::create_directories(d / "inner");
  CHECK_THROWS_MATCHES(write_safetensors(d, a), hrnet::IoError,
                       Msg(d.string()) && Msg("rename"));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"blocker.safetensors", "ckpt.safetensors"});

  // Writing into a missing directory names the path.
  CHECK_THROWS_MATCHES(write_safetensors(dir.path / "nope" / "x.safetensors", a), hrnet::IoError,
                       Msg("x.safetensors") && Msg("No such file"));
}

// ---- interoperability with the python safetensors package ------------------------------------

TEST_CASE("safetensors interoperates with python safetensors", "[safetensors]") {
  if (!python_safetensors_available()) {
    WARN("skipped: python safetensors not installed (python3 -c 'import safetensors, numpy' failed)");
    return;
  }
  TempDir dir("python");
  const fs::path from_py = dir.path / "from_python.safetensors";
  const fs::path from_us = dir.path / "from_hrnet.safetensors";
  const fs::path script = dir.path / "check.py";
  const fs::path log = dir.path / "log.txt";

  // 1. python writes, we read.
  {
    std::ofstream s(script);
    s << R"PY(
import sys, numpy as np
from safetensors.numpy import save_file
t = {
    "a_i64": np.array(-5, dtype=np.int64),
    "b_f64": np.array([[1.5, -2.0, 3.25]], dtype=np.float64),
    "c_conv": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
    "d_f16": np.array([0.5, -1.0, 2.0], dtype=np.float16),
}
save_file(t, sys.argv[1], metadata={"format": "np"})
)PY";
  }
  const std::string cmd1 = "python3 '" + script.string() + "' '" + from_py.string() + "' >'" +
                           log.string() + "' 2>&1";
  const int rc1 = std::system(cmd1.c_str());
  INFO(slurp(log));
  REQUIRE(rc1 == 0);
  const SafetensorsFile g = read_safetensors(from_py);
  CHECK(g.metadata == std::map<std::string, std::string>{{"format", "np"}});
  CHECK(get<std::int64_t>(g, "a_i64")[0] == -5);
  CHECK(get<std::int64_t>(g, "a_i64").rank() == 0);
  CHECK(get<double>(g, "b_f64").to_vector() == std::vector<double>{1.5, -2.0, 3.25});
  const auto c = get<float>(g, "c_conv");
  REQUIRE(c.shape() == Shape{2, 3, 2, 2});
  for (int n = 0; n < 2; ++n)
    for (int ch = 0; ch < 3; ++ch)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 2; ++x) CHECK(c.at(n, ch, y, x) == static_cast<float>(((n * 3 + ch) * 2 + y) * 2 + x));
  const auto d = get<float>(g, "d_f16");
  CHECK(d.to_vector() == std::vector<float>{0.5f, -1.0f, 2.0f});
  // Re-serializing python's file: same layout rules, so normally the same bytes (informational:
  // other versions of the python package may order or pad differently).
  if (serialize_safetensors(g) != read_bytes(from_py))
    WARN("note: python safetensors wrote a valid file whose bytes differ from hrnet's serialization");

  // 2. we write (every dtype, a 4-D tensor and metadata), python reads and checks.
  SafetensorsFile f;
  f.metadata["framework"] = "hrnet";
  auto conv = Tensor<float, CPU>::empty(Shape{2, 3, 2, 2});
  for (int n = 0; n < 2; ++n)
    for (int ch = 0; ch < 3; ++ch)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 2; ++x) conv.at(n, ch, y, x) = static_cast<float>(((n * 3 + ch) * 2 + y) * 2 + x);
  f.tensors["conv"] = to_raw(conv);
  f.tensors["f64"] = to_raw(Tensor<double, CPU>::from_vector(Shape{2}, {0.25, -8.0}));
  f.tensors["f16"] = to_raw(Tensor<half, CPU>::from_vector(Shape{3}, {half(1.0f), half(-0.5f), half(3.0f)}));
  f.tensors["bf16"] = to_raw(Tensor<bfloat16, CPU>::from_vector(Shape{1, 3}, {bfloat16(1.0f), bfloat16(2.0f), bfloat16(-4.0f)}));
  f.tensors["step"] = to_raw(Tensor<std::int64_t, CPU>::from_vector(Shape{}, {123456789012LL}));
  write_safetensors(from_us, f);
  {
    std::ofstream s(script);
    s << R"PY(
import sys, numpy as np
from safetensors import safe_open
with safe_open(sys.argv[1], framework="numpy") as f:
    assert f.metadata() == {"framework": "hrnet"}, f.metadata()
    assert sorted(f.keys()) == ["bf16", "conv", "f16", "f64", "step"], f.keys()
    conv = f.get_tensor("conv")
    assert conv.dtype == np.float32 and conv.shape == (2, 3, 2, 2), conv
    assert (conv == np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)).all(), conv
    f64 = f.get_tensor("f64"); assert f64.dtype == np.float64 and list(f64) == [0.25, -8.0], f64
    f16 = f.get_tensor("f16"); assert f16.dtype == np.float16 and list(f16) == [1.0, -0.5, 3.0], f16
    step = f.get_tensor("step"); assert step.dtype == np.int64 and step.shape == () and int(step) == 123456789012, step
    sl = f.get_slice("bf16")
    assert sl.get_dtype() == "BF16" and list(sl.get_shape()) == [1, 3], (sl.get_dtype(), sl.get_shape())
raw = open(sys.argv[1], "rb").read()
n = int.from_bytes(raw[:8], "little")
import json
h = json.loads(raw[8:8 + n])
b0, b1 = h["bf16"]["data_offsets"]
bf = np.frombuffer(raw[8 + n + b0:8 + n + b1], dtype="<u2").astype(np.uint32) << 16
assert list(bf.view(np.float32)) == [1.0, 2.0, -4.0], bf
print("python read ok")
)PY";
  }
  const std::string cmd2 = "python3 '" + script.string() + "' '" + from_us.string() + "' >'" +
                           log.string() + "' 2>&1";
  const int rc2 = std::system(cmd2.c_str());
  INFO(slurp(log));
  CHECK(rc2 == 0);
}

// ---- hostile input (issue 18: the fuzzing probe) ---------------------------------------------

namespace {
std::string nested(std::size_t depth, const std::string& inner = "") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}
}  // namespace

TEST_CASE("json_limits: nesting limit, every parser error as IoError, values quoted without recursion", "[safetensors][json]") {
  using nlohmann::json;
  // kMaxJsonDepth levels parse; one more is refused while parsing, naming the context
  CHECK(parse_json_text(nested(kMaxJsonDepth), "ctx").is_array());
  CHECK_THROWS_MATCHES(parse_json_text(nested(kMaxJsonDepth + 1), "deep.json"), hrnet::IoError,
                       Msg("deep.json: nesting deeper than 512 levels"));
  CHECK_THROWS_MATCHES(parse_json_text("{\"a\":" + std::string(100000, '['), "open.json"), hrnet::IoError,
                       Msg("open.json: nesting deeper than 512 levels of arrays/objects at byte 516"));
  // brackets inside strings (escaped quotes included) are not nesting
  const json s = parse_json_text("[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\", \"\\\\\"]", "ctx");
  CHECK(s[0].get<std::string>().size() == 2001);
  CHECK(s[1].get<std::string>() == "\\");
  // 1e999 is json::out_of_range (406), not a parse_error: still an IoError naming the file
  CHECK_THROWS_MATCHES(parse_json_text("[1e999]", "big.json"), hrnet::IoError, Msg("big.json: ") && Msg("1e999"));
  CHECK_THROWS_MATCHES(parse_json_text("[1, NaN]", "nan.json"), hrnet::IoError,
                       Msg("nan.json: ") && Msg("NaN and Infinity are not valid JSON"));
  // json_brief / json_desc: containers by size only, scalars cut to 40 characters
  const json deep = parse_json_text(nested(500, "1"), "ctx");
  CHECK(json_brief(deep) == "array of 1");
  CHECK(json_desc(json::object({{"a", 1}, {"b", deep}})) == "object of 2");
  CHECK(json_desc(json("abc")) == "string \"abc\"");
  CHECK(json_desc(json(3)) == "number 3");
  CHECK(json_brief(json(std::string(1000, 'x'))) == "\"" + std::string(36, 'x') + "...");
  CHECK(json_brief(json(nullptr)) == "null");
}

TEST_CASE("json_limits: json_to_integer converts in range, never casts out of range", "[safetensors][json]") {
  using nlohmann::json;
  std::string why;
  CHECK(json_to_integer(json(7), 0, 10, JsonIntegers::Exact, &why) == 7);
  CHECK(json_to_integer(json(-7), -10, 10, JsonIntegers::Exact, &why) == -7);
  CHECK_FALSE(json_to_integer(json(11), 0, 10, JsonIntegers::Exact, &why));
  CHECK(why == "11 is out of range [0, 10]");
  CHECK_FALSE(json_to_integer(json(2.5), 0, 10, JsonIntegers::Exact, &why));
  CHECK_THAT(why, Contains("is not an integer"));
  CHECK(json_to_integer(json(2.5), 0, 10, JsonIntegers::Numeric, &why) == 2);    // truncated, as get<int>
  CHECK(json_to_integer(json(-2.5), -10, 10, JsonIntegers::Numeric, &why) == -2);
  CHECK(json_to_integer(json(true), 0, 10, JsonIntegers::Numeric, &why) == 1);
  CHECK_FALSE(json_to_integer(json(true), 0, 10, JsonIntegers::Exact, &why));
  // the float -> int conversions that were undefined behaviour in get<int>()
  CHECK_FALSE(json_to_integer(json(1e10), 0, 2147483647, JsonIntegers::Numeric, &why));
  CHECK_THAT(why, Contains("out of range [0, 2147483647]"));
  CHECK_FALSE(json_to_integer(json(1e300), INT64_MIN, INT64_MAX, JsonIntegers::Numeric, &why));
  CHECK_FALSE(json_to_integer(json(9223372036854775808.0), INT64_MIN, INT64_MAX, JsonIntegers::Numeric, &why));
  CHECK(json_to_integer(json(-9223372036854775808.0), INT64_MIN, INT64_MAX, JsonIntegers::Numeric, &why) == INT64_MIN);
  CHECK_FALSE(json_to_integer(json(18446744073709551615ull), INT64_MIN, INT64_MAX, JsonIntegers::Exact, &why));
  CHECK_FALSE(json_to_integer(json("3"), 0, 10, JsonIntegers::Numeric, &why));
  CHECK(why == "is a string, not a number");
  CHECK_FALSE(json_to_integer(json::array({1}), 0, 10, JsonIntegers::Numeric, &why));
  CHECK(why == "is an array, not a number");
}

TEST_CASE("safetensors survives deep nesting in the header (S1)", "[safetensors]") {
  // 100000 levels (200 KB): dump() of the value in an error message used to overflow the stack
  const std::string deep = "{\"t\":" + nested(100000) + "}";
  CHECK_THAT(parse_error(make_file(deep, 0)), Contains(kSrc) && Contains("nesting deeper than 512"));
  TempDir dir("deep");
  const fs::path p = dir.path / "deep.safetensors";
  write_bytes(p, make_file(deep, 0));
  CHECK_THROWS_MATCHES(read_safetensors(p), hrnet::IoError, Msg(p.string()) && Msg("nesting deeper than 512"));
  // under the limit, a nested value is described by its size, never dumped
  CHECK_THAT(parse_error(make_file("{\"t\":" + nested(400) + "}", 0)),
             Contains(kSrc) && Contains("tensor 't': entry must be a JSON object, got array of 1"));
  CHECK_THAT(parse_error(make_file(R"({"t":{"dtype":"F32","shape":[-1,)" + nested(400) + R"(],"data_offsets":[0,4]}})", 4)),
             Contains("tensor 't': negative dimension -1 at index 0 of field 'shape'"));
  CHECK_THAT(parse_error(make_file(R"({"t":{"dtype":)" + nested(400) + R"(,"shape":[1],"data_offsets":[0,4]}})", 4)),
             Contains("field 'dtype' must be a string, got array of 1"));
}

TEST_CASE("safetensors rejects shapes whose element count overflows, even with a zero dimension (S2)", "[safetensors]") {
  // [2^62, 2^62, 0] has no elements, but multiplying in order overflows int64 before the 0
  const std::string big = "4611686018427387904";
  const std::string h = R"({"t":{"dtype":"F32","shape":[)" + big + "," + big + R"(,0],"data_offsets":[0,0]}})";
  CHECK_THAT(parse_error(make_file(h, 0)), Contains(kSrc) && Contains("tensor 't': shape [" + big) && Contains("too large"));
  CHECK_FALSE(detail::checked_nbytes({std::int64_t(1) << 62, std::int64_t(1) << 62, 0}, DType::F32));
  CHECK_FALSE(detail::checked_nbytes({0, std::int64_t(1) << 62, 4}, DType::F32));  // bytes overflow
  CHECK(detail::checked_nbytes({0, std::int64_t(1) << 60}, DType::F32) == 0u);
  // a RawTensor built in memory: from_raw and numel refuse it too
  const RawTensor r{DType::F32, {std::int64_t(1) << 62, std::int64_t(1) << 62, 0}, {}};
  CHECK_THROWS_MATCHES(from_raw<float>(r, "r"), hrnet::ShapeError, Msg("'r'") && Msg("too many"));
  CHECK_THROWS_AS(r.numel(), hrnet::ShapeError);
}

// Training logs: the TensorBoard event writer (CRC, framing and encoding byte by byte, then the
// file read back by TensorBoard's own reader) and the CSV log.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "hrnet/train/csv_log.hpp"
#include "hrnet/train/event_writer.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace hrnet;
using namespace hrnet::train;

namespace {

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::temp_directory_path() /
           ("hrnet_logs_" + std::to_string(::getpid()) + "_" + std::to_string(t) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string bytes(std::initializer_list<unsigned> b) {
  std::string s;
  for (unsigned x : b) s.push_back(static_cast<char>(x));
  return s;
}
std::string hex(const std::string& s) {
  std::ostringstream o;
  for (unsigned char c : s) o << "0123456789abcdef"[c >> 4] << "0123456789abcdef"[c & 15] << ' ';
  return o.str();
}
std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}
std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
// read_events.py writes non-finite floats as strings.
double jnum(const nlohmann::json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    return s == "inf" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  return j.get<double>();
}
bool same_float(double got, double expected) {  // TensorBoard stores float32
  const float e = static_cast<float>(expected);
  return std::isnan(e) ? std::isnan(got) : static_cast<float>(got) == e && got == double(e);
}

struct Written {
  std::string tag;
  std::int64_t step;
  double value;
};

}  // namespace

TEST_CASE("crc32c check values", "[logs]") {
  using tfevents::crc32c;
  CHECK(crc32c(std::string_view("123456789")) == 0xE3069283u);
  CHECK(crc32c(std::string_view()) == 0u);
  // iSCSI test vectors (RFC 3720, B.4)
  std::string zeros(32, '\0'), ones(32, '\xff'), up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(static_cast<char>(i));
    down.push_back(static_cast<char>(31 - i));
  }
  CHECK(crc32c(zeros) == 0x8A9136AAu);
  CHECK(crc32c(ones) == 0x62A8AB43u);
  CHECK(crc32c(up) == 0x46DD794Eu);
  CHECK(crc32c(down) == 0x113FDB5Cu);
  // continuing a CRC over a second chunk equals one pass over both
  CHECK(crc32c(std::string_view("56789"), crc32c(std::string_view("1234"))) == 0xE3069283u);
  // mask = rotate right by 15, plus a constant
  CHECK(tfevents::mask_crc(0) == 0xa282ead8u);
  CHECK(tfevents::mask_crc(0xE3069283u) == 0xc78ab0e5u);
}

TEST_CASE("tfevents record framing and event encoding byte by byte", "[logs]") {
  // Expected bytes from protobuf's serializer (tensorboard.compat.proto.event_pb2) and the
  // TFRecord writer's layout, produced independently in Python.
  const std::string event = tfevents::encode_scalar_event(1.5, 3, {{"loss", 0.25}});
  const std::string expected_event =
      bytes({0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f,   // wall_time = 1.5
             0x10, 0x03,                                            // step = 3
             0x2a, 0x0d, 0x0a, 0x0b,                                // summary { value {
             0x0a, 0x04, 0x6c, 0x6f, 0x73, 0x73,                    //   tag = "loss"
             0x15, 0x00, 0x00, 0x80, 0x3e});                        //   simple_value = 0.25f
  INFO("got " << hex(event));
  CHECK(event == expected_event);

  const std::string record = tfevents::frame_record(event);
  const std::string expected_record =
      bytes({0x1a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   // length 26, uint64 LE
             0x12, 0x9b, 0xd8, 0x2d}) +                       // masked crc32c of the length
      expected_event + bytes({0xd0, 0x54, 0xb2, 0x55});       // masked crc32c of the data
  INFO("record " << hex(record));
  CHECK(record == expected_record);

  // Negative int64 step (10-byte varint), several values, +-1 and infinity.
  const std::string e2 = tfevents::encode_scalar_event(2.0, -1, {{"a", -1.0}, {"b", INFINITY}});
  const std::string expected_e2 =
      bytes({0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
             0xff, 0xff, 0xff, 0x01, 0x2a, 0x14, 0x0a, 0x08, 0x0a, 0x01, 0x61, 0x15, 0x00, 0x00, 0x80, 0xbf,
             0x0a, 0x08, 0x0a, 0x01, 0x62, 0x15, 0x00, 0x00, 0x80, 0x7f});
  INFO("e2 " << hex(e2));
  CHECK(e2 == expected_e2);

  const std::string fv = tfevents::encode_file_version_event(1.5);
  INFO("file_version " << hex(fv));
  CHECK(fv == bytes({0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x1a, 0x0d}) + "brain.Event:2");

  // Step 0 is the protobuf default and is left out, as protobuf's serializer does.
  CHECK(tfevents::encode_scalar_event(1.5, 0, {{"loss", 0.25}}) ==
        expected_event.substr(0, 9) + expected_event.substr(11));
}

TEST_CASE("tfevents float conversion and tag checks", "[logs]") {
  // The float32 is the last 4 bytes of a one-value event.
  auto stored = [](double v) {
    const std::string e = tfevents::encode_scalar_event(0.0, 1, {{"x", v}});
    float f;
    std::memcpy(&f, e.data() + e.size() - 4, 4);
    return f;
  };
  const float fmax = std::numeric_limits<float>::max();
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(stored(0.1) == 0.1f);
  CHECK(stored(1e300) == inf);
  CHECK(stored(-1e300) == -inf);
  CHECK(stored(double(fmax)) == fmax);
  CHECK(stored(double(fmax) * (1 + 1e-9)) == fmax);  // within half an ulp: rounds down
  CHECK(stored(double(fmax) + std::ldexp(1.0, 103)) == inf);  // exactly half: ties to even (inf)
  CHECK(std::isnan(stored(std::nan(""))));

  test::check_throws<ValueError>([] { tfevents::encode_scalar_event(0, 1, {{"", 1.0}}); }, "empty scalar tag");
  test::check_throws<ValueError>([] { tfevents::encode_scalar_event(0, 1, {}); }, "no scalar values");
  test::check_throws<ValueError>([] { tfevents::encode_scalar_event(0, 1, {{"bad\xff", 1.0}}); }, "UTF-8");
  test::check_throws<ValueError>([] { tfevents::encode_scalar_event(0, 1, {{"cut\xc3", 1.0}}); }, "UTF-8");
  test::check_throws<ValueError>([] { tfevents::encode_scalar_event(0, 1, {{"\xed\xa0\x80", 1.0}}); }, "UTF-8");
  CHECK_NOTHROW(tfevents::encode_scalar_event(0, 1, {{"val/AP_\xce\xbc \xf0\x9f\x93\x88", 1.0}}));
}

TEST_CASE("EventWriter file name, directory creation, flush per event", "[logs]") {
  TempDir tmp;
  const fs::path dir = tmp.path / "a" / "tb";  // created by the writer
  EventWriter w(dir);
  const std::string name = w.file().filename().string();
  INFO("file " << w.file());
  CHECK(w.file().parent_path() == dir);
  REQUIRE(name.rfind("events.out.tfevents.", 0) == 0);
  const std::string rest = name.substr(std::strlen("events.out.tfevents."));
  const auto dot = rest.find('.');
  REQUIRE(dot != std::string::npos);
  const long long secs = std::stoll(rest.substr(0, dot));
  CHECK(std::abs(double(secs) - now_seconds()) < 60);
  CHECK(rest.size() > dot + 1);  // hostname

  // The file_version record is on disk before anything else is logged, and each add reaches the
  // file while the writer is still open (a killed run keeps it).
  const auto size0 = fs::file_size(w.file());
  CHECK(size0 == 16 + tfevents::encode_file_version_event(0.5).size());
  w.add_scalar("loss", 1.0, 1);
  const auto size1 = fs::file_size(w.file());
  CHECK(size1 == size0 + 16 + tfevents::encode_scalar_event(0.5, 1, {{"loss", 1.0}}).size());
  w.add_scalars({{"loss", 0.5}, {"lr", 0.1}}, 2);
  CHECK(fs::file_size(w.file()) > size1);

  // A second writer in the same directory (a resume, maybe in the same second) gets its own file.
  EventWriter w2(dir);
  CHECK(w2.file() != w.file());
  CHECK(fs::file_size(w.file()) > size1);  // the first file is untouched

  // Moving keeps the file; the moved-from writer refuses to write.
  EventWriter w3(std::move(w2));
  w3.add_scalar("loss", 2.0, 3);
  test::check_throws<ValueError>([&] { w2.add_scalar("loss", 2.0, 3); }, "moved from");

  // A directory that cannot be created: IoError naming it.
  const fs::path blocker = tmp.path / "not_a_dir";
  std::ofstream(blocker) << "x";
  test::check_throws<IoError>([&] { EventWriter bad(blocker / "tb"); }, "not_a_dir");
}

TEST_CASE("EventWriter output read back by TensorBoard", "[logs]") {
  TempDir tmp;
  const fs::path dir = tmp.path / "tb";
  std::vector<Written> written;
  std::vector<fs::path> files;
  const double t0 = now_seconds();
  {
    EventWriter w(dir);
    files.push_back(w.file());
    // negative and huge steps exercise the int64 varint; odd values the float conversion
    for (std::int64_t step : {std::int64_t(-5), std::int64_t(0), std::int64_t(1), std::int64_t(7)}) {
      const double loss = 1.0 / double(step + 10), lr = 1e-3 * double(step + 6);
      w.add_scalars({{"train/loss", loss}, {"train/lr", lr}}, step);
      written.push_back({"train/loss", step, loss});
      written.push_back({"train/lr", step, lr});
    }
    w.add_scalar("val/AP_\xce\xbc", 0.123456789, 7);
    written.push_back({"val/AP_\xce\xbc", 7, 0.123456789});
  }
  {  // resume: a new writer appends a second file to the same directory
    EventWriter w(dir);
    files.push_back(w.file());
    // (steps only grow: TensorBoard drops earlier points of a tag when its step goes back)
    for (std::int64_t step : {std::int64_t(8), std::int64_t(1) << 40}) {
      w.add_scalars({{"train/loss", -2.5e-7 * double(step)}, {"train/lr", 1e300}}, step);
      written.push_back({"train/loss", step, -2.5e-7 * double(step)});
      written.push_back({"train/lr", step, 1e300});
      if (step == 8) {
        w.add_scalar("val/nan", std::nan(""), 9);
        written.push_back({"val/nan", 9, std::nan("")});
      }
    }
  }
  const double t1 = now_seconds();

  const char* py = std::getenv("HRNET_PYTHON");
  const fs::path err = tmp.path / "stderr.txt";
  const std::string cmd = std::string(py && *py ? py : "python3") + " " + sh_quote(HRNET_READ_EVENTS_PY) + " " +
                          sh_quote(dir.string()) + " 2>" + sh_quote(err.string());
  std::string out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == 77) {  // read_events.py: tensorboard not installed
    WARN(out);
    return;
  }
  if (rc == 127) {
    WARN("skipped: no python3 to run " << HRNET_READ_EVENTS_PY << " (set HRNET_PYTHON)");
    return;
  }
  INFO("command: " << cmd << "\nstdout: " << out << "\nstderr: " << read_all(err));
  REQUIRE(rc == 0);
  const auto j = nlohmann::json::parse(out);

  // Record by record, in both files: file_version first, then exactly what we wrote, in order.
  REQUIRE(j["files"].size() == 2);
  std::size_t k = 0;
  for (std::size_t f = 0; f < 2; ++f) {
    const auto& jf = j["files"][f];
    CHECK(jf["name"] == files[f].filename().string());
    const auto& evs = jf["events"];
    REQUIRE(evs.size() >= 2);
    CHECK(evs[0]["file_version"] == "brain.Event:2");
    CHECK(evs[0]["values"].empty());
    for (std::size_t e = 1; e < evs.size(); ++e) {
      const auto& ev = evs[e];
      CHECK_FALSE(ev.contains("file_version"));
      const double wt = ev["wall_time"].get<double>();
      CHECK(wt >= t0);
      CHECK(wt <= t1);
      for (const auto& v : ev["values"]) {
        REQUIRE(k < written.size());
        INFO("value " << k << ": " << written[k].tag << " step " << written[k].step);
        CHECK(v[0] == written[k].tag);
        CHECK(ev["step"].get<std::int64_t>() == written[k].step);
        CHECK(same_float(jnum(v[1]), written[k].value));
        ++k;
      }
    }
  }
  CHECK(k == written.size());

  // The accumulators TensorBoard uses: per tag, every (step, value) across both files.
  for (const char* key : {"scalars", "tensors"}) {
    const auto& acc = j[key];
    std::size_t n = 0;
    for (const auto& [tag, series] : acc.items()) {
      std::vector<Written> expect;
      for (const auto& w : written)
        if (w.tag == tag) expect.push_back(w);
      INFO(key << " tag " << tag);
      REQUIRE(series.size() == expect.size());
      for (std::size_t i = 0; i < expect.size(); ++i) {
        CHECK(series[i][0].get<std::int64_t>() == expect[i].step);
        CHECK(same_float(jnum(series[i][1]), expect[i].value));
        n++;
      }
    }
    INFO(key);
    CHECK(n == written.size());
  }
}

TEST_CASE("CsvLog header once, append, mismatched header", "[logs]") {
  TempDir tmp;
  const fs::path p = tmp.path / "sub" / "log.csv";
  {
    CsvLog log(p, {"epoch", "loss", "note"}, /*append=*/false);
    log.row({0, 1.5, "start"});
    CHECK(lines(p) == std::vector<std::string>{"epoch,loss,note", "0,1.5,start"});  // flushed per row
    log.row({1, 0.25, "a, \"quoted\" note"});
  }
  {  // resume: same header, not repeated
    CsvLog log(p, {"epoch", "loss", "note"}, /*append=*/true);
    log.row({2, -3, std::string("end")});
  }
  CHECK(lines(p) == std::vector<std::string>{"epoch,loss,note", "0,1.5,start", "1,0.25,\"a, \"\"quoted\"\" note\"",
                                             "2,-3,end"});

  // Appending with other columns is refused with both headers in the message; the file is kept.
  const auto before = read_all(p);
  test::check_throws<IoError>([&] { CsvLog log(p, {"epoch", "loss"}, true); }, "its header is 'epoch,loss,note'");
  test::check_throws<IoError>([&] { CsvLog log(p, {"epoch", "loss"}, true); }, "columns 'epoch,loss'");
  CHECK(read_all(p) == before);

  // append = false starts over.
  {
    CsvLog log(p, {"x"}, false);
    log.row(std::vector<double>{4});
  }
  CHECK(lines(p) == std::vector<std::string>{"x", "4"});

  // A missing or empty file gets the header in append mode too.
  const fs::path q = tmp.path / "new.csv";
  std::ofstream(q).close();
  { CsvLog(q, {"a", "b"}, true).row({1, 2}); }
  { CsvLog(tmp.path / "fresh.csv", {"a"}, true).row({1}); }
  CHECK(lines(q) == std::vector<std::string>{"a,b", "1,2"});
  CHECK(lines(tmp.path / "fresh.csv") == std::vector<std::string>{"a", "1"});

  // A row cut off by a killed run: the next row starts on its own line.
  std::ofstream(q, std::ios::app) << "3,";
  { CsvLog(q, {"a", "b"}, true).row({5, 6}); }
  CHECK(lines(q) == std::vector<std::string>{"a,b", "1,2", "3,", "5,6"});

  // Errors: row width, no columns, line break in a column name.
  CsvLog log(tmp.path / "w.csv", {"a", "b"}, false);
  test::check_throws<ValueError>([&] { log.row({1}); }, "row has 1 cells but the log has 2 columns");
  test::check_throws<ValueError>([&] { CsvLog(tmp.path / "e.csv", {}, false); }, "no columns");
  test::check_throws<ValueError>([&] { CsvLog(tmp.path / "e.csv", {"a\nb"}, false); }, "line break");
}

TEST_CASE("CsvLog numbers round-trip exactly", "[logs]") {
  TempDir tmp;
  const fs::path p = tmp.path / "num.csv";
  const std::vector<double> values = {0.1,
                                      1.0 / 3.0,
                                      -2.0 / 7.0,
                                      3.141592653589793,
                                      1e-300,
                                      std::numeric_limits<double>::denorm_min(),
                                      std::numeric_limits<double>::max(),
                                      -0.0,
                                      123456789012345678.0,
                                      1e22,
                                      0.30000000000000004};
  std::vector<std::string> cols;
  for (std::size_t i = 0; i < values.size(); ++i) cols.push_back("c" + std::to_string(i));
  {
    CsvLog log(p, cols, false);
    log.row(values);
    log.row({std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(), 0.1f,
             std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), std::nan(""), true,
             std::uint64_t(18446744073709551615ull), 7, "x", ""});
  }
  const auto ls = lines(p);
  REQUIRE(ls.size() == 3);
  const auto cells = split(ls[1]);
  REQUIRE(cells.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("value " << i << " written as '" << cells[i] << "'");
    const double back = std::strtod(cells[i].c_str(), nullptr);
    CHECK(std::memcmp(&back, &values[i], sizeof back) == 0);  // bit-exact, sign of -0 included
  }
  CHECK(cells[0] == "0.1");  // shortest form, not 17 digits
  CHECK(split(ls[2]) == std::vector<std::string>{"9223372036854775807", "-9223372036854775808", "0.1", "inf",
                                                 "-inf", "nan", "1", "18446744073709551615", "7", "x", ""});
  CHECK(std::strtof("0.1", nullptr) == 0.1f);  // a float cell is shortest for float
}

// TensorBoard event files (see train/event_writer.hpp): protobuf wire format and TFRecord framing
// written by hand, since the library must not depend on protobuf for a handful of fields.
#include "hrnet/train/event_writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

#include "hrnet/core/error.hpp"
#include "hrnet/io/tfrecord.hpp"

namespace hrnet::train {
namespace tfevents {
namespace {

// Protobuf wire format: tag = (field << 3) | wire type.
enum Wire : std::uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, std::uint32_t field, Wire wire) { put_varint(out, (field << 3) | wire); }

template <class U>
void put_le(std::string& out, U v) {  // fixed-width little endian, whatever the host order
  for (std::size_t i = 0; i < sizeof(U); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_double(std::string& out, std::uint32_t field, double v) {
  put_tag(out, field, kFixed64);
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_le(out, bits);
}
void put_float(std::string& out, std::uint32_t field, float v) {
  put_tag(out, field, kFixed32);
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_le(out, bits);
}
void put_bytes(std::string& out, std::uint32_t field, std::string_view bytes) {
  put_tag(out, field, kLen);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// double -> float with round-to-nearest-even; out-of-range values (undefined behaviour for a
// plain cast) go to +-inf exactly as IEEE rounding would send them.
float to_float(double v) {
  // Halfway between FLT_MAX and the next power of two: from here on IEEE rounds to infinity.
  const double overflow = double(FLT_MAX) + std::ldexp(1.0, 127 - 24);
  if (std::isfinite(v) && std::abs(v) > double(FLT_MAX)) {
    constexpr float inf = std::numeric_limits<float>::infinity();
    if (std::abs(v) >= overflow) return v > 0 ? inf : -inf;
    return v > 0 ? FLT_MAX : -FLT_MAX;
  }
  return static_cast<float>(v);
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid UTF-8.
    static constexpr std::uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

std::string frame_record(std::string_view data) { return io::frame_tfrecord(data); }

// Event: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5.
// Summary: value = 1 (repeated). Summary.Value: tag = 1 (string), simple_value = 2 (float).
// Fields are written in field order and step 0 is omitted, as protobuf's own serializer does.
std::string encode_file_version_event(double wall_time, std::string_view version) {
  std::string out;
  put_double(out, 1, wall_time);
  put_bytes(out, 3, version);
  return out;
}

std::string encode_scalar_event(double wall_time, std::int64_t step,
                                const std::vector<std::pair<std::string, double>>& values) {
  HRNET_CHECK(!values.empty(), ValueError, "tensorboard event: no scalar values at step " << step);
  std::string summary;
  for (const auto& [tag, value] : values) {
    HRNET_CHECK(!tag.empty(), ValueError, "tensorboard event: empty scalar tag at step " << step);
    HRNET_CHECK(valid_utf8(tag), ValueError, "tensorboard event: tag is not valid UTF-8: '" << tag << "'");
    std::string v;
    put_bytes(v, 1, tag);
    put_float(v, 2, to_float(value));
    put_bytes(summary, 1, v);
  }
  std::string out;
  put_double(out, 1, wall_time);
  // int64 is encoded as the varint of its two's complement (10 bytes when negative).
  if (step != 0) {
    put_tag(out, 2, kVarint);
    put_varint(out, static_cast<std::uint64_t>(step));
  }
  put_bytes(out, 5, summary);
  return out;
}

}  // namespace tfevents

namespace {
double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}
std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string h(buf);
  for (char& c : h)
    if (c == '/') c = '_';  // never a path separator inside the file name
  return h;
}
}  // namespace

void EventWriter::Closer::operator()(std::FILE* f) const { std::fclose(f); }

EventWriter::EventWriter(std::filesystem::path dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  HRNET_CHECK(!ec && std::filesystem::is_directory(dir), IoError,
              "EventWriter: cannot create log directory " << dir << ": " << (ec ? ec.message() : "not a directory"));
  const double wall = now_seconds();
  const std::string base = "events.out.tfevents." + std::to_string(static_cast<long long>(wall)) + "." + host_name();
  // "x": exclusive creation, so two writers (a resume in the same second, another process)
  // never share or truncate a file.
  for (int n = 0; n < 1000 && !file_; ++n) {
    path_ = dir / (n == 0 ? base : base + "." + std::to_string(n));
    file_.reset(std::fopen(path_.c_str(), "wbx"));
    const int err = errno;
    HRNET_CHECK(file_ || err == EEXIST, IoError, "EventWriter: cannot create " << path_ << ": " << std::strerror(err));
  }
  HRNET_CHECK(file_, IoError, "EventWriter: no free event file name for " << (dir / base));
  write_record(tfevents::encode_file_version_event(wall));
  flush();
}

EventWriter::~EventWriter() = default;
EventWriter::EventWriter(EventWriter&&) noexcept = default;
EventWriter& EventWriter::operator=(EventWriter&&) noexcept = default;

void EventWriter::write_record(std::string_view data) {
  HRNET_CHECK(file_, ValueError, "EventWriter: used after being moved from");
  const std::string rec = tfevents::frame_record(data);
  const bool ok = std::fwrite(rec.data(), 1, rec.size(), file_.get()) == rec.size();
  const int err = errno;
  HRNET_CHECK(ok, IoError, "EventWriter: write to " << path_ << " failed: " << std::strerror(err));
}

void EventWriter::add_scalars(const std::vector<std::pair<std::string, double>>& values, std::int64_t step) {
  write_record(tfevents::encode_scalar_event(now_seconds(), step, values));
  flush();
}

void EventWriter::flush() {
  HRNET_CHECK(file_, ValueError, "EventWriter: used after being moved from");
  const bool ok = std::fflush(file_.get()) == 0;
  const int err = errno;
  HRNET_CHECK(ok, IoError, "EventWriter: flush of " << path_ << " failed: " << std::strerror(err));
}

}  // namespace hrnet::train

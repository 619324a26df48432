// TFRecord shards and tf.Example (see io/tfrecord.hpp): framing checked against the file's real
// size before any allocation, and a protobuf reader limited to the fixed tf.Example schema.
#include "hrnet/io/tfrecord.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <limits>
#include <sstream>
#include <utility>

#include "hrnet/core/error.hpp"
#include "hrnet/io/crc32c.hpp"

namespace hrnet::io {

static_assert(std::endian::native == std::endian::little,
              "the TFRecord reader copies little-endian integers and floats as they are");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559, "tf.Example floats are IEEE-754 binary32");

namespace {

template <class U>
void put_le(std::string& out, U v) {
  for (std::size_t i = 0; i < sizeof(U); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
template <class U>
U get_le(const unsigned char* p) {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(p[i]) << (8 * i);
  return v;
}

std::string hex32(std::uint32_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << std::setw(8) << std::setfill('0') << v;
  return s.str();
}

}  // namespace

std::string frame_tfrecord(std::string_view data) {
  std::string out;
  out.reserve(data.size() + kTfRecordHeaderSize + kTfRecordFooterSize);
  put_le(out, static_cast<std::uint64_t>(data.size()));
  put_le(out, mask_crc(crc32c(out.data(), 8)));
  out.append(data);
  put_le(out, mask_crc(crc32c(data)));
  return out;
}

// ---- TfRecordFile ----------------------------------------------------------------------------

TfRecordFile::TfRecordFile(std::filesystem::path shard) : path_(std::move(shard)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  const int err = errno;
  HRNET_CHECK(fd_ >= 0, IoError, "tfrecord shard '" << path_.string() << "': cannot open: " << std::strerror(err));
  struct stat st {};
  const bool stat_ok = ::fstat(fd_, &st) == 0;
  const int stat_err = errno;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    HRNET_THROW(IoError, "tfrecord shard '" << path_.string() << "': "
                                            << (stat_ok ? "not a regular file" : std::strerror(stat_err)));
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

TfRecordFile::~TfRecordFile() {
  if (fd_ >= 0) ::close(fd_);
}
TfRecordFile::TfRecordFile(TfRecordFile&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), size_(o.size_) {}
TfRecordFile& TfRecordFile::operator=(TfRecordFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    size_ = o.size_;
  }
  return *this;
}

std::string TfRecordFile::where(std::uint64_t offset) const {
  std::ostringstream s;
  s << "tfrecord shard '" << path_.string() << "', record at byte offset " << offset;
  return s.str();
}

void TfRecordFile::pread_exact(void* dst, std::size_t n, std::uint64_t at, std::uint64_t record,
                               const char* what) const {
  HRNET_CHECK(fd_ >= 0, ValueError, "TfRecordFile: used after being moved from");
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    const int err = errno;
    HRNET_CHECK(got > 0, IoError,
                where(record) << ": reading the " << what << " at byte " << at << " failed: "
                              << (got == 0 ? "unexpected end of file (did the shard change while open?)"
                                           : std::strerror(err)));
    p += got;
    n -= static_cast<std::size_t>(got);
    at += static_cast<std::uint64_t>(got);
  }
}

TfRecordRef TfRecordFile::header(std::uint64_t offset) const {
  HRNET_CHECK(offset <= size_, IoError, where(offset) << ": offset past the end of the shard (" << size_ << " bytes)");
  const std::uint64_t left = size_ - offset;
  HRNET_CHECK(left >= 8, IoError,
              where(offset) << ": truncated in the record length (" << left << " of 8 bytes; the shard is " << size_
                            << " bytes)");
  HRNET_CHECK(left >= kTfRecordHeaderSize, IoError,
              where(offset) << ": truncated in the length CRC (" << left - 8 << " of 4 bytes; the shard is "
                            << size_ << " bytes)");
  unsigned char head[kTfRecordHeaderSize];
  pread_exact(head, sizeof head, offset, offset, "record header");
  const std::uint32_t stored = get_le<std::uint32_t>(head + 8);
  const std::uint32_t computed = mask_crc(crc32c(head, 8));
  HRNET_CHECK(stored == computed, IoError,
              where(offset) << ": length CRC mismatch (stored " << hex32(stored) << ", computed " << hex32(computed)
                            << "): the length is corrupt or this offset is not the start of a record");
  const std::uint64_t length = get_le<std::uint64_t>(head);
  const std::uint64_t after_header = left - kTfRecordHeaderSize;
  HRNET_CHECK(length <= after_header, IoError,
              where(offset) << ": truncated in the data: the record length " << length << " runs past the end of the shard (only "
                            << after_header << " bytes follow the header)");
  HRNET_CHECK(after_header - length >= kTfRecordFooterSize, IoError,
              where(offset) << ": truncated in the data CRC (" << after_header - length << " of 4 bytes after "
                            << length << " bytes of data)");
  return TfRecordRef{offset, length};
}

std::string TfRecordFile::read(std::uint64_t offset) const {
  const TfRecordRef ref = header(offset);  // the length is known to fit in the file from here on
  std::string data(static_cast<std::size_t>(ref.length), '\0');
  pread_exact(data.data(), data.size(), offset + kTfRecordHeaderSize, offset, "record data");
  unsigned char foot[kTfRecordFooterSize];
  pread_exact(foot, sizeof foot, offset + kTfRecordHeaderSize + ref.length, offset, "data CRC");
  const std::uint32_t stored = get_le<std::uint32_t>(foot);
  const std::uint32_t computed = mask_crc(crc32c(data));
  HRNET_CHECK(stored == computed, IoError,
              where(offset) << ": data CRC mismatch (stored " << hex32(stored) << ", computed " << hex32(computed)
                            << " over " << ref.length << " bytes): the record is corrupt");
  return data;
}

// ---- TfRecordIndex ---------------------------------------------------------------------------

TfRecordIndex TfRecordIndex::build(const std::filesystem::path& shard, Verify verify) {
  TfRecordFile file(shard);
  TfRecordIndex index;
  index.shard_ = shard;
  index.file_size_ = file.size();
  std::uint64_t pos = 0;
  while (pos < file.size()) {
    const TfRecordRef ref = file.header(pos);
    if (verify == Verify::kData) (void)file.read(pos);
    index.records_.push_back(ref);
    pos = ref.end();
  }
  return index;
}

// ---- tf.Example: reading ---------------------------------------------------------------------

const char* feature_kind_name(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::kNone: return "none";
    case FeatureKind::kBytes: return "bytes_list";
    case FeatureKind::kFloat: return "float_list";
    case FeatureKind::kInt64: return "int64_list";
  }
  return "?";
}

namespace {

// Protobuf wire types.
enum Wire : std::uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

// A key as it appears in messages: quoted, control bytes escaped, long keys shortened.
std::string show_key(std::string_view key) {
  std::ostringstream s;
  s << '\'';
  const std::size_t shown = std::min<std::size_t>(key.size(), 120);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c == 0x7f || c == '\\' || c == '\'')
      s << "\\x" << std::hex << std::setw(2) << std::setfill('0') << int(c) << std::dec;
    else
      s << key[i];
  }
  if (shown < key.size()) s << "...(" << key.size() << " bytes)";
  s << '\'';
  return s.str();
}

// The bytes of one message inside the record: [pos, end). Positions are record offsets, so errors
// can say where in the record they are.
struct Cursor {
  const unsigned char* base;
  std::size_t pos, end;
  bool done() const { return pos >= end; }
  std::size_t left() const { return end - pos; }
};

class ExampleParser {
 public:
  ExampleParser(std::string_view data, const std::string& source) : data_(data), source_(source) {}

  Example parse() {
    Example ex;
    Cursor c{reinterpret_cast<const unsigned char*>(data_.data()), 0, data_.size()};
    while (!c.done()) {
      const auto [field, wire] = tag(c, "Example");
      if (field == 1) {
        expect_wire(wire, kLen, c, "Example.features");
        Cursor sub = submessage(c, "Example.features");
        features(sub, ex);
      } else {
        skip(c, wire, "Example");
      }
    }
    return ex;
  }

 private:
  [[noreturn]] void fail(const std::string& field, const std::string& what, std::size_t at) const {
    HRNET_THROW(IoError, source_ << ": tf.Example does not parse: " << field << ": " << what << " at byte " << at
                                 << " of the record (" << data_.size() << " bytes)");
  }

  std::uint64_t varint(Cursor& c, const std::string& field) const {
    const std::size_t start = c.pos;
    std::uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (c.done()) fail(field, "varint runs past the end of its message", start);
      const unsigned char b = c.base[c.pos++];
      if (i == 9 && (b & 0x80)) fail(field, "varint longer than 10 bytes", start);
      // The 10th byte holds only bit 63: anything more overflows 64 bits.
      if (i == 9 && b > 1) fail(field, "varint overflows 64 bits", start);
      v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) return v;
    }
    return v;  // not reached: the 10th byte returns or fails above
  }

  std::pair<std::uint32_t, std::uint32_t> tag(Cursor& c, const std::string& message) const {
    const std::size_t at = c.pos;
    const std::uint64_t t = varint(c, message + " (field tag)");
    const std::uint64_t field = t >> 3;
    const auto wire = static_cast<std::uint32_t>(t & 7);
    if (field == 0 || field > 0x1fffffff) fail(message, "invalid field number " + std::to_string(field), at);
    return {static_cast<std::uint32_t>(field), wire};
  }

  void expect_wire(std::uint32_t wire, std::uint32_t want, const Cursor& c, const std::string& field) const {
    if (wire != want)
      fail(field, "wrong wire type " + std::to_string(wire) + " (expected " + std::to_string(want) + ")",
           c.pos - 1);  // the tag's last byte
  }

  // A length-delimited payload: the length checked against what its message has left.
  Cursor submessage(Cursor& c, const std::string& field) const {
    const std::size_t at = c.pos;
    const std::uint64_t n = varint(c, field + " (length)");
    if (n > c.left())
      fail(field, "length " + std::to_string(n) + " runs past the end of its message (" + std::to_string(c.left()) +
                      " bytes left)",
           at);
    Cursor sub{c.base, c.pos, c.pos + static_cast<std::size_t>(n)};
    c.pos = sub.end;
    return sub;
  }

  void skip(Cursor& c, std::uint32_t wire, const std::string& message) const {
    const std::size_t at = c.pos;
    switch (wire) {
      case kVarint: (void)varint(c, message + " (unknown varint field)"); return;
      case kLen: (void)submessage(c, message + " (unknown field)"); return;
      case kFixed64:
      case kFixed32: {
        const std::size_t n = wire == kFixed64 ? 8 : 4;
        if (c.left() < n) fail(message, "unknown fixed-size field runs past the end of its message", at);
        c.pos += n;
        return;
      }
      case kStartGroup:
      case kEndGroup: fail(message, "group fields (wire type 3/4) are not part of tf.Example", at);
      default: fail(message, "invalid wire type " + std::to_string(wire), at);
    }
  }

  void features(Cursor& c, Example& ex) const {
    while (!c.done()) {
      const auto [field, wire] = tag(c, "Features");
      if (field == 1) {
        expect_wire(wire, kLen, c, "Features.feature");
        Cursor entry = submessage(c, "Features.feature");
        map_entry(entry, ex);
      } else {
        skip(c, wire, "Features");
      }
    }
  }

  // map<string, Feature> entry {key = 1; value = 2}. The key may come after the value, so the
  // value spans are collected first and parsed once the key is known (for the messages).
  void map_entry(Cursor& c, Example& ex) const {
    std::string key;
    std::vector<Cursor> values;
    while (!c.done()) {
      const auto [field, wire] = tag(c, "Features.feature (map entry)");
      if (field == 1) {
        expect_wire(wire, kLen, c, "Features.feature.key");
        const Cursor k = submessage(c, "Features.feature.key");
        key.assign(reinterpret_cast<const char*>(k.base + k.pos), k.left());
      } else if (field == 2) {
        expect_wire(wire, kLen, c, "Features.feature.value");
        values.push_back(submessage(c, "Features.feature.value"));
      } else {
        skip(c, wire, "Features.feature (map entry)");
      }
    }
    const std::string name = "feature[" + show_key(key) + "]";
    FeatureValue value;  // the last duplicate key wins, repeated values of one entry merge
    for (Cursor& v : values) feature(v, name, value);
    ex.features.insert_or_assign(std::move(key), std::move(value));
  }

  // Feature {oneof kind: bytes_list = 1, float_list = 2, int64_list = 3}: a list of another kind
  // replaces the one held, a list of the same kind is merged into it (protobuf's semantics).
  void feature(Cursor& c, const std::string& name, FeatureValue& value) const {
    while (!c.done()) {
      const auto [field, wire] = tag(c, name);
      if (field < 1 || field > 3) {
        skip(c, wire, name);
        continue;
      }
      const auto kind = static_cast<FeatureKind>(field);
      const std::string list = name + "." + feature_kind_name(kind);
      expect_wire(wire, kLen, c, list);
      Cursor sub = submessage(c, list);
      switch (kind) {
        case FeatureKind::kBytes: bytes_list(sub, list, as<std::vector<std::string>>(value)); break;
        case FeatureKind::kFloat: float_list(sub, list, as<std::vector<float>>(value)); break;
        default: int64_list(sub, list, as<std::vector<std::int64_t>>(value)); break;
      }
    }
  }

  template <class V>
  static V& as(FeatureValue& value) {
    if (!std::holds_alternative<V>(value)) value = V{};
    return std::get<V>(value);
  }

  void bytes_list(Cursor& c, const std::string& name, std::vector<std::string>& out) const {
    while (!c.done()) {
      const auto [field, wire] = tag(c, name);
      if (field != 1) {
        skip(c, wire, name);
        continue;
      }
      expect_wire(wire, kLen, c, name + ".value");
      const Cursor v = submessage(c, name + ".value");
      out.emplace_back(reinterpret_cast<const char*>(v.base + v.pos), v.left());
    }
  }

  void float_list(Cursor& c, const std::string& name, std::vector<float>& out) const {
    auto take = [&](Cursor& from, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i, from.pos += 4) {
        const std::uint32_t bits = get_le<std::uint32_t>(from.base + from.pos);
        out.push_back(std::bit_cast<float>(bits));
      }
    };
    while (!c.done()) {
      const auto [field, wire] = tag(c, name);
      if (field != 1) {
        skip(c, wire, name);
        continue;
      }
      if (wire == kLen) {  // packed
        const std::size_t at = c.pos;
        Cursor packed = submessage(c, name + ".value (packed)");
        if (packed.left() % 4 != 0)
          fail(name + ".value (packed)", "length " + std::to_string(packed.left()) + " is not a multiple of 4", at);
        out.reserve(out.size() + packed.left() / 4);
        take(packed, packed.left() / 4);
      } else if (wire == kFixed32) {  // unpacked
        if (c.left() < 4) fail(name + ".value", "float runs past the end of its message", c.pos);
        take(c, 1);
      } else {
        expect_wire(wire, kLen, c, name + ".value");
      }
    }
  }

  void int64_list(Cursor& c, const std::string& name, std::vector<std::int64_t>& out) const {
    while (!c.done()) {
      const auto [field, wire] = tag(c, name);
      if (field != 1) {
        skip(c, wire, name);
        continue;
      }
      if (wire == kLen) {  // packed
        Cursor packed = submessage(c, name + ".value (packed)");
        while (!packed.done()) out.push_back(static_cast<std::int64_t>(varint(packed, name + ".value (packed)")));
      } else if (wire == kVarint) {  // unpacked
        out.push_back(static_cast<std::int64_t>(varint(c, name + ".value")));
      } else {
        expect_wire(wire, kLen, c, name + ".value");
      }
    }
  }

  std::string_view data_;
  const std::string& source_;
};

}  // namespace

Example parse_example(std::string_view data, std::string source) {
  Example ex = ExampleParser(data, source).parse();
  ex.source = std::move(source);
  return ex;
}

// ---- Example accessors -----------------------------------------------------------------------

namespace {
template <class V>
const V& list_of(const Example& ex, std::string_view key, FeatureKind want) {
  const auto it = ex.features.find(key);
  HRNET_CHECK(it != ex.features.end(), IoError,
              ex.source << ": tf.Example has no feature " << show_key(key) << " (it has " << ex.features.size()
                        << " features)");
  if (const V* v = std::get_if<V>(&it->second)) return *v;
  static const V kEmpty{};
  if (kind_of(it->second) == FeatureKind::kNone) return kEmpty;  // as TensorFlow: an empty list of any kind
  HRNET_THROW(IoError, ex.source << ": tf.Example feature " << show_key(key) << " is of kind "
                                 << feature_kind_name(kind_of(it->second)) << ", expected "
                                 << feature_kind_name(want));
}
}  // namespace

FeatureKind Example::kind(std::string_view key) const {
  const auto it = features.find(key);
  HRNET_CHECK(it != features.end(), IoError, source << ": tf.Example has no feature " << show_key(key));
  return kind_of(it->second);
}
const std::vector<std::string>& Example::bytes(std::string_view key) const {
  return list_of<std::vector<std::string>>(*this, key, FeatureKind::kBytes);
}
const std::vector<float>& Example::floats(std::string_view key) const {
  return list_of<std::vector<float>>(*this, key, FeatureKind::kFloat);
}
const std::vector<std::int64_t>& Example::int64s(std::string_view key) const {
  return list_of<std::vector<std::int64_t>>(*this, key, FeatureKind::kInt64);
}
const std::string& Example::bytes1(std::string_view key) const {
  const auto& v = bytes(key);
  HRNET_CHECK(v.size() == 1, IoError,
              source << ": tf.Example feature " << show_key(key) << " holds " << v.size() << " values, expected 1");
  return v[0];
}
std::int64_t Example::int64_1(std::string_view key) const {
  const auto& v = int64s(key);
  HRNET_CHECK(v.size() == 1, IoError,
              source << ": tf.Example feature " << show_key(key) << " holds " << v.size() << " values, expected 1");
  return v[0];
}

// ---- tf.Example: writing ---------------------------------------------------------------------

namespace {
void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_len(std::string& out, std::uint32_t field, std::string_view payload) {
  put_varint(out, (field << 3) | kLen);
  put_varint(out, payload.size());
  out.append(payload);
}
}  // namespace

std::string encode_example(const Example& example) {
  std::string features;
  for (const auto& [key, value] : example.features) {
    std::string list;
    switch (kind_of(value)) {
      case FeatureKind::kNone: break;
      case FeatureKind::kBytes:
        for (const auto& s : std::get<std::vector<std::string>>(value)) put_len(list, 1, s);
        break;
      case FeatureKind::kFloat: {
        const auto& v = std::get<std::vector<float>>(value);
        std::string packed;
        for (float f : v) put_le(packed, std::bit_cast<std::uint32_t>(f));
        if (!v.empty()) put_len(list, 1, packed);  // protobuf omits an empty packed field
        break;
      }
      case FeatureKind::kInt64: {
        const auto& v = std::get<std::vector<std::int64_t>>(value);
        std::string packed;
        for (std::int64_t x : v) put_varint(packed, static_cast<std::uint64_t>(x));
        if (!v.empty()) put_len(list, 1, packed);
        break;
      }
    }
    std::string feature;
    if (kind_of(value) != FeatureKind::kNone) put_len(feature, static_cast<std::uint32_t>(value.index()), list);
    std::string entry;
    put_len(entry, 1, key);
    put_len(entry, 2, feature);
    put_len(features, 1, entry);
  }
  std::string out;
  put_len(out, 1, features);
  return out;
}

// ---- ImageNet --------------------------------------------------------------------------------

ImageNetRecord imagenet_record(const Example& example) {
  ImageNetRecord r;
  r.encoded = example.bytes1("image/encoded");
  r.label = example.int64_1("image/class/label");
  if (example.has("image/class/text")) {
    const auto& text = example.bytes("image/class/text");
    HRNET_CHECK(text.size() <= 1, IoError,
                example.source << ": tf.Example feature 'image/class/text' holds " << text.size()
                               << " values, expected 1");
    if (!text.empty()) r.text = text[0];
  }
  static constexpr const char* kBox[4] = {"image/object/bbox/xmin", "image/object/bbox/ymin",
                                          "image/object/bbox/xmax", "image/object/bbox/ymax"};
  int present = 0;
  for (const char* k : kBox) present += example.has(k) ? 1 : 0;
  if (present == 0) return r;
  HRNET_CHECK(present == 4, IoError,
              example.source << ": tf.Example has only " << present
                             << " of the 4 lists image/object/bbox/{xmin,ymin,xmax,ymax}");
  const auto& xmin = example.floats(kBox[0]);
  const auto& ymin = example.floats(kBox[1]);
  const auto& xmax = example.floats(kBox[2]);
  const auto& ymax = example.floats(kBox[3]);
  HRNET_CHECK(ymin.size() == xmin.size() && xmax.size() == xmin.size() && ymax.size() == xmin.size(), IoError,
              example.source << ": tf.Example bounding box lists differ in length (xmin " << xmin.size() << ", ymin "
                             << ymin.size() << ", xmax " << xmax.size() << ", ymax " << ymax.size() << ")");
  r.boxes.reserve(xmin.size());
  for (std::size_t i = 0; i < xmin.size(); ++i) r.boxes.push_back({xmin[i], ymin[i], xmax[i], ymax[i]});
  return r;
}

// ---- shards ----------------------------------------------------------------------------------

std::vector<std::filesystem::path> list_tfrecord_shards(const std::filesystem::path& dir, std::string_view split) {
  namespace fs = std::filesystem;
  std::error_code ec;
  HRNET_CHECK(fs::is_directory(dir, ec), IoError, "tfrecord shards: '" << dir.string() << "' is not a directory");
  const std::string prefix = std::string(split) + "-";
  std::vector<fs::path> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::size_t of = name.find("-of-", prefix.size());
    // "<split>-*-of-*" with both stars non-empty, as the shard writers name them
    if (of == std::string::npos || of == prefix.size() || of + 4 >= name.size()) continue;
    if (!fs::is_regular_file(it->path(), ec)) continue;  // follows symlinks
    out.push_back(it->path());
  }
  HRNET_CHECK(!ec, IoError, "tfrecord shards: cannot list '" << dir.string() << "': " << ec.message());
  HRNET_CHECK(!out.empty(), IoError,
              "tfrecord shards: no file " << prefix << "*-of-* in '" << dir.string() << "'");
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::filesystem::path> shards_for_rank(const std::vector<std::filesystem::path>& shards, int rank,
                                                   int world) {
  HRNET_CHECK(world >= 1, ValueError, "shards_for_rank: world size must be >= 1, got " << world);
  HRNET_CHECK(rank >= 0 && rank < world, ValueError,
              "shards_for_rank: rank " << rank << " outside [0, " << world << ")");
  std::vector<std::filesystem::path> out;
  for (std::size_t i = static_cast<std::size_t>(rank); i < shards.size(); i += static_cast<std::size_t>(world))
    out.push_back(shards[i]);
  return out;
}

}  // namespace hrnet::io

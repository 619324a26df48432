// The safetensors reader and writer (see hrnet/io/safetensors.hpp for the format and the rules).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/json_limits.hpp"

namespace hrnet::io {

namespace detail {

std::optional<DType> parse_dtype_name(std::string_view s) {
  if (s == "F64") return DType::F64;
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "I64") return DType::I64;
  return std::nullopt;
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::ostringstream o;
  o << '[';
  for (std::size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ']';
  return o.str();
}

// Quoted, escaped, printable rendering of a name taken from the file (for messages).
std::string quote_name(const std::string& s) {
  std::string out = "'";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

// Number of bytes a tensor of `shape` and `dtype` needs; nullopt on a negative dimension or when the
// element count or byte count of the non-zero dimensions overflows int64, even if another dimension
// is zero (the element count is then 0, but code that multiplies the dimensions in order, as
// Shape::numel did, would overflow first: [2^62, 2^62, 0]).
std::optional<std::uint64_t> checked_nbytes(const std::vector<std::int64_t>& shape, DType dt) {
  constexpr std::uint64_t kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t n = dtype_size(dt);
  bool zero = false;
  for (std::int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d == 0) {
      zero = true;
      continue;
    }
    if (__builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n) || n > kMax) return std::nullopt;
  }
  return zero ? 0 : n;
}

std::string errno_str(int e) { return std::strerror(e); }

}  // namespace detail

// Throws IoError "<source>: <message> [at file:line]".
#define HRNET_ST_FAIL(msg) HRNET_THROW(IoError, source_name << ": " << msg)

SafetensorsFile parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& source_name) {
  using nlohmann::json;
  using detail::quote_name;
  const std::uint64_t size = bytes.size();
  if (size < 8)
    HRNET_ST_FAIL("truncated: header length field needs 8 bytes, file has " << size);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[static_cast<std::size_t>(i)];
  if (header_len > size - 8)
    HRNET_ST_FAIL("header length " << header_len << " runs past the end of the file (size " << size
                                   << ")");
  if (header_len > kMaxSafetensorsHeaderBytes)
    HRNET_ST_FAIL("header length " << header_len << " exceeds the limit of "
                                   << kMaxSafetensorsHeaderBytes << " bytes");
  if (header_len < 2)
    HRNET_ST_FAIL("header length " << header_len << " is too small for a JSON object (need at least 2 bytes for '{}')");
  const std::uint8_t* hbeg = bytes.data() + 8;
  const std::uint8_t* hend = hbeg + header_len;
  if (hbeg[0] != '{')
    HRNET_ST_FAIL("header is not a JSON object: it must start with '{', found byte 0x"
                  << std::hex << static_cast<int>(hbeg[0]) << std::dec
                  << (hbeg[0] >= 0x20 && hbeg[0] < 0x7f
                          ? std::string(" ('") + static_cast<char>(hbeg[0]) + "')"
                          : std::string()));

  // Parse, rejecting duplicate keys in any object (nlohmann would silently keep the last one).
  json header;
  {
    std::vector<std::set<std::string>> keys_stack;
    std::string dup;
    auto cb = [&](int /*depth*/, json::parse_event_t ev, json& parsed) -> bool {
      if (ev == json::parse_event_t::object_start) {
        keys_stack.emplace_back();
      } else if (ev == json::parse_event_t::object_end) {
        if (!keys_stack.empty()) keys_stack.pop_back();
      } else if (ev == json::parse_event_t::key && !keys_stack.empty()) {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (!keys_stack.back().insert(k).second && dup.empty()) dup = k;
      }
      return true;
    };
    // (the shared JSON entry point: depth limit, every parser exception as an IoError naming the file)
    header = parse_json_text(std::string_view(reinterpret_cast<const char*>(hbeg), header_len),
                             source_name + ": header is not valid JSON", cb);
    if (!dup.empty()) HRNET_ST_FAIL("header has duplicate key " << quote_name(dup));
  }
  if (!header.is_object())
    HRNET_ST_FAIL("header is not a JSON object (got " << header.type_name() << ")");

  const std::uint64_t buf_size = size - 8 - header_len;
  const std::uint8_t* buf = hend;

  SafetensorsFile out;
  struct Span {
    std::uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Span> spans;
  spans.reserve(header.size());

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object())
        HRNET_ST_FAIL("__metadata__ must be a JSON object of string to string, got "
                      << json_desc(entry));
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string())
          HRNET_ST_FAIL("__metadata__ must be a JSON object of string to string, but key "
                        << quote_name(m.key()) << " has " << json_desc(m.value()));
        out.metadata.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    const std::string tn = "tensor " + quote_name(name);
    if (!entry.is_object())
      HRNET_ST_FAIL(tn << ": entry must be a JSON object, got " << json_desc(entry));
    for (auto f = entry.begin(); f != entry.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        HRNET_ST_FAIL(tn << ": unexpected field " << quote_name(f.key())
                         << " (allowed: dtype, shape, data_offsets)");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(field)) HRNET_ST_FAIL(tn << ": missing field '" << field << "'");

    RawTensor t;
    // dtype
    const json& jd = entry["dtype"];
    if (!jd.is_string())
      HRNET_ST_FAIL(tn << ": field 'dtype' must be a string, got " << json_desc(jd));
    const std::string& dname = jd.get_ref<const std::string&>();
    const auto dt = detail::parse_dtype_name(dname);
    if (!dt)
      HRNET_ST_FAIL(tn << ": unknown dtype " << quote_name(dname)
                       << " (supported: F64, F32, F16, BF16, I64)");
    t.dtype = *dt;
    // shape
    const json& js = entry["shape"];
    if (!js.is_array())
      HRNET_ST_FAIL(tn << ": field 'shape' must be an array of non-negative integers, got "
                       << json_desc(js));
    for (std::size_t i = 0; i < js.size(); ++i) {
      const json& d = js[i];
      if (d.is_number_integer() && !d.is_number_unsigned())
        HRNET_ST_FAIL(tn << ": negative dimension " << d.get<std::int64_t>() << " at index " << i
                         << " of field 'shape'");
      if (!d.is_number_unsigned())
        HRNET_ST_FAIL(tn << ": shape element " << i << " must be a non-negative integer, got "
                         << json_desc(d));
      const std::uint64_t v = d.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        HRNET_ST_FAIL(tn << ": dimension " << v << " at index " << i << " is too large");
      t.shape.push_back(static_cast<std::int64_t>(v));
    }
    // data_offsets
    const json& jo = entry["data_offsets"];
    if (!jo.is_array() || jo.size() != 2)
      HRNET_ST_FAIL(tn << ": field 'data_offsets' must be an array of 2 non-negative integers "
                          "[begin, end], got "
                       << json_desc(jo));
    for (std::size_t i = 0; i < 2; ++i)
      if (!jo[i].is_number_unsigned())
        HRNET_ST_FAIL(tn << ": field 'data_offsets' must be an array of 2 non-negative integers "
                            "[begin, end], element "
                         << i << " is " << json_desc(jo[i]));
    const std::uint64_t b = jo[0].get<std::uint64_t>();
    const std::uint64_t e = jo[1].get<std::uint64_t>();
    if (e < b)
      HRNET_ST_FAIL(tn << ": data_offsets [" << b << ", " << e << "] end " << e
                       << " is before begin " << b);
    if (e > buf_size)
      HRNET_ST_FAIL(tn << ": data_offsets [" << b << ", " << e
                       << "] out of range: the data buffer has " << buf_size << " bytes");
    const auto need = detail::checked_nbytes(t.shape, t.dtype);
    if (!need)
      HRNET_ST_FAIL(tn << ": shape " << detail::shape_str(t.shape) << " is too large (byte size overflows)");
    if (*need != e - b)
      HRNET_ST_FAIL(tn << ": shape " << detail::shape_str(t.shape) << " needs " << *need
                       << " bytes of " << dtype_name(t.dtype) << " but data_offsets span " << (e - b));
    t.data.assign(buf + b, buf + e);
    auto [pos, inserted] = out.tensors.emplace(name, std::move(t));
    (void)inserted;  // keys are unique (duplicates rejected above)
    spans.push_back({b, e, &pos->first});
  }

  // The tensors must cover the byte buffer exactly: sorted by offsets, each begins where the
  // previous one ended, the first at 0 and the last at the end of the buffer.
  std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  std::uint64_t cursor = 0;
  const Span* prev = nullptr;
  for (const Span& s : spans) {
    if (s.begin < cursor)
      HRNET_ST_FAIL("tensors " << quote_name(*prev->name) << " (data_offsets [" << prev->begin << ", "
                               << prev->end << "]) and " << quote_name(*s.name) << " (data_offsets ["
                               << s.begin << ", " << s.end << "]) overlap");
    if (s.begin > cursor)
      HRNET_ST_FAIL("gap in the data buffer: bytes [" << cursor << ", " << s.begin
                                                      << ") are not covered by any tensor ("
                                                      << (prev ? "between " + quote_name(*prev->name) + " and "
                                                               : std::string("before "))
                                                      << quote_name(*s.name) << ")");
    cursor = s.end;
    prev = &s;
  }
  if (cursor != buf_size)
    HRNET_ST_FAIL("gap in the data buffer: bytes [" << cursor << ", " << buf_size
                                                    << ") at the end are not covered by any tensor"
                                                    << (prev ? " (after " + quote_name(*prev->name) + ")"
                                                             : std::string(" (the file has no tensors)")));
  return out;
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string source_name = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) HRNET_ST_FAIL("cannot open for reading: " << detail::errno_str(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) HRNET_ST_FAIL("cannot stat: " << detail::errno_str(errno));
  if (!S_ISREG(st.st_mode)) HRNET_ST_FAIL("not a regular file");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      HRNET_ST_FAIL("read error after " << got << " bytes: " << detail::errno_str(errno));
    }
    if (r == 0) break;  // file shrank while reading; parse what we have (it will be reported)
    got += static_cast<std::size_t>(r);
  }
  bytes.resize(got);
  return parse_safetensors(bytes, source_name);
}

#undef HRNET_ST_FAIL

std::vector<std::uint8_t> serialize_safetensors(const SafetensorsFile& f) {
  using nlohmann::json;
  struct Item {
    const std::string* name;
    const RawTensor* t;
  };
  std::vector<Item> items;
  items.reserve(f.tensors.size());
  for (const auto& [name, t] : f.tensors) {
    HRNET_CHECK(name != "__metadata__", ValueError,
                "serialize_safetensors: '__metadata__' is reserved and cannot name a tensor");
    for (std::int64_t d : t.shape)
      HRNET_CHECK(d >= 0, ShapeError,
                  "serialize_safetensors: tensor " << detail::quote_name(name) << " has negative dimension in shape "
                                                   << detail::shape_str(t.shape));
    const auto need = detail::checked_nbytes(t.shape, t.dtype);
    HRNET_CHECK(need && *need == t.data.size(), ShapeError,
                "serialize_safetensors: tensor " << detail::quote_name(name) << ": shape "
                                                 << detail::shape_str(t.shape) << " of "
                                                 << dtype_name(t.dtype) << " needs "
                                                 << (need ? std::to_string(*need) : std::string("too many"))
                                                 << " bytes but data has " << t.data.size());
    items.push_back({&name, &t});
  }
  // Data order: larger elements first (natural alignment), then by name.
  std::vector<Item> data_order = items;
  std::stable_sort(data_order.begin(), data_order.end(), [](const Item& a, const Item& b) {
    return detail::dtype_layout_rank(a.t->dtype) < detail::dtype_layout_rank(b.t->dtype);
  });
  std::map<const RawTensor*, std::pair<std::uint64_t, std::uint64_t>> offsets;
  std::uint64_t total = 0;
  for (const Item& it : data_order) {
    offsets[it.t] = {total, total + it.t->data.size()};
    total += it.t->data.size();
  }

  auto jstr = [](const std::string& s, const char* what) {
    try {
      return json(s).dump();
    } catch (const json::exception& e) {
      HRNET_THROW(ValueError, "serialize_safetensors: " << what << " " << detail::quote_name(s)
                                                        << " is not valid UTF-8: " << e.what());
    }
  };
  std::string h = "{";
  bool first = true;
  if (!f.metadata.empty()) {
    h += "\"__metadata__\":{";
    bool mfirst = true;
    for (const auto& [k, v] : f.metadata) {
      if (!mfirst) h += ',';
      mfirst = false;
      h += jstr(k, "metadata key");
      h += ':';
      h += jstr(v, "metadata value");
    }
    h += '}';
    first = false;
  }
  for (const Item& it : items) {  // std::map order: keys sorted
    if (!first) h += ',';
    first = false;
    const auto [b, e] = offsets[it.t];
    h += jstr(*it.name, "tensor name");
    h += ":{\"dtype\":\"";
    h += dtype_name(it.t->dtype);
    h += "\",\"shape\":[";
    for (std::size_t i = 0; i < it.t->shape.size(); ++i) {
      if (i) h += ',';
      h += std::to_string(it.t->shape[i]);
    }
    h += "],\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(e) + "]}";
  }
  h += '}';
  h.append((8 - h.size() % 8) % 8, ' ');

  std::vector<std::uint8_t> out;
  out.reserve(8 + h.size() + total);
  std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), h.begin(), h.end());
  for (const Item& it : data_order) out.insert(out.end(), it.t->data.begin(), it.t->data.end());
  return out;
}

void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& f) {
  const std::vector<std::uint8_t> bytes = serialize_safetensors(f);
  std::filesystem::path tmp = path;
  // pid + a process-wide counter: concurrent writers of one path never share a temporary file
  static std::atomic<unsigned long> counter{0};
  tmp += ".tmp." + std::to_string(static_cast<long>(::getpid())) + "." + std::to_string(counter++);
  const std::string p = path.string(), tp = tmp.string();

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    HRNET_THROW(IoError, p << ": cannot create temporary file " << tp << ": " << detail::errno_str(errno));
  auto fail = [&](const std::string& what, int err, bool close_fd) {
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    HRNET_THROW(IoError, p << ": " << what << ": " << detail::errno_str(err));
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write to " + tp + " failed after " + std::to_string(done) + " of " +
               std::to_string(bytes.size()) + " bytes",
           errno, true);
    }
    done += static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0) fail("fsync of " + tp + " failed", errno, true);
  if (::close(fd) != 0) fail("close of " + tp + " failed", errno, false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename of " + tp + " over it failed", errno, false);
  // Make the rename durable.
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    HRNET_THROW(IoError, p << ": written, but cannot open directory " << dir.string()
                           << " to fsync it: " << detail::errno_str(errno));
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL && err != EROFS)  // some file systems cannot fsync directories
    HRNET_THROW(IoError, p << ": written, but fsync of directory " << dir.string()
                           << " failed: " << detail::errno_str(err));
}

}  // namespace hrnet::io

// safetensors reader and writer (https://github.com/huggingface/safetensors).
//
// File layout: 8 bytes little-endian u64 N, N bytes of UTF-8 JSON header, then the byte buffer.
// The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the start of the byte buffer) plus an optional "__metadata__" string->string map.
//
// Reading is strict: every malformed input throws hrnet::IoError whose message starts with the
// source name (the file path) and says exactly what is wrong. Tensors must cover the byte buffer
// exactly (no gaps, no overlaps), as the format requires. Supported dtypes: F64, F32, F16, BF16, I64.
//
// Writing: the JSON header is compact, "__metadata__" first (only when non-empty) and tensor keys
// sorted; fields in the order dtype, shape, data_offsets; padded with spaces to a multiple of 8.
// Tensor data is laid out by decreasing element size (I64, F64, F32, BF16, F16), then by name,
// like the reference implementation, so every tensor is naturally aligned in the file.
// write_safetensors is atomic: PATH.tmp.<pid>.<n> is written, fsynced, renamed over PATH, and the
// directory is fsynced.
#pragma once
#include <bit>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hrnet/core/dtype.hpp"
#include "hrnet/core/error.hpp"

namespace hrnet::io {

static_assert(std::endian::native == std::endian::little,
              "hrnet safetensors I/O assumes a little-endian host");

// One tensor as stored in the file.
struct RawTensor {
  DType dtype = DType::F32;           // F64, F32, F16, BF16, I64
  std::vector<std::int64_t> shape;    // empty = 0-d scalar
  std::vector<std::uint8_t> data;     // little-endian, row-major (the file's order)
  // Element count; ShapeError when it overflows int64 (multiplied in order, as Shape does).
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape)
      HRNET_CHECK(!__builtin_mul_overflow(n, d, &n), ShapeError,
                  "RawTensor: the element count of a shape with dimension " << d << " overflows int64");
    return n;
  }
};

struct SafetensorsFile {
  std::map<std::string, RawTensor> tensors;
  std::map<std::string, std::string> metadata;  // the optional "__metadata__" entry
};

// Largest JSON header accepted (same limit as the reference implementation).
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

namespace detail {

std::optional<DType> parse_dtype_name(std::string_view s);
std::string shape_str(const std::vector<std::int64_t>& s);
// Quoted, escaped, printable rendering of a name taken from the file (for messages).
std::string quote_name(const std::string& s);

// Element size rank used to order tensor data in written files (larger elements first).
constexpr int dtype_layout_rank(DType d) {
  switch (d) {
    case DType::I64: return 0;
    case DType::F64: return 1;
    case DType::F32: return 2;
    case DType::BF16: return 3;
    case DType::F16: return 4;
  }
  return 5;
}

// Number of bytes a tensor of `shape` and `dtype` needs; nullopt on a negative dimension, or when the
// product of the non-zero dimensions (elements or bytes) overflows int64, even if a dimension is 0.
std::optional<std::uint64_t> checked_nbytes(const std::vector<std::int64_t>& shape, DType dt);

std::string errno_str(int e);

}  // namespace detail

// Parses a whole file's bytes; `source_name` (the path) starts every error message.
SafetensorsFile parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& source_name);
SafetensorsFile read_safetensors(const std::filesystem::path& path);
std::vector<std::uint8_t> serialize_safetensors(const SafetensorsFile& f);
void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& f);

}  // namespace hrnet::io

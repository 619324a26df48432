// Conversion between tensors as stored in safetensors files (RawTensor: row-major, logical NCHW
// for 4-D) and hrnet::Tensor (4-D tensors are NHWC in memory).
//
//   to_raw(t)             dtype = dtype_of<T>; 4-D memory NHWC -> file NCHW; other ranks as is.
//   from_raw<T>(r, name)  F64/F32/F16/BF16 -> any float T (through double for F64 sources, float
//                         otherwise, with hrnet::convert); I64 -> I64 only; 4-D NCHW -> NHWC.
//                         DTypeError for impossible conversions, ShapeError for rank > 4 or a
//                         data size that does not match the shape; both name the tensor.
//   get<T>(file, name)    from_raw of the tensor called `name`; IoError naming the missing key and
//                         listing (up to 20 of) the available ones.
#pragma once
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "hrnet/core/dtype.hpp"
#include "hrnet/core/error.hpp"
#include "hrnet/core/shape.hpp"
#include "hrnet/core/tensor.hpp"
#include "hrnet/io/safetensors.hpp"

namespace hrnet::io {

template <StorageType T>
RawTensor to_raw(const Tensor<T, CPU>& t) {
  HRNET_CHECK(t.numel() == 0 || t.data() != nullptr, ValueError,
              "to_raw: tensor of shape " << t.shape() << " is undefined (no data)");
  RawTensor r;
  r.dtype = dtype_of<T>::value;
  r.shape = t.shape().dims();
  r.data.resize(t.bytes());
  if (t.numel() == 0) return r;
  if (t.rank() == 4) {
    std::vector<T> nchw(static_cast<std::size_t>(t.numel()));
    nhwc_to_nchw(t.data(), nchw.data(), t.shape());
    std::memcpy(r.data.data(), nchw.data(), t.bytes());
  } else {
    std::memcpy(r.data.data(), t.data(), t.bytes());
  }
  return r;
}

namespace detail {
// Decodes element i of a raw little-endian buffer of dtype `From` and converts it to T.
template <class T, class From>
void decode_into(const std::uint8_t* src, T* dst, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    From v;
    std::memcpy(&v, src + i * static_cast<std::int64_t>(sizeof(From)), sizeof(From));
    if constexpr (std::is_same_v<From, T>) {
      dst[i] = v;
    } else if constexpr (std::is_same_v<From, double>) {
      dst[i] = convert<T>(v);
    } else {
      dst[i] = convert<T>(static_cast<float>(v));
    }
  }
}
}  // namespace detail

template <StorageType T>
Tensor<T, CPU> from_raw(const RawTensor& r, const std::string& name) {
  HRNET_CHECK(r.shape.size() <= 4, ShapeError,
              "tensor " << detail::quote_name(name) << ": shape " << detail::shape_str(r.shape)
                        << " has rank " << r.shape.size() << "; hrnet tensors have at most 4 dimensions");
  for (std::int64_t d : r.shape)
    HRNET_CHECK(d >= 0, ShapeError,
                "tensor " << detail::quote_name(name) << ": negative dimension in shape "
                          << detail::shape_str(r.shape));
  const auto need = detail::checked_nbytes(r.shape, r.dtype);
  HRNET_CHECK(need && *need == r.data.size(), ShapeError,
              "tensor " << detail::quote_name(name) << ": shape " << detail::shape_str(r.shape) << " of "
                        << dtype_name(r.dtype) << " needs "
                        << (need ? std::to_string(*need) : std::string("too many")) << " bytes but the raw data has "
                        << r.data.size());
  constexpr DType target = dtype_of<T>::value;
  constexpr bool target_int = std::is_same_v<T, std::int64_t>;
  const bool source_int = r.dtype == DType::I64;
  HRNET_CHECK(source_int == target_int, DTypeError,
              "tensor " << detail::quote_name(name) << ": cannot load " << dtype_name(r.dtype)
                        << " data into a " << dtype_name(target) << " tensor ("
                        << (source_int ? "integer data loads only into I64 tensors"
                                       : "floating-point data loads only into F64, F32, F16 or BF16 tensors")
                        << ")");

  const Shape shape(r.shape);
  const std::int64_t n = shape.numel();
  std::vector<T> vals(static_cast<std::size_t>(n));
  const std::uint8_t* src = r.data.data();
  if (n > 0) {
    if constexpr (target_int) {
      detail::decode_into<T, std::int64_t>(src, vals.data(), n);
    } else {
      switch (r.dtype) {
        case DType::F64: detail::decode_into<T, double>(src, vals.data(), n); break;
        case DType::F32: detail::decode_into<T, float>(src, vals.data(), n); break;
        case DType::F16: detail::decode_into<T, half>(src, vals.data(), n); break;
        case DType::BF16: detail::decode_into<T, bfloat16>(src, vals.data(), n); break;
        case DType::I64: break;  // excluded above
      }
    }
  }
  auto out = Tensor<T, CPU>::empty(shape);
  if (n == 0) return out;
  if (shape.rank() == 4) {
    nchw_to_nhwc(vals.data(), out.data(), shape);
  } else {
    std::memcpy(static_cast<void*>(out.data()), vals.data(), out.bytes());
  }
  return out;
}

template <StorageType T>
Tensor<T, CPU> get(const SafetensorsFile& f, const std::string& name) {
  const auto it = f.tensors.find(name);
  if (it == f.tensors.end()) {
    std::ostringstream avail;
    std::size_t i = 0;
    for (const auto& kv : f.tensors) {
      if (i == 20) {
        avail << ", ... (" << f.tensors.size() - 20 << " more)";
        break;
      }
      avail << (i ? ", " : "") << detail::quote_name(kv.first);
      ++i;
    }
    HRNET_THROW(IoError, "no tensor named " << detail::quote_name(name) << "; available ("
                                            << f.tensors.size() << "): "
                                            << (f.tensors.empty() ? std::string("none") : avail.str()));
  }
  return from_raw<T>(it->second, name);
}

}  // namespace hrnet::io

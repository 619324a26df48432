// Tensor<T, D>: a dense tensor of up to 4 dimensions whose element type and device are part of
// its type. Memory layout: 4-D tensors are (N, C, H, W) logically and NHWC (channels-last) in
// memory; every other rank is row-major. Storage is shared and reference counted: copying a
// Tensor makes another handle to the same memory (like torch.Tensor); clone() copies the data.
// A Tensor made by wrap() is a non-owning view of memory someone else keeps alive.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "hrnet/core/dtype.hpp"
#include "hrnet/core/shape.hpp"
#include "hrnet/core/storage.hpp"

namespace hrnet {

template <StorageType T, Device D>
class Tensor {
 public:
  using value_type = T;
  using device_type = D;

  Tensor() = default;  // undefined: defined() is false

  static Tensor empty(const Shape& shape) {
    Tensor t;
    t.shape_ = shape;
    t.storage_ = std::make_shared<Buffer<D>>(static_cast<std::size_t>(shape.numel()) * sizeof(T));
    t.data_ = static_cast<T*>(t.storage_->data());
    return t;
  }
  static Tensor zeros(const Shape& shape) {
    Tensor t = empty(shape);
    t.zero_();
    return t;
  }
  // Non-owning view over memory kept alive by the caller (element order as described above).
  static Tensor wrap(T* data, const Shape& shape) {
    Tensor t;
    t.shape_ = shape;
    t.data_ = data;
    return t;
  }
  // CPU only: a tensor holding `values` in memory order.
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values)
    requires is_cpu<D>
  {
    HRNET_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(), ShapeError,
                "Tensor::from_vector: shape " << shape << " holds " << shape.numel()
                                              << " elements but " << values.size() << " were given");
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }
  static Tensor full(const Shape& shape, T value)
    requires is_cpu<D>
  {
    Tensor t = empty(shape);
    std::fill(t.data(), t.data() + t.numel(), value);
    return t;
  }

  bool defined() const { return data_ != nullptr || (storage_ && shape_.numel() == 0); }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t numel() const { return shape_.numel(); }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * sizeof(T); }
  T* data() const { return data_; }
  bool owns_storage() const { return storage_ != nullptr; }
  long use_count() const { return storage_ ? storage_.use_count() : 0; }

  // Rows [n0, n1) of dim 0, sharing memory. Dim 0 is outermost in both layouts.
  Tensor slice0(std::int64_t n0, std::int64_t n1) const {
    HRNET_CHECK(rank() >= 1 && 0 <= n0 && n0 <= n1 && n1 <= shape_[0], ShapeError,
                "Tensor::slice0: [" << n0 << ", " << n1 << ") out of range for shape " << shape_);
    std::vector<std::int64_t> d = shape_.dims();
    const std::int64_t inner = d[0] ? numel() / d[0] : 0;
    d[0] = n1 - n0;
    Tensor t = *this;
    t.shape_ = Shape(d);
    t.data_ = data_ + n0 * inner;
    return t;
  }

  // Same memory under another shape. Allowed when the element order is unchanged: between
  // non-4-D shapes, and between (N, C, 1, 1) and (N, C) or (N*C).
  Tensor reshape(const Shape& s) const {
    HRNET_CHECK(s.numel() == numel(), ShapeError,
                "Tensor::reshape: " << shape_ << " has " << numel() << " elements, " << s << " has "
                                    << s.numel());
    auto row_major_compatible = [](const Shape& x) { return x.rank() != 4 || (x.h() == 1 && x.w() == 1); };
    HRNET_CHECK(s == shape_ || (row_major_compatible(shape_) && row_major_compatible(s)), ShapeError,
                "Tensor::reshape: " << shape_ << " -> " << s
                                    << " would reorder channels-last memory; use a layout conversion");
    Tensor t = *this;
    t.shape_ = s;
    return t;
  }

  Tensor clone() const {
    Tensor t = empty(shape_);
    if constexpr (is_cpu<D>) {
      if (numel()) std::memcpy(t.data_, data_, bytes());
    } else {
      cuda::copy_device_to_device(t.data_, data_, bytes());
    }
    return t;
  }
  void zero_() {
    if (!numel()) return;
    if constexpr (is_cpu<D>) std::memset(static_cast<void*>(data_), 0, bytes());
    else cuda::fill_zero(data_, bytes());
  }
  // Copies the elements of `src` (same shape) into this tensor's memory.
  void copy_from(const Tensor& src) {
    HRNET_CHECK(src.shape() == shape_, ShapeError,
                "Tensor::copy_from: shape " << src.shape() << " into " << shape_);
    if (!numel() || src.data_ == data_) return;
    if constexpr (is_cpu<D>) std::memmove(static_cast<void*>(data_), src.data_, bytes());
    else cuda::copy_device_to_device(data_, src.data_, bytes());
  }

  // CPU element access.
  T& operator[](std::int64_t i) const
    requires is_cpu<D>
  {
    return data_[i];
  }
  // Logical (n, c, h, w) of a 4-D tensor, mapped to its NHWC position.
  T& at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const
    requires is_cpu<D>
  {
    return data_[((n * shape_.h() + h) * shape_.w() + w) * shape_.c() + c];
  }
  std::vector<T> to_vector() const
    requires is_cpu<D>
  {
    return std::vector<T>(data_, data_ + numel());
  }

 private:
  Storage<D> storage_;
  T* data_ = nullptr;
  Shape shape_;
};

template <class T> using CpuTensor = Tensor<T, CPU>;
template <class T> using CudaTensor = Tensor<T, CUDA>;

// ---- device transfer -----------------------------------------------------------------------
template <StorageType T>
Tensor<T, CUDA> to_cuda(const Tensor<T, CPU>& t) {
  auto out = Tensor<T, CUDA>::empty(t.shape());
  if (t.numel()) cuda::copy_host_to_device(out.data(), t.data(), t.bytes());
  return out;
}
template <StorageType T>
Tensor<T, CPU> to_cpu(const Tensor<T, CUDA>& t) {
  auto out = Tensor<T, CPU>::empty(t.shape());
  if (t.numel()) cuda::copy_device_to_host(out.data(), t.data(), t.bytes());
  return out;
}
template <StorageType T>
Tensor<T, CPU> to_cpu(const Tensor<T, CPU>& t) { return t; }
// A new copy of host tensor `t` on device D (a clone for the CPU): for code generic over the device.
template <Device D, StorageType T>
Tensor<T, D> to_device(const Tensor<T, CPU>& t) {
  if constexpr (is_cpu<D>) return t.clone();
  else return to_cuda(t);
}

// ---- dtype conversion (CPU) ------------------------------------------------------------------
template <StorageType To, StorageType From>
Tensor<To, CPU> cast(const Tensor<From, CPU>& t) {
  auto out = Tensor<To, CPU>::empty(t.shape());
  const From* s = t.data();
  To* d = out.data();
  for (std::int64_t i = 0; i < t.numel(); ++i) d[i] = convert<To>(s[i]);
  return out;
}

// ---- layout conversion between logical NCHW order (PyTorch, files) and memory NHWC ------------
// `nchw` holds numel() elements in NCHW order; returns the same tensor in our layout.
template <class T>
void nchw_to_nhwc(const T* nchw, T* nhwc, const Shape& s) {
  const std::int64_t N = s.n(), C = s.c(), HW = s.h() * s.w();
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t p = 0; p < HW; ++p) nhwc[(n * HW + p) * C + c] = nchw[(n * C + c) * HW + p];
}
template <class T>
void nhwc_to_nchw(const T* nhwc, T* nchw, const Shape& s) {
  const std::int64_t N = s.n(), C = s.c(), HW = s.h() * s.w();
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t p = 0; p < HW; ++p) nchw[(n * C + c) * HW + p] = nhwc[(n * HW + p) * C + c];
}

// Throws ShapeError naming `what` unless `a` has shape `s`.
template <class T, class D>
void check_shape(const Tensor<T, D>& a, const Shape& s, const char* what) {
  HRNET_CHECK(a.shape() == s, ShapeError, what << ": expected shape " << s << ", got " << a.shape());
}

}  // namespace hrnet

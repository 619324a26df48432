// Flat element-wise kernels: relu forward/backward, n-ary add (+ relu), accumulate, fill, and the
// storage-type casts. One grid-stride loop over 16-byte vectors (when every pointer is 16-byte
// aligned), then a scalar tail; unaligned tensors (e.g. slice0 views) take the scalar loop only.
#include <cstring>
#include <type_traits>

#include "elementwise_common.cuh"

namespace hrnet::gpu {
namespace detail {
namespace {

// The per-vector operations. Each reads its inputs at element offset `off`, V elements wide.
template <class D, bool Relu> struct SumOp {  // out = [relu](in0 + in1 + ... ), left to right in fp32
  template <int V> __device__ void operator()(const PtrPack<D>& in, int nin, D* out, std::int64_t off) const {
    using W = typename Word<static_cast<int>(sizeof(D)) * V>::type;
    // Issue every load before the first add: several requests in flight per thread.
    Pack<D, V> pk[kMaxInputs];
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
      if (j < nin) *reinterpret_cast<W*>(&pk[j]) = *reinterpret_cast<const W*>(in.p[j] + off);
    float acc[V];
    sum_packs<Relu>(pk, nin, acc);
    store_f32<V>(out + off, acc);
  }
};

template <class D> struct AccumulateOp {  // out += in0
  template <int V> __device__ void operator()(const PtrPack<D>& in, int, D* out, std::int64_t off) const {
    float a[V], g[V];
    load_f32<V>(out + off, a);
    load_f32<V>(in.p[0] + off, g);
#pragma unroll
    for (int k = 0; k < V; ++k) a[k] += g[k];
    store_f32<V>(out + off, a);
  }
};

template <class D> struct ReluBackwardOp {  // out += in1 * (in0 > 0), in0 = y, in1 = dy
  template <int V> __device__ void operator()(const PtrPack<D>& in, int, D* out, std::int64_t off) const {
    float a[V], y[V], g[V];
    load_f32<V>(in.p[0] + off, y);
    load_f32<V>(in.p[1] + off, g);
    load_f32<V>(out + off, a);
#pragma unroll
    for (int k = 0; k < V; ++k) a[k] += ewm::relu_grad(y[k], g[k]);
    store_f32<V>(out + off, a);
  }
};

template <class D> struct FillOp {
  D value;
  template <int V> __device__ void operator()(const PtrPack<D>&, int, D* out, std::int64_t off) const {
    Pack<D, V> pk;
#pragma unroll
    for (int k = 0; k < V; ++k) pk.v[k] = value;
    copy_vec<V>(out + off, pk.v);
  }
};

template <int V, class D, class Op>
__global__ void map_kernel(PtrPack<D> in, int nin, D* out, std::int64_t n, Op op) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t nv = n / V;
  for (std::int64_t i = first; i < nv; i += stride) op.template operator()<V>(in, nin, out, i * V);
  if constexpr (V > 1)
    for (std::int64_t i = nv * V + first; i < n; i += stride) op.template operator()<1>(in, nin, out, i);
}

// Runs op over n elements, vectorized when the output and the first nin inputs are 16-byte aligned.
template <class D, class Op>
void launch_map(const PtrPack<D>& in, int nin, D* out, std::int64_t n, Op op, Stream s) {
  if (n <= 0) return;
  bool vec = aligned16(out);
  for (int j = 0; j < nin; ++j) vec = vec && aligned16(in.p[j]);
  if (vec) {
    map_kernel<kVec<D>><<<grid_for(n / kVec<D> + 1, kEwBlock), kEwBlock, 0, raw(s)>>>(in, nin, out, n, op);
  } else {
    map_kernel<1><<<grid_for(n, kEwBlock), kEwBlock, 0, raw(s)>>>(in, nin, out, n, op);
  }
  HRNET_CUDA_CHECK_LAUNCH(s);
}

template <class T>
void check_same_numel(const G<T>& a, const G<T>& b, const char* op) {
  HRNET_CHECK(a.numel() == b.numel(), ShapeError, op << ": shapes " << a.shape() << " and " << b.shape() << " differ");
}

template <GpuType T, bool Relu>
void sum_inputs(const std::vector<const G<T>*>& xs, G<T>& y, const char* op, Stream s) {
  check_input_count(xs.size(), op);
  using D = dev_t<T>;
  PtrPack<D> in{};
  for (std::size_t j = 0; j < xs.size(); ++j) {
    check_same_numel(*xs[j], y, op);
    in.p[j] = dev_ptr(xs[j]->data());
  }
  launch_map(in, static_cast<int>(xs.size()), dev_ptr(y.data()), y.numel(), SumOp<D, Relu>{}, s);
}

// ---- casts ----------------------------------------------------------------------------------------
// Storage bits of each type; conversions reproduce hrnet::half / hrnet::bfloat16 bit for bit.
template <class T> struct raw_type { using type = std::uint16_t; };
template <> struct raw_type<float> { using type = float; };
template <class T> using raw_t = typename raw_type<T>::type;

template <class T> __device__ __forceinline__ float raw_to_f32(raw_t<T> v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, half>) return ewm::half_bits_to_f32(v);
  else return ewm::bf16_bits_to_f32(v);
}
template <class T> __device__ __forceinline__ raw_t<T> raw_from_f32(float f) {
  if constexpr (std::is_same_v<T, float>) {
    return f;
  } else if constexpr (std::is_same_v<T, half>) {
    // The hardware conversion rounds to nearest even exactly like the host for every non-NaN
    // value (subnormals and overflow to inf included); only NaN payloads differ, so fix those.
    if (f != f) return ewm::half_nan_bits(__float_as_uint(f));
    return __half_as_ushort(__float2half_rn(f));
  } else {
    return ewm::bf16_bits_from_f32(f);
  }
}

template <int V, class To, class From>
__global__ void cast_kernel(const raw_t<From>* x, raw_t<To>* y, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t nv = n / V;
  using WI = typename Word<static_cast<int>(sizeof(raw_t<From>)) * V>::type;
  using WO = typename Word<static_cast<int>(sizeof(raw_t<To>)) * V>::type;
  for (std::int64_t i = first; i < nv; i += stride) {
    Pack<raw_t<From>, V> a;
    Pack<raw_t<To>, V> b;
    *reinterpret_cast<WI*>(&a) = *reinterpret_cast<const WI*>(x + i * V);
#pragma unroll
    for (int k = 0; k < V; ++k) b.v[k] = raw_from_f32<To>(raw_to_f32<From>(a.v[k]));
    *reinterpret_cast<WO*>(y + i * V) = *reinterpret_cast<const WO*>(&b);
  }
  if constexpr (V > 1)
    for (std::int64_t i = nv * V + first; i < n; i += stride) y[i] = raw_from_f32<To>(raw_to_f32<From>(x[i]));
}

}  // namespace
}  // namespace detail

using namespace detail;

template <GpuType T>
void relu_forward(const G<T>& x, G<T>& y, Stream s) {
  check_same_numel(x, y, "relu_forward");
  using D = dev_t<T>;
  PtrPack<D> in{};
  in.p[0] = dev_ptr(x.data());
  launch_map(in, 1, dev_ptr(y.data()), y.numel(), SumOp<D, true>{}, s);
}

template <GpuType T>
void relu_backward(const G<T>& y, const G<T>& dy, G<T>& dx, Stream s) {
  check_same_numel(y, dy, "relu_backward");
  check_same_numel(y, dx, "relu_backward");
  using D = dev_t<T>;
  PtrPack<D> in{};
  in.p[0] = dev_ptr(y.data());
  in.p[1] = dev_ptr(dy.data());
  launch_map(in, 2, dev_ptr(dx.data()), dx.numel(), ReluBackwardOp<D>{}, s);
}

template <GpuType T>
void add_forward(const std::vector<const G<T>*>& xs, G<T>& y, Stream s) {
  sum_inputs<T, false>(xs, y, "add_forward", s);
}

template <GpuType T>
void add_relu_forward(const std::vector<const G<T>*>& xs, G<T>& y, Stream s) {
  sum_inputs<T, true>(xs, y, "add_relu_forward", s);
}

template <GpuType T>
void accumulate(const G<T>& dy, G<T>& dx, Stream s) {
  check_same_numel(dy, dx, "accumulate");
  using D = dev_t<T>;
  PtrPack<D> in{};
  in.p[0] = dev_ptr(dy.data());
  launch_map(in, 1, dev_ptr(dx.data()), dx.numel(), AccumulateOp<D>{}, s);
}

template <GpuType T>
void fill(G<T>& x, float value, Stream s) {
  // The value rounded once on the host, as hrnet::convert does.
  const T v = convert<T>(value);
  dev_t<T> d;
  static_assert(sizeof(d) == sizeof(v));
  std::memcpy(static_cast<void*>(&d), &v, sizeof(v));
  launch_map(PtrPack<dev_t<T>>{}, 0, dev_ptr(x.data()), x.numel(), FillOp<dev_t<T>>{d}, s);
}

template <GpuType To, GpuType From>
void cast(const G<From>& x, G<To>& y, Stream s) {
  HRNET_CHECK(x.shape() == y.shape(), ShapeError, "cast: shapes " << x.shape() << " and " << y.shape() << " differ");
  const std::int64_t n = x.numel();
  if (n == 0) return;
  if constexpr (std::is_same_v<To, From>) {
    if (x.data() != y.data())
      HRNET_CUDA_CHECK(cudaMemcpyAsync(y.data(), x.data(), x.bytes(), cudaMemcpyDeviceToDevice, raw(s)));
  } else {
    // 4 elements per access when one side is fp32 (16 and 8 bytes), 8 between the 16-bit types.
    constexpr int V = (sizeof(To) == 4 || sizeof(From) == 4) ? 4 : 8;
    const auto* xp = reinterpret_cast<const raw_t<From>*>(x.data());
    auto* yp = reinterpret_cast<raw_t<To>*>(y.data());
    const bool vec = reinterpret_cast<std::uintptr_t>(xp) % (V * sizeof(From)) == 0 &&
                     reinterpret_cast<std::uintptr_t>(yp) % (V * sizeof(To)) == 0;
    if (vec) cast_kernel<V, To, From><<<grid_for(n / V + 1, kEwBlock), kEwBlock, 0, raw(s)>>>(xp, yp, n);
    else cast_kernel<1, To, From><<<grid_for(n, kEwBlock), kEwBlock, 0, raw(s)>>>(xp, yp, n);
    HRNET_CUDA_CHECK_LAUNCH(s);
  }
}

#define HRNET_INSTANTIATE(T)                                                                 \
  template void relu_forward<T>(const G<T>&, G<T>&, Stream);                                 \
  template void relu_backward<T>(const G<T>&, const G<T>&, G<T>&, Stream);                   \
  template void add_forward<T>(const std::vector<const G<T>*>&, G<T>&, Stream);              \
  template void add_relu_forward<T>(const std::vector<const G<T>*>&, G<T>&, Stream);         \
  template void accumulate<T>(const G<T>&, G<T>&, Stream);                                   \
  template void fill<T>(G<T>&, float, Stream);                                               \
  template void cast<float, T>(const G<T>&, G<float>&, Stream);                              \
  template void cast<half, T>(const G<T>&, G<half>&, Stream);                                \
  template void cast<bfloat16, T>(const G<T>&, G<bfloat16>&, Stream);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(half)
HRNET_INSTANTIATE(bfloat16)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::gpu

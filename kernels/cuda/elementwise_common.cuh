// Shared pieces of the memory-bound kernels (elementwise.cu, fusion.cu, data_movement.cu,
// pool_resize.cu): 16-byte vector loads and stores converted to fp32, pointer packs passed by
// value, alignment tests and the batch splitting that keeps 32-bit indices exact.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common.cuh"
#include "elementwise_math.hpp"

namespace hrnet::gpu::detail {

inline constexpr int kEwBlock = 256;
// Inputs one fused n-ary kernel takes (by-value pointer pack); more is a ValueError.
inline constexpr int kMaxInputs = 8;

// Elements of D in one 16-byte access.
template <class D> inline constexpr int kVec = static_cast<int>(16 / sizeof(D));

// An aligned machine word of B bytes: the unit of one vector load or store.
template <int B> struct Word;
template <> struct Word<16> { using type = uint4; };
template <> struct Word<8> { using type = uint2; };
template <> struct Word<4> { using type = unsigned int; };
template <> struct Word<2> { using type = unsigned short; };

template <class D, int V> struct alignas(sizeof(D) * V) Pack {
  D v[V];
};

// V consecutive elements at p (aligned to V * sizeof(D) bytes), as fp32.
template <int V, class D>
__device__ __forceinline__ void load_f32(const D* p, float (&out)[V]) {
  using W = typename Word<static_cast<int>(sizeof(D)) * V>::type;
  Pack<D, V> pk;
  *reinterpret_cast<W*>(&pk) = *reinterpret_cast<const W*>(p);
#pragma unroll
  for (int k = 0; k < V; ++k) out[k] = to_f32(pk.v[k]);
}
template <int V, class D>
__device__ __forceinline__ void store_f32(D* p, const float (&in)[V]) {
  using W = typename Word<static_cast<int>(sizeof(D)) * V>::type;
  Pack<D, V> pk;
#pragma unroll
  for (int k = 0; k < V; ++k) pk.v[k] = from_f32<D>(in[k]);
  *reinterpret_cast<W*>(p) = *reinterpret_cast<const W*>(&pk);
}
// Raw copy of V elements (no conversion).
template <int V, class D>
__device__ __forceinline__ void copy_vec(D* dst, const D* src) {
  using W = typename Word<static_cast<int>(sizeof(D)) * V>::type;
  *reinterpret_cast<W*>(dst) = *reinterpret_cast<const W*>(src);
}

// acc = sum of pk[0..n) left to right in fp32, then ReLU when Relu: the arithmetic of the n-ary
// add and of the fusion node, once each has loaded its inputs.
template <bool Relu, class D, int V>
__device__ __forceinline__ void sum_packs(const Pack<D, V> (&pk)[kMaxInputs], int n, float (&acc)[V]) {
#pragma unroll
  for (int k = 0; k < V; ++k) acc[k] = to_f32(pk[0].v[k]);
#pragma unroll
  for (int j = 1; j < kMaxInputs; ++j)
    if (j < n) {
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] += to_f32(pk[j].v[k]);
    }
  if constexpr (Relu) {
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] = ewm::relu_value(acc[k]);
  }
}

inline bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

template <class D> struct PtrPack {
  const D* p[kMaxInputs];
};

// Throws ValueError unless 1 <= count <= kMaxInputs.
inline void check_input_count(std::size_t count, const char* op) {
  HRNET_CHECK(count >= 1 && count <= static_cast<std::size_t>(kMaxInputs), ValueError,
              op << ": " << count << " inputs given, the CUDA kernel takes 1 to " << kMaxInputs);
}

// Launches fn(n0, n1) over consecutive batch ranges whose largest per-launch tensor stays below
// 2^31 elements, so the kernels index with exact 32-bit arithmetic (ewm::FastDiv).
// `per_image` is the largest number of elements one image occupies in any tensor of the op.
template <class F>
void for_batch_chunks(std::int64_t N, std::int64_t per_image, const char* op, F&& fn) {
  if (N <= 0 || per_image <= 0) return;
  const std::int64_t limit = static_cast<std::int64_t>(ewm::kFastDivLimit) - 1;
  HRNET_CHECK(per_image <= limit, ShapeError,
              op << ": one image holds " << per_image << " elements, more than the CUDA kernel's limit of "
                 << limit);
  const std::int64_t step = std::max<std::int64_t>(1, limit / per_image);
  for (std::int64_t n0 = 0; n0 < N; n0 += step) fn(n0, std::min(N, n0 + step));
}

}  // namespace hrnet::gpu::detail

// Channel concatenation and slicing (forward and backward), NCHW <-> NHWC transposes.
// Concat and slice are one operation: copy (or accumulate) channel slabs between pixel rows of
// different widths. Up to kMaxInputs slabs go to one launch (more slabs: more launches), one thread
// per output vector; vectors of 16 bytes when every width, offset and pointer allows it.
#include <type_traits>

#include "elementwise_common.cuh"

namespace hrnet::gpu {
namespace detail {
namespace {

using ewm::FastDiv;

// Slab j: for every pixel p, width[j] vectors from src[j] + p * src_stride[j] + src_off[j] to
// dst[j] + p * dst_stride[j] + dst_off[j] (all in units of V elements). begin[j] is the slab's
// first column in the launch's combined row of `total` vectors.
template <class D> struct Slabs {
  const D* src[kMaxInputs];
  D* dst[kMaxInputs];
  std::uint32_t src_stride[kMaxInputs], src_off[kMaxInputs], dst_stride[kMaxInputs], dst_off[kMaxInputs],
      begin[kMaxInputs];
  int count;
  FastDiv total;
};

template <int V, bool Acc, class D>
__global__ void slab_kernel(Slabs<D> s, std::uint32_t chunks) {
  const std::uint32_t stride = gridDim.x * blockDim.x;
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < chunks; i += stride) {
    const std::uint32_t pix = s.total.div(i), q = i - pix * s.total.d;
    // The slab holding column q; static indices only, so the pack stays in the constant bank.
    const D* sp = s.src[0];
    D* dp = s.dst[0];
    std::uint32_t ss = s.src_stride[0], so = s.src_off[0], ds = s.dst_stride[0], doff = s.dst_off[0], b = 0;
#pragma unroll
    for (int j = 1; j < kMaxInputs; ++j)
      if (j < s.count && q >= s.begin[j]) {
        sp = s.src[j];
        dp = s.dst[j];
        ss = s.src_stride[j];
        so = s.src_off[j];
        ds = s.dst_stride[j];
        doff = s.dst_off[j];
        b = s.begin[j];
      }
    const std::uint32_t k = q - b;
    const D* from = sp + (static_cast<std::size_t>(pix) * ss + so + k) * V;
    D* to = dp + (static_cast<std::size_t>(pix) * ds + doff + k) * V;
    if constexpr (Acc) {
      float a[V], g[V];
      load_f32<V>(to, a);
      load_f32<V>(from, g);
#pragma unroll
      for (int e = 0; e < V; ++e) a[e] += g[e];
      store_f32<V>(to, a);
    } else {
      copy_vec<V>(to, from);
    }
  }
}

// One slab in elements (converted to vectors at launch).
template <class D> struct SlabSpec {
  const D* src;
  D* dst;
  std::int64_t src_stride, src_off, dst_stride, dst_off, width;
};

// Moves the slabs over `pixels` pixel rows; Acc: dst += src, else dst = src.
template <bool Acc, class D>
void move_slabs(const std::vector<SlabSpec<D>>& specs, std::int64_t pixels, const char* op, Stream s) {
  constexpr int kV = kVec<D>;
  for (std::size_t g0 = 0; g0 < specs.size(); g0 += kMaxInputs) {
    const std::size_t g1 = std::min(specs.size(), g0 + kMaxInputs);
    bool vec = true;
    std::int64_t widest = 1, total = 0;
    for (std::size_t j = g0; j < g1; ++j) {
      const auto& p = specs[j];
      vec = vec && aligned16(p.src) && aligned16(p.dst) && p.src_stride % kV == 0 && p.src_off % kV == 0 &&
            p.dst_stride % kV == 0 && p.dst_off % kV == 0 && p.width % kV == 0;
      widest = std::max({widest, p.src_stride, p.dst_stride});
      total += p.width;
    }
    if (total == 0) continue;
    const int V = vec ? kV : 1;
    // Split the pixel rows so that every index the kernel forms stays below 2^31.
    for_batch_chunks(pixels, std::max(widest, total), op, [&](std::int64_t p0, std::int64_t p1) {
      Slabs<D> sl{};
      sl.count = static_cast<int>(g1 - g0);
      std::int64_t begin = 0;
      for (std::size_t j = g0; j < g1; ++j) {
        const auto& p = specs[j];
        const int k = static_cast<int>(j - g0);
        sl.src[k] = p.src + p0 * p.src_stride;
        sl.dst[k] = p.dst + p0 * p.dst_stride;
        sl.src_stride[k] = static_cast<std::uint32_t>(p.src_stride / V);
        sl.src_off[k] = static_cast<std::uint32_t>(p.src_off / V);
        sl.dst_stride[k] = static_cast<std::uint32_t>(p.dst_stride / V);
        sl.dst_off[k] = static_cast<std::uint32_t>(p.dst_off / V);
        sl.begin[k] = static_cast<std::uint32_t>(begin / V);
        begin += p.width;
      }
      sl.total = FastDiv(static_cast<std::uint32_t>(total / V));
      const auto chunks = static_cast<std::uint32_t>((p1 - p0) * (total / V));
      if (vec)
        slab_kernel<kV, Acc><<<grid_for(chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(sl, chunks);
      else
        slab_kernel<1, Acc><<<grid_for(chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(sl, chunks);
      HRNET_CUDA_CHECK_LAUNCH(s);
    });
  }
}

// Pixel rows of a tensor whose innermost (channel) extent is c.
inline std::int64_t pixels_of(std::int64_t numel, std::int64_t c) { return c > 0 ? numel / c : 0; }

// ---- transposes ----------------------------------------------------------------------------------
// out[n][c][r] = in[n][r][c] for n < N, r < R, c < Cc, through a 32 x 33 shared tile (the padding
// column puts the column reads on distinct banks). 32 x 8 threads, each moving 4 elements.
constexpr int kTile = 32, kTileRows = 8;

template <class W>
__global__ void transpose_kernel(const W* __restrict__ in, W* __restrict__ out, std::int64_t N, std::int64_t R,
                                 std::int64_t Cc, std::int64_t tiles_r, std::int64_t tiles_c) {
  __shared__ W tile[kTile][kTile + 1];
  const std::int64_t per_image = tiles_r * tiles_c, total = N * per_image;
  for (std::int64_t t = blockIdx.x; t < total; t += gridDim.x) {
    const std::int64_t n = t / per_image, rest = t - n * per_image;
    const std::int64_t r0 = rest / tiles_c * kTile, c0 = rest % tiles_c * kTile;
    const W* src = in + n * R * Cc;
    W* dst = out + n * R * Cc;
    for (int k = threadIdx.y; k < kTile; k += kTileRows) {
      const std::int64_t r = r0 + k, c = c0 + threadIdx.x;
      if (r < R && c < Cc) tile[k][threadIdx.x] = src[r * Cc + c];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < kTile; k += kTileRows) {
      const std::int64_t c = c0 + k, r = r0 + threadIdx.x;
      if (c < Cc && r < R) dst[c * R + r] = tile[threadIdx.x][k];
    }
    __syncthreads();  // the tile is refilled by the next iteration
  }
}

template <class T>
void transpose(const T* in, T* out, std::int64_t N, std::int64_t R, std::int64_t Cc, Stream s) {
  if (N <= 0 || R <= 0 || Cc <= 0) return;
  using W = std::conditional_t<sizeof(T) == 4, unsigned int, unsigned short>;
  static_assert(sizeof(W) == sizeof(T));
  const std::int64_t tr = (R + kTile - 1) / kTile, tc = (Cc + kTile - 1) / kTile;
  const std::int64_t total = N * tr * tc;
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(total, static_cast<std::int64_t>(sm_count()) * 16));
  transpose_kernel<W><<<blocks, dim3(kTile, kTileRows), 0, raw(s)>>>(reinterpret_cast<const W*>(in),
                                                                     reinterpret_cast<W*>(out), N, R, Cc, tr, tc);
  HRNET_CUDA_CHECK_LAUNCH(s);
}

}  // namespace
}  // namespace detail

using namespace detail;

template <GpuType T>
void concat_forward(const std::vector<const G<T>*>& xs, G<T>& y, Stream s) {
  using D = dev_t<T>;
  if (y.numel() == 0) return;
  const std::int64_t C = y.shape().c(), pixels = pixels_of(y.numel(), C);
  std::vector<SlabSpec<D>> specs;
  std::int64_t off = 0;
  for (const auto* x : xs) {
    const std::int64_t c = x->shape().c();
    HRNET_CHECK(c == 0 || pixels_of(x->numel(), c) == pixels, ShapeError,
                "concat_forward: input " << x->shape() << " does not match output " << y.shape());
    specs.push_back({dev_ptr(x->data()), dev_ptr(y.data()), c, 0, C, off, c});
    off += c;
  }
  HRNET_CHECK(off == C, ShapeError, "concat_forward: inputs hold " << off << " channels, output " << y.shape());
  move_slabs<false>(specs, pixels, "concat_forward", s);
}

template <GpuType T>
void concat_backward(const G<T>& dy, const std::vector<G<T>*>& dxs, Stream s) {
  using D = dev_t<T>;
  if (dy.numel() == 0) return;
  const std::int64_t C = dy.shape().c(), pixels = pixels_of(dy.numel(), C);
  std::vector<SlabSpec<D>> specs;
  std::int64_t off = 0;
  // A null entry occupies no channels of dy, exactly as in cpu::concat_backward (the ops layer
  // passes a scratch buffer for inputs without gradient, so every width is known).
  for (auto* dx : dxs) {
    if (!dx) continue;
    const std::int64_t c = dx->shape().c();
    HRNET_CHECK((c == 0 || pixels_of(dx->numel(), c) == pixels) && off + c <= C, ShapeError,
                "concat_backward: gradient " << dx->shape() << " does not match " << dy.shape());
    specs.push_back({dev_ptr(dy.data()), dev_ptr(dx->data()), C, off, c, 0, c});
    off += c;
  }
  move_slabs<true>(specs, pixels, "concat_backward", s);
}

template <GpuType T>
void slice_channels_forward(const G<T>& x, std::int64_t begin, G<T>& y, Stream s) {
  using D = dev_t<T>;
  if (y.numel() == 0) return;
  const std::int64_t C = x.shape().c(), c = y.shape().c(), pixels = pixels_of(y.numel(), c);
  HRNET_CHECK(begin >= 0 && begin + c <= C && pixels_of(x.numel(), C) == pixels, ShapeError,
              "slice_channels_forward: channels [" << begin << ", " << begin + c << ") of " << x.shape() << " into "
                                                   << y.shape());
  move_slabs<false>(std::vector<SlabSpec<D>>{{dev_ptr(x.data()), dev_ptr(y.data()), C, begin, c, 0, c}}, pixels,
                    "slice_channels_forward", s);
}

template <GpuType T>
void slice_channels_backward(const G<T>& dy, std::int64_t begin, G<T>& dx, Stream s) {
  using D = dev_t<T>;
  if (dy.numel() == 0) return;
  const std::int64_t C = dx.shape().c(), c = dy.shape().c(), pixels = pixels_of(dy.numel(), c);
  HRNET_CHECK(begin >= 0 && begin + c <= C && pixels_of(dx.numel(), C) == pixels, ShapeError,
              "slice_channels_backward: channels [" << begin << ", " << begin + c << ") of " << dx.shape()
                                                    << " from " << dy.shape());
  move_slabs<true>(std::vector<SlabSpec<D>>{{dev_ptr(dy.data()), dev_ptr(dx.data()), c, 0, C, begin, c}}, pixels,
                   "slice_channels_backward", s);
}

template <GpuType T>
void nchw_to_nhwc(const T* nchw, T* nhwc, const Shape& shape, Stream s) {
  HRNET_CHECK(shape.rank() == 4, ShapeError, "nchw_to_nhwc: shape must be 4-D, got " << shape);
  transpose(nchw, nhwc, shape.n(), shape.c(), shape.h() * shape.w(), s);
}

template <GpuType T>
void nhwc_to_nchw(const T* nhwc, T* nchw, const Shape& shape, Stream s) {
  HRNET_CHECK(shape.rank() == 4, ShapeError, "nhwc_to_nchw: shape must be 4-D, got " << shape);
  transpose(nhwc, nchw, shape.n(), shape.h() * shape.w(), shape.c(), s);
}

#define HRNET_INSTANTIATE(T)                                                                   \
  template void concat_forward<T>(const std::vector<const G<T>*>&, G<T>&, Stream);             \
  template void concat_backward<T>(const G<T>&, const std::vector<G<T>*>&, Stream);            \
  template void slice_channels_forward<T>(const G<T>&, std::int64_t, G<T>&, Stream);           \
  template void slice_channels_backward<T>(const G<T>&, std::int64_t, G<T>&, Stream);          \
  template void nchw_to_nhwc<T>(const T*, T*, const Shape&, Stream);                           \
  template void nhwc_to_nchw<T>(const T*, T*, const Shape&, Stream);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(half)
HRNET_INSTANTIATE(bfloat16)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::gpu

// Nearest upsampling and the HRNet fusion node y = relu(sum_j upsample_nearest(xs[j], f_j)).
// NHWC: the C channels of one pixel are contiguous, and output pixel (h, w) reads input pixel
// (h / f, w / f), so every kernel works on channel vectors of one pixel (16 bytes when C allows).
// Forward: one thread per output vector, all inputs summed in fp32 in order, one rounding.
// Backward: one thread per input vector summing its f x f block of g = dy * (y > 0) in fixed order
// (no atomics, deterministic); factor 1 is a plain element-wise accumulate.
#include "elementwise_common.cuh"

namespace hrnet::gpu {
namespace detail {
namespace {

using ewm::FastDiv;

template <class D> struct FusionInputs {
  const D* p[kMaxInputs];
  FastDiv f[kMaxInputs];         // the factor
  std::uint32_t h[kMaxInputs];   // input height
  std::uint32_t w[kMaxInputs];   // input width
};

// Output geometry of a launch: `chunks` vectors of V channels, cv vectors per pixel.
struct OutGeom {
  std::uint32_t chunks;
  FastDiv cv, wo, ho;
};

template <int V, bool Relu, class D>
__global__ void fusion_forward_kernel(FusionInputs<D> in, int nin, D* __restrict__ y, OutGeom g) {
  using W = typename Word<static_cast<int>(sizeof(D)) * V>::type;
  const std::uint32_t stride = gridDim.x * blockDim.x;
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < g.chunks; i += stride) {
    const std::uint32_t pix = g.cv.div(i), c = i - pix * g.cv.d;
    const std::uint32_t t = g.wo.div(pix), ow = pix - t * g.wo.d;
    const std::uint32_t n = g.ho.div(t), oh = t - n * g.ho.d;
    Pack<D, V> pk[kMaxInputs];
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
      if (j < nin) {
        const std::uint32_t src = ((n * in.h[j] + in.f[j].div(oh)) * in.w[j] + in.f[j].div(ow)) * g.cv.d + c;
        *reinterpret_cast<W*>(&pk[j]) = *reinterpret_cast<const W*>(in.p[j] + static_cast<std::size_t>(src) * V);
      }
    float acc[V];
    sum_packs<Relu>(pk, nin, acc);
    store_f32<V>(y + static_cast<std::size_t>(i) * V, acc);
  }
}

// g = dy at element offset o, masked by y > 0 (ReLU's gradient) when Mask: the gradient the
// fusion node's backward spreads to its inputs.
template <int V, bool Mask, class D>
__device__ __forceinline__ void load_grad(const D* y, const D* dy, std::size_t o, float (&g)[V]) {
  load_f32<V>(dy + o, g);
  if constexpr (Mask) {
    float yv[V];
    load_f32<V>(y + o, yv);
#pragma unroll
    for (int k = 0; k < V; ++k) g[k] = ewm::relu_grad(yv[k], g[k]);
  }
}

// dx[n, h, w, c] += sum over a, b < f of g[n, h f + a, w f + b, c], with g = dy * (y > 0) when Mask
// (else g = dy). The launch covers `geom.chunks` vectors of dx; geom describes dx (ho, wo = its H, W).
template <int V, bool Mask, class D>
__global__ void block_sum_backward_kernel(const D* __restrict__ y, const D* __restrict__ dy, D* __restrict__ dx,
                                          OutGeom geom, std::uint32_t f, std::uint32_t Ho, std::uint32_t Wo) {
  const std::uint32_t stride = gridDim.x * blockDim.x;
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < geom.chunks; i += stride) {
    const std::uint32_t pix = geom.cv.div(i), c = i - pix * geom.cv.d;
    const std::uint32_t t = geom.wo.div(pix), w = pix - t * geom.wo.d;
    const std::uint32_t n = geom.ho.div(t), h = t - n * geom.ho.d;
    float acc[V];
    load_f32<V>(dx + static_cast<std::size_t>(i) * V, acc);
    for (std::uint32_t a = 0; a < f; ++a) {
      const std::uint32_t row = (n * Ho + h * f + a) * Wo + w * f;
      for (std::uint32_t b = 0; b < f; ++b) {
        const std::size_t o = (static_cast<std::size_t>(row + b) * geom.cv.d + c) * V;
        float gv[V];
        load_grad<V, Mask>(y, dy, o, gv);
#pragma unroll
        for (int k = 0; k < V; ++k) acc[k] += gv[k];
      }
    }
    store_f32<V>(dx + static_cast<std::size_t>(i) * V, acc);
  }
}

// dx += g (factor 1), g as above.
template <int V, bool Mask, class D>
__global__ void masked_accumulate_kernel(const D* __restrict__ y, const D* __restrict__ dy, D* __restrict__ dx,
                                         std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t nv = n / V;
  auto step = [&]<int U>(std::int64_t off) {
    float a[U], gv[U];
    load_f32<U>(dx + off, a);
    load_grad<U, Mask>(y, dy, off, gv);
#pragma unroll
    for (int k = 0; k < U; ++k) a[k] += gv[k];
    store_f32<U>(dx + off, a);
  };
  for (std::int64_t i = first; i < nv; i += stride) step.template operator()<V>(i * V);
  if constexpr (V > 1)
    for (std::int64_t i = nv * V + first; i < n; i += stride) step.template operator()<1>(i);
}

template <GpuType T>
void check_4d(const G<T>& t, const char* op, const char* what) {
  HRNET_CHECK(t.rank() == 4, ShapeError, op << ": " << what << " must be 4-D, got " << t.shape());
}

// relu? (sum_j upsample(xs[j], factors[j])) into y, in batch chunks that keep indices 32-bit.
template <GpuType T, bool Relu>
void fusion_forward(const std::vector<const G<T>*>& xs, const std::vector<int>& factors, G<T>& y, const char* op,
                    Stream s) {
  using D = dev_t<T>;
  constexpr int kV = kVec<D>;
  check_input_count(xs.size(), op);
  HRNET_CHECK(xs.size() == factors.size(), ValueError,
              op << ": " << xs.size() << " inputs and " << factors.size() << " factors");
  check_4d(y, op, "output");
  const Shape& ys = y.shape();
  const std::int64_t C = ys.c();
  std::int64_t per_image = C * ys.h() * ys.w();
  bool vec = C % kV == 0 && aligned16(y.data());
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const Shape& xsh = xs[j]->shape();
    HRNET_CHECK(factors[j] >= 1 && xsh.rank() == 4 && xsh.n() == ys.n() && xsh.c() == C &&
                    xsh.h() * factors[j] == ys.h() && xsh.w() * factors[j] == ys.w(),
                ShapeError,
                op << ": input " << j << " " << xsh << " with factor " << factors[j] << " does not give output " << ys);
    vec = vec && aligned16(xs[j]->data());
    per_image = std::max(per_image, C * xsh.h() * xsh.w());
  }
  if (y.numel() == 0) return;
  for_batch_chunks(ys.n(), per_image, op, [&](std::int64_t n0, std::int64_t n1) {
    const int V = vec ? kV : 1;
    FusionInputs<D> in{};
    for (std::size_t j = 0; j < xs.size(); ++j) {
      const Shape& xsh = xs[j]->shape();
      in.p[j] = dev_ptr(xs[j]->data()) + n0 * C * xsh.h() * xsh.w();
      in.f[j] = FastDiv(static_cast<std::uint32_t>(factors[j]));
      in.h[j] = static_cast<std::uint32_t>(xsh.h());
      in.w[j] = static_cast<std::uint32_t>(xsh.w());
    }
    OutGeom g;
    g.chunks = static_cast<std::uint32_t>((n1 - n0) * C * ys.h() * ys.w() / V);
    g.cv = FastDiv(static_cast<std::uint32_t>(C / V));
    g.wo = FastDiv(static_cast<std::uint32_t>(ys.w()));
    g.ho = FastDiv(static_cast<std::uint32_t>(ys.h()));
    D* yp = dev_ptr(y.data()) + n0 * C * ys.h() * ys.w();
    const int nin = static_cast<int>(xs.size());
    if (vec)
      fusion_forward_kernel<kV, Relu><<<grid_for(g.chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(in, nin, yp, g);
    else
      fusion_forward_kernel<1, Relu><<<grid_for(g.chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(in, nin, yp, g);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

// dx += upsample_backward(g, f), g = dy * (y > 0) when Mask (y may be null otherwise).
template <GpuType T, bool Mask>
void block_sum_backward(const G<T>* y, const G<T>& dy, G<T>& dx, int f, const char* op, Stream s) {
  using D = dev_t<T>;
  constexpr int kV = kVec<D>;
  check_4d(dy, op, "output gradient");
  check_4d(dx, op, "input gradient");
  const Shape &os = dy.shape(), &xs = dx.shape();
  HRNET_CHECK(f >= 1 && xs.n() == os.n() && xs.c() == os.c() && xs.h() * f == os.h() && xs.w() * f == os.w(),
              ShapeError, op << ": gradient " << xs << " with factor " << f << " does not match output " << os);
  if constexpr (Mask) {
    HRNET_CHECK(y->shape() == os, ShapeError, op << ": output " << y->shape() << " vs its gradient " << os);
  }
  if (dx.numel() == 0) return;
  const D* yp = Mask ? dev_ptr(y->data()) : nullptr;
  const D* gp = dev_ptr(dy.data());
  D* xp = dev_ptr(dx.data());
  const std::int64_t C = xs.c();
  if (f == 1) {
    const std::int64_t n = dx.numel();
    const bool vec = aligned16(xp) && aligned16(gp) && (!Mask || aligned16(yp));
    if (vec)
      masked_accumulate_kernel<kV, Mask><<<grid_for(n / kV + 1, kEwBlock), kEwBlock, 0, raw(s)>>>(yp, gp, xp, n);
    else
      masked_accumulate_kernel<1, Mask><<<grid_for(n, kEwBlock), kEwBlock, 0, raw(s)>>>(yp, gp, xp, n);
    HRNET_CUDA_CHECK_LAUNCH(s);
    return;
  }
  const bool vec = C % kV == 0 && aligned16(xp) && aligned16(gp) && (!Mask || aligned16(yp));
  const std::int64_t out_image = C * os.h() * os.w(), in_image = C * xs.h() * xs.w();
  for_batch_chunks(os.n(), out_image, op, [&](std::int64_t n0, std::int64_t n1) {
    const int V = vec ? kV : 1;
    OutGeom g;
    g.chunks = static_cast<std::uint32_t>((n1 - n0) * in_image / V);
    g.cv = FastDiv(static_cast<std::uint32_t>(C / V));
    g.wo = FastDiv(static_cast<std::uint32_t>(xs.w()));
    g.ho = FastDiv(static_cast<std::uint32_t>(xs.h()));
    const D* yc = Mask ? yp + n0 * out_image : nullptr;
    const D* gc = gp + n0 * out_image;
    D* xc = xp + n0 * in_image;
    const auto fu = static_cast<std::uint32_t>(f), Ho = static_cast<std::uint32_t>(os.h()),
               Wo = static_cast<std::uint32_t>(os.w());
    if (vec)
      block_sum_backward_kernel<kV, Mask><<<grid_for(g.chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(yc, gc, xc, g, fu, Ho, Wo);
    else
      block_sum_backward_kernel<1, Mask><<<grid_for(g.chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(yc, gc, xc, g, fu, Ho, Wo);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

}  // namespace
}  // namespace detail

using namespace detail;

template <GpuType T>
void upsample_nearest_forward(const G<T>& x, G<T>& y, int factor, Stream s) {
  fusion_forward<T, false>({&x}, {factor}, y, "upsample_nearest_forward", s);
}

template <GpuType T>
void upsample_nearest_backward(const G<T>& dy, G<T>& dx, int factor, Stream s) {
  block_sum_backward<T, false>(nullptr, dy, dx, factor, "upsample_nearest_backward", s);
}

template <GpuType T>
void fusion_sum_relu_forward(const std::vector<const G<T>*>& xs, const std::vector<int>& factors, G<T>& y,
                             Stream s) {
  fusion_forward<T, true>(xs, factors, y, "fusion_sum_relu_forward", s);
}

template <GpuType T>
void fusion_sum_relu_backward(const G<T>& y, const G<T>& dy, const std::vector<G<T>*>& dxs,
                              const std::vector<int>& factors, Stream s) {
  HRNET_CHECK(dxs.size() == factors.size(), ValueError,
              "fusion_sum_relu_backward: " << dxs.size() << " gradients and " << factors.size() << " factors");
  // One pass per input: each reads y and dy once (recomputing the mask beats storing g).
  for (std::size_t j = 0; j < dxs.size(); ++j)
    if (dxs[j]) block_sum_backward<T, true>(&y, dy, *dxs[j], factors[j], "fusion_sum_relu_backward", s);
}

#define HRNET_INSTANTIATE(T)                                                                                    \
  template void upsample_nearest_forward<T>(const G<T>&, G<T>&, int, Stream);                                   \
  template void upsample_nearest_backward<T>(const G<T>&, G<T>&, int, Stream);                                  \
  template void fusion_sum_relu_forward<T>(const std::vector<const G<T>*>&, const std::vector<int>&, G<T>&,     \
                                           Stream);                                                             \
  template void fusion_sum_relu_backward<T>(const G<T>&, const G<T>&, const std::vector<G<T>*>&,                \
                                            const std::vector<int>&, Stream);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(half)
HRNET_INSTANTIATE(bfloat16)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::gpu

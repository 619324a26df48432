// HigherHRNet's associative-embedding loss (official lib/core/loss.py AELoss), forward and backward,
// as cpu::ae_loss_forward/backward (kernels/cpu/ae_loss.cpp): per image, over the people with at
// least one visible joint, with the tag maps flattened in NCHW order (flat index f names channel
// f / (H*W) and pixel f % (H*W)).
//
// One block per image. Everything is computed in double like the CPU, in the CPU's order except
// the push double sum, which is taken row by row (a thread per row) and then over the rows in
// order: the results are deterministic and equal the CPU's to double rounding before the final
// rounding to fp32. No atomics: the gradient scatter gives each distinct tag position to one thread,
// which adds every entry landing there in the CPU's order (person-major, joint order).
//
// Indices are not validated on the host (that would need a synchronisation): a visible joint whose
// index is outside [0, K*H*W) is never dereferenced, makes its image's push and pull NaN, and its
// image contributes no gradient. The ops layer validates joints on the host when it has them there.
#include <cmath>

#include "common.cuh"
#include "loss_math.hpp"

namespace hrnet::gpu {
namespace {
using namespace detail;
namespace lm = loss_math;

constexpr int kBlock = 128;

struct AeDims {
  std::int64_t M, J, K, HW;  // people, joint slots, tag channels, pixels per channel
};

// Per-image state in dynamic shared memory.
struct AeShared {
  double* mean;      // [M] mean tag of person m
  double* aux;       // [M] forward: pull term of person m; backward: d/d tbar of the compacted person
  double* rows;      // [M] push row sums of the compacted people
  std::int64_t* off; // [M*J] backward: tag memory offset of each visible entry
  double* grad;      // [M*J] backward: its gradient
  int* cnt;          // [M] visible joints of person m
  int* idx;          // [M] people with cnt > 0, in order
  int* ebegin;       // [M + 1] backward: entries of compacted person a are [ebegin[a], ebegin[a + 1])
};

__host__ __device__ std::size_t ae_shared_bytes(std::int64_t M, std::int64_t J, bool backward) {
  const std::size_t m = static_cast<std::size_t>(M), e = backward ? static_cast<std::size_t>(M * J) : 0;
  return m * 3 * sizeof(double) + e * (sizeof(std::int64_t) + sizeof(double)) + (3 * m + 1) * sizeof(int);
}

__device__ AeShared ae_carve(unsigned char* base, std::int64_t M, std::int64_t J, bool backward) {
  AeShared s;
  const std::int64_t E = backward ? M * J : 0;
  s.mean = reinterpret_cast<double*>(base);
  s.aux = s.mean + M;
  s.rows = s.aux + M;
  s.off = reinterpret_cast<std::int64_t*>(s.rows + M);
  s.grad = reinterpret_cast<double*>(s.off + E);
  s.cnt = reinterpret_cast<int*>(s.grad + E);
  s.idx = s.cnt + M;
  s.ebegin = s.idx + M;
  return s;
}

// joints (N, M, J, 2) int64, NHWC in memory: element (n, m, j, t) is at ((n*J + j)*2 + t)*M + m.
__device__ __forceinline__ std::int64_t joint(const std::int64_t* joints, const AeDims& d, std::int64_t n,
                                              std::int64_t m, std::int64_t j, int t) {
  return joints[((n * d.J + j) * 2 + t) * d.M + m];
}
// NCHW flat index f of image n -> the NHWC memory offset of tags
__device__ __forceinline__ std::int64_t tag_offset(const AeDims& d, std::int64_t n, std::int64_t f) {
  const std::int64_t c = f / d.HW, p = f - c * d.HW;
  return (n * d.HW + p) * d.K + c;
}

// Per-person means and pull terms (thread per person, joints in order as the CPU), then the
// compaction of the people with visible joints and the pull sum (thread 0, in order).
// Returns (in shared) P, the pull sum and whether an index was out of range.
__device__ void ae_stats(const float* tags, const std::int64_t* joints, const AeDims& d, std::int64_t n,
                         const AeShared& s, int& P, double& pull_sum, int& bad) {
  const std::int64_t total = d.K * d.HW;
  if (threadIdx.x == 0) bad = 0;
  __syncthreads();
  for (std::int64_t m = threadIdx.x; m < d.M; m += blockDim.x) {
    double sum = 0;
    int c = 0;
    for (std::int64_t j = 0; j < d.J; ++j) {
      if (joint(joints, d, n, m, j, 1) <= 0) continue;
      const std::int64_t f = joint(joints, d, n, m, j, 0);
      if (f < 0 || f >= total) {
        atomicOr(&bad, 1);
        continue;
      }
      sum += double(tags[tag_offset(d, n, f)]);
      ++c;
    }
    const double mean = c > 0 ? sum / double(c) : 0.0;
    double q = 0;
    for (std::int64_t j = 0; j < d.J && c > 0; ++j) {
      if (joint(joints, d, n, m, j, 1) <= 0) continue;
      const std::int64_t f = joint(joints, d, n, m, j, 0);
      if (f < 0 || f >= total) continue;
      const double dv = double(tags[tag_offset(d, n, f)]) - mean;
      q += dv * dv;
    }
    s.mean[m] = mean;
    s.aux[m] = c > 0 ? q / double(c) : 0.0;
    s.cnt[m] = c;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int p = 0, e = 0;
    double pl = 0;
    for (std::int64_t m = 0; m < d.M; ++m) {
      if (s.cnt[m] == 0) continue;
      s.idx[p] = static_cast<int>(m);
      s.ebegin[p] = e;
      e += s.cnt[m];
      ++p;
      pl += s.aux[m];
    }
    s.ebegin[p] = e;
    P = p;
    pull_sum = pl;
  }
  __syncthreads();
}

__global__ void ae_forward_kernel(const float* __restrict__ tags, const std::int64_t* __restrict__ joints, AeDims d,
                                  AeLossType type, float* __restrict__ push, float* __restrict__ pull) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int P, bad;
  __shared__ double pull_sum;
  const std::int64_t n = blockIdx.x;
  const AeShared s = ae_carve(smem, d.M, d.J, false);
  ae_stats(tags, joints, d, n, s, P, pull_sum, bad);
  for (int a = threadIdx.x; a < P; a += blockDim.x) {
    const double ta = s.mean[s.idx[a]];
    double r = 0;
    for (int b = 0; b < P; ++b) r += lm::ae_push_f(ta - s.mean[s.idx[b]], type);
    s.rows[a] = r;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double fs = 0;
    for (int a = 0; a < P; ++a) fs += s.rows[a];
    push[n] = bad ? NAN : static_cast<float>(lm::ae_push(fs, P));
    pull[n] = bad ? NAN : static_cast<float>(lm::ae_pull(pull_sum, P));
  }
}

__global__ void ae_backward_kernel(const float* __restrict__ tags, const std::int64_t* __restrict__ joints, AeDims d,
                                   AeLossType type, const float* __restrict__ dpush, const float* __restrict__ dpull,
                                   float* __restrict__ dtags) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int P, bad;
  __shared__ double pull_sum;
  const std::int64_t n = blockIdx.x;
  const AeShared s = ae_carve(smem, d.M, d.J, true);
  ae_stats(tags, joints, d, n, s, P, pull_sum, bad);
  if (bad || P == 0) return;  // uniform over the block (shared values after a barrier)
  const double gpl = dpull ? double(dpull[n]) / double(P) : 0.0;
  // d(dpush * push)/d tbar_a, then each visible entry's gradient, person by person
  for (int a = threadIdx.x; a < P; a += blockDim.x) {
    const int m = s.idx[a];
    double gmean = 0;
    if (dpush && P >= 2) {
      double r = 0;
      for (int b = 0; b < P; ++b) r += lm::ae_push_df(s.mean[m] - s.mean[s.idx[b]], type);
      gmean = lm::ae_push_mean_grad(double(dpush[n]), P, r);
    }
    const double cm = double(s.cnt[m]);
    int e = s.ebegin[a];
    for (std::int64_t j = 0; j < d.J; ++j) {
      if (joint(joints, d, n, m, j, 1) <= 0) continue;
      const std::int64_t o = tag_offset(d, n, joint(joints, d, n, m, j, 0));
      s.off[e] = o;
      s.grad[e] = lm::ae_tag_grad(double(tags[o]), s.mean[m], cm, gpl, gmean);
      ++e;
    }
  }
  __syncthreads();
  // Entries sharing a tag position are added by the owner of the first of them, in entry order.
  const int E = s.ebegin[P];
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    const std::int64_t o = s.off[e];
    bool owner = true;
    for (int k = 0; k < e && owner; ++k) owner = s.off[k] != o;
    if (!owner) continue;
    float v = dtags[o];
    for (int k = e; k < E; ++k)
      if (s.off[k] == o) v += static_cast<float>(s.grad[k]);
    dtags[o] = v;
  }
}

struct AeLaunch {
  AeDims d;
  std::int64_t N;
  std::size_t smem;
};

AeLaunch ae_prepare(const G<float>& tags, const Tensor<std::int64_t, CUDA>& joints, bool backward, const void* kernel) {
  const Shape& ts = tags.shape();
  const Shape& js = joints.shape();
  HRNET_CHECK(ts.rank() == 4, ShapeError, "ae_loss: tags must be (N, K, H, W), got " << ts);
  HRNET_CHECK(js.rank() == 4 && js[0] == ts[0] && js[3] == 2, ShapeError,
              "ae_loss: joints must be (N, people, joints, 2) with N = " << ts[0] << " for tags " << ts << ", got "
                                                                         << js);
  AeLaunch l{{js[1], js[2], ts.c(), ts.h() * ts.w()}, ts.n(), ae_shared_bytes(js[1], js[2], backward)};
  if (l.smem > 48 * 1024) {
    int dev = 0, optin = 0;
    HRNET_CUDA_CHECK(cudaGetDevice(&dev));
    HRNET_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    HRNET_CHECK(l.smem <= static_cast<std::size_t>(optin), ShapeError,
                "ae_loss: " << js[1] << " people x " << js[2] << " joint slots need " << l.smem
                            << " bytes of shared memory per image; the device has " << optin);
    HRNET_CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(l.smem)));
  }
  return l;
}

}  // namespace

void ae_loss_forward(const G<float>& tags, const Tensor<std::int64_t, CUDA>& joints, AeLossType type, G<float>& push,
                     G<float>& pull, Stream s) {
  const AeLaunch l = ae_prepare(tags, joints, false, reinterpret_cast<const void*>(&ae_forward_kernel));
  HRNET_CHECK(push.numel() == l.N && pull.numel() == l.N, ShapeError,
              "ae_loss: push " << push.shape() << " and pull " << pull.shape() << " must hold N = " << l.N);
  if (l.N == 0) return;
  ae_forward_kernel<<<static_cast<unsigned>(l.N), kBlock, l.smem, raw(s)>>>(tags.data(), joints.data(), l.d, type,
                                                                            push.data(), pull.data());
  HRNET_CUDA_CHECK_LAUNCH(s);
}

void ae_loss_backward(const G<float>& tags, const Tensor<std::int64_t, CUDA>& joints, AeLossType type,
                      const G<float>* dpush, const G<float>* dpull, G<float>& dtags, Stream s) {
  const AeLaunch l = ae_prepare(tags, joints, true, reinterpret_cast<const void*>(&ae_backward_kernel));
  HRNET_CHECK(dtags.shape() == tags.shape(), ShapeError,
              "ae_loss_backward: dtags " << dtags.shape() << " for tags " << tags.shape());
  HRNET_CHECK((!dpush || dpush->numel() == l.N) && (!dpull || dpull->numel() == l.N), ShapeError,
              "ae_loss_backward: dpush and dpull must hold N = " << l.N);
  if (l.N == 0 || (!dpush && !dpull)) return;
  ae_backward_kernel<<<static_cast<unsigned>(l.N), kBlock, l.smem, raw(s)>>>(
      tags.data(), joints.data(), l.d, type, dpush ? dpush->data() : nullptr, dpull ? dpull->data() : nullptr,
      dtags.data());
  HRNET_CUDA_CHECK_LAUNCH(s);
}

}  // namespace hrnet::gpu

// Fused multi-tensor optimizer steps: one launch updates up to kMaxTensors parameters (kMaxBlocks
// chunks of kChunk elements), as apex's multi_tensor_apply: the host cuts every tensor into chunks
// and passes, by value, the tensors' pointers and sizes and which chunk each block updates; a long
// list takes a few launches. The per-element update is optim_math's (PyTorch's single-tensor rules,
// bit-identical to the same functions run on the host). Elements are independent, so the result
// does not depend on the partition.
#include "common.cuh"
#include "optim_math.hpp"

namespace hrnet::gpu {
namespace {
using namespace detail;
namespace om = optim_math;

constexpr int kMaxTensors = 36;
constexpr int kMaxBlocks = 320;
constexpr std::int64_t kChunk = 65536;  // a multiple of 4: chunks start 16-byte aligned in aligned tensors
constexpr int kBlock = 512;

struct TensorList {
  float* p[kMaxTensors];
  const float* g[kMaxTensors];
  float* s1[kMaxTensors];
  float* s2[kMaxTensors];
  std::int64_t numel[kMaxTensors];
  unsigned char aligned[kMaxTensors];  // every pointer the update touches is 16-byte aligned
  unsigned char block_tensor[kMaxBlocks];
  int block_chunk[kMaxBlocks];
};
// Kernel parameters are limited to 4 KiB (with some room for the update's constants).
static_assert(sizeof(TensorList) + sizeof(om::AdamParams<float>) <= 4000, "TensorList too large for a kernel argument");

template <bool Momentum>
struct SgdOp {
  static constexpr int kStates = Momentum ? 1 : 0;
  om::SgdParams<float> c;
  __device__ __forceinline__ void operator()(float& p, float g, float& s1, float&) const {
    om::sgd_update(c, p, g, s1);
  }
};
struct AdamOp {
  static constexpr int kStates = 2;
  om::AdamParams<float> c;
  __device__ __forceinline__ void operator()(float& p, float g, float& m, float& v) const {
    om::adam_update(c, p, g, m, v);
  }
};

template <class Op>
__global__ void __launch_bounds__(kBlock) multi_tensor_kernel(TensorList tl, Op op) {
  constexpr int S = Op::kStates;
  const int t = tl.block_tensor[blockIdx.x];
  const std::int64_t begin = static_cast<std::int64_t>(tl.block_chunk[blockIdx.x]) * kChunk;
  const std::int64_t end = min(begin + kChunk, tl.numel[t]);
  float* __restrict__ p = tl.p[t];
  const float* __restrict__ g = tl.g[t];
  float* __restrict__ s1 = tl.s1[t];
  float* __restrict__ s2 = tl.s2[t];
  std::int64_t tail = begin;
  if (tl.aligned[t]) {
    const std::int64_t vend = begin + (end - begin) / 4 * 4;
    for (std::int64_t i = begin + 4 * static_cast<std::int64_t>(threadIdx.x); i < vend; i += 4 * blockDim.x) {
      float4 pv = *reinterpret_cast<const float4*>(p + i);
      const float4 gv = *reinterpret_cast<const float4*>(g + i);
      float4 av = make_float4(0.f, 0.f, 0.f, 0.f), bv = av;
      if (S >= 1) av = *reinterpret_cast<const float4*>(s1 + i);
      if (S >= 2) bv = *reinterpret_cast<const float4*>(s2 + i);
      op(pv.x, gv.x, av.x, bv.x);
      op(pv.y, gv.y, av.y, bv.y);
      op(pv.z, gv.z, av.z, bv.z);
      op(pv.w, gv.w, av.w, bv.w);
      *reinterpret_cast<float4*>(p + i) = pv;
      if (S >= 1) *reinterpret_cast<float4*>(s1 + i) = av;
      if (S >= 2) *reinterpret_cast<float4*>(s2 + i) = bv;
    }
    tail = vend;
  }
  for (std::int64_t i = tail + threadIdx.x; i < end; i += blockDim.x) {
    float pv = p[i], av = 0.f, bv = 0.f;
    if (S >= 1) av = s1[i];
    if (S >= 2) bv = s2[i];
    op(pv, g[i], av, bv);
    p[i] = pv;
    if (S >= 1) s1[i] = av;
    if (S >= 2) s2[i] = bv;
  }
}

bool aligned16(const void* q) { return reinterpret_cast<std::uintptr_t>(q) % 16 == 0; }

template <class Op>
void multi_tensor_apply(const std::vector<ParamSlot>& params, const Op& op, Stream s, const char* what) {
  constexpr int S = Op::kStates;
  TensorList tl{};
  int nt = 0, nb = 0;
  auto launch = [&] {
    multi_tensor_kernel<Op><<<nb, kBlock, 0, raw(s)>>>(tl, op);
    HRNET_CUDA_CHECK_LAUNCH(s);
    nb = 0;
  };
  for (std::size_t i = 0; i < params.size(); ++i) {
    const ParamSlot& ps = params[i];
    HRNET_CHECK(ps.numel >= 0, ValueError, what << ": parameter " << i << " has " << ps.numel << " elements");
    if (ps.numel == 0) continue;
    HRNET_CHECK(ps.param && ps.grad && (S < 1 || ps.state1) && (S < 2 || ps.state2), ValueError,
                what << ": parameter " << i << " lacks its "
                     << (!ps.param ? "value" : !ps.grad ? "gradient" : !ps.state1 ? "first state" : "second state"));
    tl.p[nt] = ps.param;
    tl.g[nt] = ps.grad;
    tl.s1[nt] = S >= 1 ? ps.state1 : nullptr;
    tl.s2[nt] = S >= 2 ? ps.state2 : nullptr;
    tl.numel[nt] = ps.numel;
    tl.aligned[nt] = aligned16(ps.param) && aligned16(ps.grad) && (S < 1 || aligned16(ps.state1)) &&
                     (S < 2 || aligned16(ps.state2));
    const std::int64_t chunks = (ps.numel + kChunk - 1) / kChunk;
    for (std::int64_t c = 0; c < chunks; ++c) {
      tl.block_tensor[nb] = static_cast<unsigned char>(nt);
      tl.block_chunk[nb] = static_cast<int>(c);
      ++nb;
      const bool last_chunk = c == chunks - 1;
      if (nb == kMaxBlocks || (last_chunk && nt + 1 == kMaxTensors)) {
        launch();
        if (last_chunk) {
          nt = -1;  // the next tensor starts a fresh list
        } else {    // this tensor continues in slot 0 of the next launch
          tl.p[0] = tl.p[nt];
          tl.g[0] = tl.g[nt];
          tl.s1[0] = tl.s1[nt];
          tl.s2[0] = tl.s2[nt];
          tl.numel[0] = tl.numel[nt];
          tl.aligned[0] = tl.aligned[nt];
          nt = 0;
        }
      }
    }
    ++nt;
  }
  if (nb > 0) launch();
}

}  // namespace

void sgd_step_multi(const std::vector<ParamSlot>& params, double lr, double momentum, double dampening,
                    double weight_decay, bool nesterov, bool first_step, Stream s) {
  const auto c = om::sgd_params<float>(lr, momentum, dampening, weight_decay, nesterov, first_step);
  if (momentum != 0) multi_tensor_apply(params, SgdOp<true>{c}, s, "sgd_step_multi");
  else multi_tensor_apply(params, SgdOp<false>{c}, s, "sgd_step_multi");
}

void adam_step_multi(const std::vector<ParamSlot>& params, double lr, double beta1, double beta2, double eps,
                     double weight_decay, bool decoupled, std::int64_t step, Stream s) {
  HRNET_CHECK(step >= 1, ValueError, "adam_step_multi: step " << step << " must be >= 1");
  const auto c = om::adam_params<float>(lr, beta1, beta2, eps, weight_decay, decoupled, step);
  multi_tensor_apply(params, AdamOp{c}, s, "adam_step_multi");
}

}  // namespace hrnet::gpu

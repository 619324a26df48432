// CUDA losses, reductions and fused optimizer steps against the CPU backend (kernels/cuda/
// reduce_loss.cu, ae_loss.cu, optim.cu), plus CPU-only checks of the per-element math they share
// with the host (hrnet/backend/loss_math.hpp, optim_math.hpp) against cpu::.
//
// u = 2^-24 below is fp32's unit roundoff; unit_roundoff<T>() that of the storage type.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cuda_test_util.hpp"
#include "hrnet/backend/cpu_pose.hpp"
#include "loss_math.hpp"
#include "optim_math.hpp"

using namespace hrnet;
using hrnet::test::require_close;
using I64 = Tensor<std::int64_t, CPU>;
using F = Tensor<float, CPU>;

namespace {

constexpr double kU = 0x1p-24;

std::vector<float> random_vec(std::size_t n, Rng& rng, double lo, double hi) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.uniform(lo, hi));
  return v;
}
F vec_tensor(const std::vector<float>& v) { return F::from_vector({static_cast<std::int64_t>(v.size())}, v); }

// The three SGD and three Adam configurations every optimizer test runs.
struct SgdCfg {
  const char* name;
  double lr, momentum, dampening, wd;
  bool nesterov;
};
const SgdCfg kSgd[] = {{"plain", 0.1, 0.0, 0.0, 0.0, false},
                       {"momentum dampening weight decay", 0.05, 0.9, 0.1, 1e-2, false},
                       {"nesterov weight decay", 0.05, 0.9, 0.0, 5e-4, true}};
struct AdamCfg {
  const char* name;
  double lr, b1, b2, eps, wd;
  bool decoupled;
};
const AdamCfg kAdam[] = {{"adam", 1e-3, 0.9, 0.999, 1e-8, 0.0, false},
                         {"adam weight decay", 2e-3, 0.8, 0.99, 1e-6, 1e-2, false},
                         {"adamw", 1e-3, 0.9, 0.999, 1e-8, 5e-2, true}};

// joints (N, M, J, 2): image 0 random people (one without visible joints, garbage in invisible
// slots), image 1 nobody, image 2 one person, image 3 two people sharing a tag position and a
// person with a duplicated index (the gradient scatter's collision path).
I64 make_joints(Rng& rng, std::int64_t K, std::int64_t H, std::int64_t W, std::int64_t M, std::int64_t J) {
  auto jt = I64::zeros({4, M, J, 2});
  const std::int64_t HW = H * W;
  auto put = [&](std::int64_t n, std::int64_t m, std::int64_t j, std::int64_t f) {
    jt.at(n, m, j, 0) = f;
    jt.at(n, m, j, 1) = 1;
  };
  auto rand_pix = [&] { return static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(HW))); };
  for (std::int64_t m = 0; m < M; ++m) {
    if (m == 1) continue;
    for (std::int64_t j = 0; j < J; ++j)
      if (rng.uniform() < 0.6) put(0, m, j, (j % K) * HW + rand_pix());
  }
  jt.at(0, 1, 0, 0) = 1'000'000;  // invisible: ignored whatever the index
  jt.at(0, 1, 1, 0) = -3;
  jt.at(1, 0, 0, 0) = 5;  // image 1: one invisible entry only
  put(2, M - 1, 0, 1 * HW + 3);
  put(2, M - 1, 2, (K - 1) * HW + HW - 1);
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t j = 0; j < J; ++j)
      if (rng.uniform() < 0.5) put(3, m, j, (j % K) * HW + rand_pix());
  put(3, 0, 0, 2 * W + 1);
  put(3, 0, 1, 2 * W + 1);  // the same index twice inside one person
  put(3, 1, 0, 2 * W + 1);  // and in another person
  return jt;
}

}  // namespace

// =====================================================================================================
// CPU-only: the shared per-element math on the host against the CPU backend.
// =====================================================================================================

TEST_CASE("optim_math sgd_update matches cpu sgd_step_multi", "[optim_math][cpu]") {
  for (const SgdCfg& cfg : kSgd) {
    INFO(cfg.name);
    Rng rng(11);
    const std::size_t n = 1001;
    std::vector<float> p = random_vec(n, rng, -1, 1), buf(n, 0.f);
    std::vector<float> p_ref = p, buf_ref = buf;
    std::vector<double> p_d(p.begin(), p.end()), buf_d(n, 0.0);
    for (int step = 0; step < 30; ++step) {
      const std::vector<float> g = random_vec(n, rng, -1, 1);
      const bool first = step == 0;
      const auto c = optim_math::sgd_params<float>(cfg.lr, cfg.momentum, cfg.dampening, cfg.wd, cfg.nesterov, first);
      const auto cd = optim_math::sgd_params<double>(cfg.lr, cfg.momentum, cfg.dampening, cfg.wd, cfg.nesterov, first);
      for (std::size_t i = 0; i < n; ++i) {
        optim_math::sgd_update(c, p[i], g[i], buf[i]);
        optim_math::sgd_update(cd, p_d[i], double(g[i]), buf_d[i]);
      }
      cpu::sgd_step_multi<float>({{p_ref.data(), g.data(), cfg.momentum != 0 ? buf_ref.data() : nullptr, nullptr,
                                  static_cast<std::int64_t>(n)}}, cfg.lr, cfg.momentum, cfg.dampening, cfg.wd, cfg.nesterov,
                           first);
    }
    // Against cpu::sgd_step_multi: the same operations; bit-identical where its compiler contracts the
    // multiply-adds into FMAs (x86-64-v3), else up to 3 roundings per step differ, carried by p and
    // buf over 30 steps as a random walk (measured: <= 9u of 1 + |p| without FMA): 64u.
    require_close(vec_tensor(p), vec_tensor(p_ref), 64 * kU, 64 * kU, "p vs cpu::sgd_step_multi");
    require_close(vec_tensor(buf), vec_tensor(buf_ref), 64 * kU, 64 * kU, "momentum vs cpu::sgd_step_multi");
    // Against the same rules in double: the fp32 roundings only (measured <= 6u of 1 + |p|).
    std::vector<float> pd(p_d.begin(), p_d.end());
    require_close(vec_tensor(p), vec_tensor(pd), 64 * kU, 64 * kU, "p vs the double-precision update");
  }
}

TEST_CASE("optim_math adam_update matches cpu adam_step_multi", "[optim_math][cpu]") {
  for (const AdamCfg& cfg : kAdam) {
    INFO(cfg.name);
    Rng rng(12);
    const std::size_t n = 1003;
    std::vector<float> p = random_vec(n, rng, -1, 1), m(n, 0.f), v(n, 0.f);
    std::vector<float> p_ref = p, m_ref = m, v_ref = v;
    for (std::int64_t step = 1; step <= 50; ++step) {
      std::vector<float> g = random_vec(n, rng, -1, 1);
      g[0] = 0.f;  // a parameter with zero gradients: the denominator is eps
      const auto c = optim_math::adam_params<float>(cfg.lr, cfg.b1, cfg.b2, cfg.eps, cfg.wd, cfg.decoupled, step);
      for (std::size_t i = 0; i < n; ++i) optim_math::adam_update(c, p[i], g[i], m[i], v[i]);
      cpu::adam_step_multi<float>({{p_ref.data(), g.data(), m_ref.data(), v_ref.data(), static_cast<std::int64_t>(n)}},
                                  cfg.lr, cfg.b1, cfg.b2, cfg.eps, cfg.wd, cfg.decoupled, step);
    }
    // Same operations; bit-identical where the CPU's compiler contracts into FMAs, else a few
    // roundings per step of terms <= 1 (|g| <= 1): m and v are averages, so their absolute
    // difference stays ~ 8u; the update m / denom then differs by ~ 32u absolute, moving p by lr
    // times that per step, beyond one rounding of p.
    require_close(vec_tensor(m), vec_tensor(m_ref), 8 * kU, 8 * kU, "exp_avg vs cpu::adam_step_multi");
    require_close(vec_tensor(v), vec_tensor(v_ref), 8 * kU, 8 * kU, "exp_avg_sq vs cpu::adam_step_multi");
    require_close(vec_tensor(p), vec_tensor(p_ref), 4 * kU, 50 * cfg.lr * 32 * kU, "p vs cpu::adam_step_multi");
  }
}

TEST_CASE("loss_math masked mse matches cpu masked_mse", "[loss_math][cpu]") {
  const Shape s{2, 5, 7, 9};
  auto pred = test::random_tensor<float>(s, 1), gt = test::random_tensor<float>(s, 2);
  auto mask = test::random_tensor<float>({2, 1, 7, 9}, 3, 0.f, 1.f);
  for (std::int64_t i = 0; i < mask.numel(); i += 3) mask[i] = 0.f;  // masked-out pixels
  const std::int64_t C = s.c(), n = pred.numel();
  // forward: the fp32 terms summed in double
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) total += loss_math::masked_mse_term(pred[i], gt[i], mask[i / C]);
  auto loss = F::empty({});
  cpu::masked_mse_forward<float>(pred, gt, mask, loss);
  // each term d*d*m has 3 fp32 roundings where the CPU has none (double): 3u relative, terms >= 0
  CHECK(std::abs(total / double(n) - double(loss[0])) <= 4 * kU * double(loss[0]));
  // backward: bit-for-bit the same expression as the CPU's scale * (pred - gt) * mask, up to contraction
  auto dloss = F::full({}, 0.75f);
  auto dpred = test::random_tensor<float>(s, 4), expect = dpred.clone();
  cpu::masked_mse_backward<float>(pred, gt, mask, dloss, expect);
  const float scale = loss_math::masked_mse_grad_scale(dloss[0], n);
  for (std::int64_t i = 0; i < n; ++i) dpred[i] += loss_math::masked_mse_grad(scale, pred[i], gt[i], mask[i / C]);
  // one rounding of the sum plus possibly one of the product (contraction): 2u of |dpred| + |grad|
  require_close(dpred, expect, 2 * kU, 2 * kU * (2.0 * 0.75 * 2 / double(n)), "dpred");
}

TEST_CASE("loss_math cross entropy matches cpu cross_entropy", "[loss_math][cpu]") {
  for (double eps : {0.0, 0.1}) {
    for (std::int64_t K : {std::int64_t(3), std::int64_t(37), std::int64_t(1000)}) {
      INFO("smoothing " << eps << ", K " << K);
      const std::int64_t N = 7;
      auto logits = test::random_tensor<float>({N, K}, 5 + K, -4.f, 4.f);
      auto labels = I64::empty({N});
      Rng rng(6);
      for (std::int64_t r = 0; r < N; ++r) labels[r] = static_cast<std::int64_t>(rng.below(std::uint64_t(K)));
      // The kernel's fp32 row statistics, here taken sequentially.
      std::vector<float> lse(N), sum_z(N);
      for (std::int64_t r = 0; r < N; ++r) {
        const float* z = logits.data() + r * K;
        float m = -INFINITY, se = 0.f, sz = 0.f;
        for (std::int64_t k = 0; k < K; ++k) m = std::max(m, z[k]);
        for (std::int64_t k = 0; k < K; ++k) {
          se += std::exp(z[k] - m);
          sz += z[k];
        }
        lse[r] = m + std::log(se);
        sum_z[r] = sz;
      }
      float acc = 0.f;
      for (std::int64_t r = 0; r < N; ++r)
        acc += loss_math::ce_row_loss(lse[r], logits[r * K + labels[r]], sum_z[r], K, float(1 - eps), float(eps));
      auto loss = F::empty({});
      cpu::cross_entropy_forward<float>(logits, labels, eps, loss);
      // fp32 sums of K terms of size <= e^0 (sum-exp) and <= 4 (logits): about K u relative each,
      // times |logits| <= 4 and lse <= 4 + log K: bound 16 K u + a few u of the loss.
      CHECK(std::abs(double(acc) / double(N) - double(loss[0])) <= 16.0 * double(K) * kU + 8 * kU * double(loss[0]));
      // gradient
      auto dloss = F::full({}, 1.5f);
      auto dl = test::random_tensor<float>({N, K}, 7), expect = dl.clone();
      cpu::cross_entropy_backward<float>(logits, labels, eps, dloss, expect);
      const auto t = loss_math::ce_targets(eps, K);
      const float scale = static_cast<float>(double(dloss[0]) / double(N));
      for (std::int64_t r = 0; r < N; ++r)
        for (std::int64_t k = 0; k < K; ++k)
          dl[r * K + k] += loss_math::ce_grad(scale, logits[r * K + k], lse[r], k == labels[r] ? t.on : t.off);
      // softmax in fp32 with lse off by ~K u absolute (above): relative error of p ~ (K + 4) u, times
      // scale; plus one rounding of the sum (|dl| <= 1 + scale).
      require_close(dl, expect, 2 * kU, (16.0 * double(K) + 8) * kU * double(scale), "dlogits");
    }
  }
}

namespace {
// The AE loss kernels' algorithm, serial, on the host with loss_math's functions: per image the
// people with visible joints, their means and pull terms, the push rows summed row by row, and
// the gradient entries added in entry order.
void ae_host(const F& tags, const I64& joints, AeLossType type, F& push, F& pull, const F* dpush, const F* dpull,
             F* dtags) {
  const Shape& ts = tags.shape();
  const std::int64_t N = ts.n(), K = ts.c(), HW = ts.h() * ts.w(), M = joints.shape()[1], J = joints.shape()[2];
  for (std::int64_t n = 0; n < N; ++n) {
    std::vector<double> mean, pullp;
    std::vector<std::vector<std::int64_t>> offs;
    for (std::int64_t m = 0; m < M; ++m) {
      std::vector<std::int64_t> o;
      for (std::int64_t j = 0; j < J; ++j) {
        if (joints.at(n, m, j, 1) <= 0) continue;
        const std::int64_t f = joints.at(n, m, j, 0);
        o.push_back((n * HW + f % HW) * K + f / HW);
      }
      if (o.empty()) continue;
      double s = 0;
      for (auto x : o) s += double(tags[x]);
      const double mu = s / double(o.size());
      double q = 0;
      for (auto x : o) q += (double(tags[x]) - mu) * (double(tags[x]) - mu);
      mean.push_back(mu);
      pullp.push_back(q / double(o.size()));
      offs.push_back(o);
    }
    const std::int64_t P = static_cast<std::int64_t>(mean.size());
    double pl = 0, fs = 0;
    for (double x : pullp) pl += x;
    for (std::int64_t a = 0; a < P; ++a) {
      double r = 0;
      for (std::int64_t b = 0; b < P; ++b) r += loss_math::ae_push_f(mean[a] - mean[b], type);
      fs += r;
    }
    push[n] = static_cast<float>(loss_math::ae_push(fs, P));
    pull[n] = static_cast<float>(loss_math::ae_pull(pl, P));
    if (!dtags || P == 0) continue;
    const double gpl = dpull ? double((*dpull)[n]) / double(P) : 0.0;
    for (std::int64_t a = 0; a < P; ++a) {
      double gmean = 0;
      if (dpush && P >= 2) {
        double r = 0;
        for (std::int64_t b = 0; b < P; ++b) r += loss_math::ae_push_df(mean[a] - mean[b], type);
        gmean = loss_math::ae_push_mean_grad(double((*dpush)[n]), P, r);
      }
      for (auto x : offs[a])
        (*dtags)[x] += static_cast<float>(
            loss_math::ae_tag_grad(double(tags[x]), mean[a], double(offs[a].size()), gpl, gmean));
    }
  }
}
}  // namespace

TEST_CASE("loss_math ae loss terms match cpu ae_loss", "[loss_math][cpu][ae_loss]") {
  const std::int64_t K = 5, H = 6, W = 7, M = 6, J = 7;
  Rng rng(21);
  const I64 joints = make_joints(rng, K, H, W, M, J);
  for (AeLossType type : {AeLossType::Exp, AeLossType::Max}) {
    INFO((type == AeLossType::Exp ? "exp" : "max"));
    auto tags = test::random_tensor<float>({4, K, H, W}, 22, -1.5f, 1.5f);
    F push = F::empty({4}), pull = F::empty({4}), push_ref = F::empty({4}), pull_ref = F::empty({4});
    auto dpush = test::random_tensor<float>({4}, 23), dpull = test::random_tensor<float>({4}, 24);
    auto dtags = test::random_tensor<float>({4, K, H, W}, 25), dtags_ref = dtags.clone();
    ae_host(tags, joints, type, push, pull, &dpush, &dpull, &dtags);
    cpu::ae_loss_forward<float>(tags, joints, type, push_ref, pull_ref);
    cpu::ae_loss_backward<float>(tags, joints, type, &dpush, &dpull, dtags_ref);
    // Both in double; only the push sum's order differs (rows first): a few double roundings of sums
    // <= P^2 before one rounding to fp32, so at most one fp32 ulp apart.
    require_close(push, push_ref, 2 * kU, 1e-12, "push");
    require_close(pull, pull_ref, 2 * kU, 1e-12, "pull");
    require_close(dtags, dtags_ref, 2 * kU, 1e-12, "dtags");
    CHECK(push_ref[1] == 0.f);  // image 1 has nobody, image 2 one person: no push
    CHECK(pull_ref[1] == 0.f);
    CHECK(push_ref[2] == 0.f);
  }
}

// =====================================================================================================
// GPU against the CPU backend (skipped without a GPU).
// =====================================================================================================
#if defined(HRNET_WITH_CUDA)
namespace {
using test::host_f32;
using test::unit_roundoff;
template <class T> using G = Tensor<T, CUDA>;

float scalar_of(const G<float>& t) { return to_cpu(t)[0]; }
bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// A copy of `h` on the GPU starting 4 bytes past a 16-byte boundary (the scalar path), kept alive by
// the returned owner.
template <class T>
std::pair<G<T>, G<T>> misaligned_copy(const Tensor<T, CPU>& h) {
  const std::int64_t pad = std::max<std::int64_t>(1, 4 / static_cast<std::int64_t>(sizeof(T)));
  auto host = Tensor<T, CPU>::zeros({h.numel() + pad});
  std::copy(h.data(), h.data() + h.numel(), host.data() + pad);
  auto owner = to_cuda(host);
  return {owner, G<T>::wrap(owner.data() + pad, h.shape())};
}

// fp32 accumulation error bound of the GPU reductions: each thread sums at most L of the n
// elements in order, then a 256-thread tree (8 levels), then at most 1024 partials (10 levels).
double reduce_bound(std::int64_t n, double sum_abs) {
  const double L = std::ceil(double(n) / (1024.0 * 256.0)) * 8 + 8;
  return (L + 20) * kU * sum_abs;
}

template <class T>
void check_sum(std::int64_t n, std::uint64_t seed) {
  INFO("n = " << n);
  auto [x, xf] = test::random_pair<T>({n}, seed);
  double ref = 0, sum_abs = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    ref += double(xf[i]);
    sum_abs += std::abs(double(xf[i]));
  }
  auto out = G<float>::empty({}), again = G<float>::empty({});
  gpu::sum(x, out);
  gpu::sum(x, again);
  const float got = scalar_of(out);
  CHECK(std::abs(double(got) - ref) <= reduce_bound(n, sum_abs) + kU * std::abs(ref));
  CHECK(same_bits(got, scalar_of(again)));  // deterministic
  auto [owner, mis] = misaligned_copy(to_cpu(x));
  auto out_mis = G<float>::empty({});
  gpu::sum(mis, out_mis);
  CHECK(same_bits(got, scalar_of(out_mis)));  // same partition and order on the scalar path
}
}  // namespace
#endif

TEST_CASE("cuda sum matches a double sum, deterministic and alignment independent", "[cuda][loss]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  for (std::int64_t n : {std::int64_t(1), std::int64_t(7), std::int64_t(4099), std::int64_t(1 << 20) + 3,
                         std::int64_t(3'000'001)}) {
    check_sum<float>(n, 1);
    check_sum<half>(n, 2);
    check_sum<bfloat16>(n, 3);
  }
  auto empty = G<float>::empty({0}), out = G<float>::empty({});
  gpu::sum(empty, out);
  CHECK(scalar_of(out) == 0.f);
#endif
}

#if defined(HRNET_WITH_CUDA)
namespace {
template <class T>
void check_masked_mse(const Shape& s, std::uint64_t seed) {
  INFO("shape " << s << ", " << sizeof(T) << "-byte type");
  auto [pred, pf] = test::random_pair<T>(s, seed);
  auto [gt, gf] = test::random_pair<T>(s, seed + 1);
  auto mh = test::random_tensor<T>({s.n(), 1, s.h(), s.w()}, seed + 2, 0.f, 1.f);
  for (std::int64_t i = 0; i < mh.numel(); i += 4) mh[i] = convert<T>(0.f);  // masked-out pixels
  auto mask = to_cuda(mh);
  auto mf = cast<float>(mh);
  // forward
  auto loss = G<float>::empty({}), loss2 = G<float>::empty({});
  gpu::masked_mse_forward(pred, gt, mask, loss);
  gpu::masked_mse_forward(pred, gt, mask, loss2);
  auto ref = F::empty({});
  cpu::masked_mse_forward<float>(pf, gf, mf, ref);
  // terms are >= 0, each with 3 fp32 roundings; then the reduction's accumulation
  const double n = double(pred.numel());
  CHECK(std::abs(double(scalar_of(loss)) - double(ref[0])) <=
        (reduce_bound(pred.numel(), double(ref[0]) * n) + 4 * kU * double(ref[0]) * n) / n);
  CHECK(same_bits(scalar_of(loss), scalar_of(loss2)));
  // the scalar path (pointers off 16-byte boundaries) has the same partition and order
  auto [pred_owner, pred_mis] = misaligned_copy(to_cpu(pred));
  auto [gt_owner, gt_mis] = misaligned_copy(to_cpu(gt));
  auto loss_mis = G<float>::empty({});
  gpu::masked_mse_forward(pred_mis, gt_mis, mask, loss_mis);
  CHECK(same_bits(scalar_of(loss), scalar_of(loss_mis)));
  // backward: dpred += 2 dloss / n * (pred - gt) * mask, starting from random values
  auto dloss = to_cuda(F::full({}, 1.25f));
  auto [dpred, dref] = test::random_pair<T>(s, seed + 3);
  auto [dpred_owner, dpred_mis] = misaligned_copy(to_cpu(dpred));  // the same start, for the scalar path
  gpu::masked_mse_backward(pred, gt, mask, dloss, dpred);
  gpu::masked_mse_backward(pred_mis, gt_mis, mask, dloss, dpred_mis);
  cpu::masked_mse_backward<float>(pf, gf, mf, to_cpu(dloss), dref);
  // one rounding to T of the result, plus fp32 contraction differences (2u of |dpred| <= 1 + |grad|)
  test::require_gpu_close(dpred, dref, unit_roundoff<T>(), 4 * kU, "dpred");
  test::require_gpu_close(dpred_mis, dref, unit_roundoff<T>(), 4 * kU, "dpred, scalar path");
}
}  // namespace
#endif

TEST_CASE("cuda masked_mse forward and backward match cpu", "[cuda][loss]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  for (const Shape& s : {Shape{2, 17, 33, 29}, Shape{3, 5, 7, 9}, Shape{1, 37, 61, 45}, Shape{4, 8, 64, 64}}) {
    check_masked_mse<float>(s, 10);
    check_masked_mse<half>(s, 20);
    check_masked_mse<bfloat16>(s, 30);
  }
#endif
}

#if defined(HRNET_WITH_CUDA)
namespace {
template <class T>
void check_cross_entropy(std::int64_t N, std::int64_t K, double eps, std::uint64_t seed) {
  INFO("N " << N << ", K " << K << ", smoothing " << eps << ", " << sizeof(T) << "-byte type");
  auto [logits, lf] = test::random_pair<T>({N, K}, seed, -4.f, 4.f);
  auto lh = I64::empty({N});
  Rng rng(seed);
  for (std::int64_t r = 0; r < N; ++r) lh[r] = static_cast<std::int64_t>(rng.below(std::uint64_t(K)));
  auto labels = to_cuda(lh);
  auto loss = G<float>::empty({}), loss2 = G<float>::empty({});
  gpu::cross_entropy_forward(logits, labels, eps, loss);
  gpu::cross_entropy_forward(logits, labels, eps, loss2);
  auto ref = F::empty({});
  cpu::cross_entropy_forward<float>(lf, lh, eps, ref);
  // fp32 row statistics: log-sum-exp of K terms <= 1 and the logit sum of K terms <= 4 (about K/32 +
  // 5 roundings each, lanes then tree), lse <= 4 + log K; then the mean of N rows: bound
  // (K/32 + N/32 + 16) * 4 * (4 + log K) u, plus expf/logf's 2 ulps.
  const double b = (double(K) / 32 + double(N) / 32 + 16) * 4 * (4 + std::log(double(K))) * kU;
  CHECK(std::abs(double(scalar_of(loss)) - double(ref[0])) <= b + 8 * kU * double(ref[0]));
  CHECK(same_bits(scalar_of(loss), scalar_of(loss2)));
  auto dloss = to_cuda(F::full({}, 0.8f));
  auto [dl, dref] = test::random_pair<T>({N, K}, seed + 1);
  gpu::cross_entropy_backward(logits, labels, eps, dloss, dl);
  cpu::cross_entropy_backward<float>(lf, lh, eps, to_cpu(dloss), dref);
  // per element scale * (softmax - target): softmax's relative error ~ the lse error above (b) plus
  // expf's 2 ulps, times scale = 0.8 / N; then one rounding to T of dl + grad.
  test::require_gpu_close(dl, dref, unit_roundoff<T>(), (b + 4 * kU) * 0.8 / double(N) + 2 * kU, "dlogits");
}
}  // namespace
#endif

TEST_CASE("cuda cross_entropy forward and backward match cpu", "[cuda][loss]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  for (double eps : {0.0, 0.1})
    for (auto [N, K] : std::initializer_list<std::pair<std::int64_t, std::int64_t>>{
             {1, 3}, {5, 37}, {67, 10}, {33, 1000}, {2000, 13}}) {
      check_cross_entropy<float>(N, K, eps, 40);
      check_cross_entropy<half>(N, K, eps, 50);
      check_cross_entropy<bfloat16>(N, K, eps, 60);
    }
#endif
}

TEST_CASE("cuda cross_entropy labels outside the classes give NaN, not a crash", "[cuda][loss]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  auto logits = to_cuda(test::random_tensor<float>({3, 5}, 70));
  auto labels = to_cuda(I64::from_vector({3}, {1, 5, -1}));
  auto loss = G<float>::empty({});
  gpu::cross_entropy_forward(logits, labels, 0.0, loss);
  CHECK(std::isnan(scalar_of(loss)));
  auto dl = G<float>::zeros({3, 5});
  gpu::cross_entropy_backward(logits, labels, 0.0, to_cuda(F::full({}, 1.f)), dl);
  auto h = to_cpu(dl);
  for (std::int64_t k = 0; k < 5; ++k) {
    CHECK(std::isfinite(h[k]));  // row 0 is valid
    CHECK(std::isnan(h[5 + k]));
    CHECK(std::isnan(h[10 + k]));
  }
#endif
}

TEST_CASE("cuda weighted_mean_sum forward and backward match cpu", "[cuda][loss]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  // 4 terms as HigherHRNet's loss, and 40 (more than one finishing launch)
  for (int terms : {4, 40}) {
    INFO(terms << " terms");
    std::vector<G<float>> xs;
    std::vector<F> xf;
    std::vector<double> w;
    for (int i = 0; i < terms; ++i) {
      const Shape s = i % 4 == 0 ? Shape{} : i % 4 == 1 ? Shape{7} : i % 4 == 2 ? Shape{3, 17, 33, 41} : Shape{300001};
      auto [x, f] = test::random_pair<float>(s, 80 + std::uint64_t(i), 0.f, 2.f);
      xs.push_back(x);
      xf.push_back(f);
      w.push_back(i % 3 == 2 ? 0.001 : 1.0 + 0.25 * i);
    }
    std::vector<const G<float>*> xp;
    std::vector<const F*> fp;
    for (int i = 0; i < terms; ++i) {
      xp.push_back(&xs[std::size_t(i)]);
      fp.push_back(&xf[std::size_t(i)]);
    }
    auto y = G<float>::empty({}), y2 = G<float>::empty({});
    gpu::weighted_mean_sum_forward(xp, w, y);
    gpu::weighted_mean_sum_forward(xp, w, y2);
    auto ref = F::empty({});
    cpu::weighted_mean_sum_forward<float>(fp, w, ref);
    // each mean from an fp32 reduction of nonnegative terms (reduce_bound relative), combined in double
    double bound = 0;
    for (int i = 0; i < terms; ++i) bound += w[std::size_t(i)] * 2.0 * reduce_bound(xf[std::size_t(i)].numel(), 1.0);
    CHECK(std::abs(double(scalar_of(y)) - double(ref[0])) <= bound + kU * double(ref[0]));
    CHECK(same_bits(scalar_of(y), scalar_of(y2)));
    // backward, with a null entry
    auto dy = to_cuda(F::full({}, 0.3f));
    std::vector<G<float>> dx;
    std::vector<F> dxf;
    std::vector<G<float>*> dxp;
    std::vector<F*> dfp;
    std::vector<G<float>> owners;
    for (int i = 0; i < terms; ++i) {
      auto [d, f] = test::random_pair<float>(xf[std::size_t(i)].shape(), 90 + std::uint64_t(i));
      if (i == 3) {  // a gradient off a 16-byte boundary: the scalar path
        auto [owner, mis] = misaligned_copy(f);
        owners.push_back(owner);
        d = mis;
      }
      dx.push_back(d);
      dxf.push_back(f);
    }
    for (int i = 0; i < terms; ++i) {
      dxp.push_back(i == 1 ? nullptr : &dx[std::size_t(i)]);
      dfp.push_back(i == 1 ? nullptr : &dxf[std::size_t(i)]);
    }
    gpu::weighted_mean_sum_backward(dy, w, dxp);
    cpu::weighted_mean_sum_backward<float>(to_cpu(dy), w, dfp);
    for (int i = 0; i < terms; ++i)  // the same fp32 constant added: bit-identical
      test::require_gpu_close(dx[std::size_t(i)], dxf[std::size_t(i)], 0.0, 0.0, "dx " + std::to_string(i));
  }
#endif
}

TEST_CASE("cuda ae_loss forward and backward match cpu", "[cuda][loss][ae_loss]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  const std::int64_t K = 17, H = 13, W = 11, M = 30, J = 17;
  Rng rng(100);
  const I64 jh = make_joints(rng, K, H, W, M, J);
  const auto joints = to_cuda(jh);
  for (AeLossType type : {AeLossType::Exp, AeLossType::Max}) {
    INFO((type == AeLossType::Exp ? "exp" : "max"));
    auto [tags, tf] = test::random_pair<float>({4, K, H, W}, 101, -1.5f, 1.5f);
    auto push = G<float>::empty({4}), pull = G<float>::empty({4});
    gpu::ae_loss_forward(tags, joints, type, push, pull);
    F push_ref = F::empty({4}), pull_ref = F::empty({4});
    cpu::ae_loss_forward<float>(tf, jh, type, push_ref, pull_ref);
    // double on both sides, only the push sum's order differs: at most one fp32 rounding apart
    test::require_gpu_close(push, push_ref, 2 * kU, 1e-12, "push");
    test::require_gpu_close(pull, pull_ref, 2 * kU, 1e-12, "pull");
    auto push2 = G<float>::empty({4}), pull2 = G<float>::empty({4});
    gpu::ae_loss_forward(tags, joints, type, push2, pull2);
    CHECK(to_cpu(push2).to_vector() == to_cpu(push).to_vector());
    CHECK(to_cpu(pull2).to_vector() == to_cpu(pull).to_vector());
    auto [dpush, dpf] = test::random_pair<float>({4}, 102);
    auto [dpull, dlf] = test::random_pair<float>({4}, 103);
    for (int which = 0; which < 3; ++which) {  // both, push only, pull only
      INFO("gradients of " << (which == 0 ? "both" : which == 1 ? "push" : "pull"));
      const G<float>* gp = which == 2 ? nullptr : &dpush;
      const G<float>* gl = which == 1 ? nullptr : &dpull;
      auto [dtags, dref] = test::random_pair<float>({4, K, H, W}, 104);
      gpu::ae_loss_backward(tags, joints, type, gp, gl, dtags);
      cpu::ae_loss_backward<float>(tf, jh, type, which == 2 ? nullptr : &dpf, which == 1 ? nullptr : &dlf, dref);
      // double gradients (differing by contraction only) rounded to fp32 and added: 2 roundings
      test::require_gpu_close(dtags, dref, 2 * kU, 1e-12, "dtags");
    }
  }
#endif
}

TEST_CASE("cuda ae_loss index outside the tags gives NaN for that image only", "[cuda][loss][ae_loss]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  const std::int64_t K = 3, H = 4, W = 5, M = 2, J = 3;
  auto jh = I64::zeros({2, M, J, 2});
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t m = 0; m < M; ++m) {
      jh.at(n, m, 0, 0) = m * 7;
      jh.at(n, m, 0, 1) = 1;
      jh.at(n, m, 1, 0) = H * W + m;
      jh.at(n, m, 1, 1) = 1;
    }
  jh.at(1, 1, 2, 0) = K * H * W;  // out of range, visible
  jh.at(1, 1, 2, 1) = 1;
  auto tags = to_cuda(test::random_tensor<float>({2, K, H, W}, 110));
  auto push = G<float>::empty({2}), pull = G<float>::empty({2});
  gpu::ae_loss_forward(tags, to_cuda(jh), AeLossType::Exp, push, pull);
  const F ph = to_cpu(push), lh = to_cpu(pull);
  CHECK(std::isfinite(ph[0]));
  CHECK(std::isfinite(lh[0]));
  CHECK(std::isnan(ph[1]));
  CHECK(std::isnan(lh[1]));
  auto dtags = G<float>::zeros({2, K, H, W});
  auto ones = to_cuda(F::full({2}, 1.f));
  gpu::ae_loss_backward(tags, to_cuda(jh), AeLossType::Exp, &ones, &ones, dtags);
  const F dh = to_cpu(dtags);
  const std::int64_t per_image = K * H * W;
  bool image0_has_grad = false, image1_zero = true;
  for (std::int64_t i = 0; i < per_image; ++i) {
    image0_has_grad = image0_has_grad || dh[i] != 0.f;
    image1_zero = image1_zero && dh[per_image + i] == 0.f;
  }
  CHECK(image0_has_grad);
  CHECK(image1_zero);
#endif
}

#if defined(HRNET_WITH_CUDA)
namespace {
// Parameter sizes: many odd tensors (more than one launch's 36), one larger than a launch's 320
// chunks of 65536, and one reached through a misaligned pointer (the scalar path).
std::vector<std::int64_t> param_sizes() {
  std::vector<std::int64_t> s;
  for (int i = 0; i < 45; ++i) s.push_back(1 + (i * 7919) % 5003 + (i % 5 == 0 ? 65536 : 0));
  s.push_back(320 * 65536 + 4097);
  s.push_back(1031);  // the misaligned one
  return s;
}

struct OptimState {
  std::vector<std::vector<float>> p, s1, s2;
};

// Runs `steps` steps on the GPU (all tensors in one call per step) and on the host, tensor by
// tensor, with `host_step`; the GPU must equal host_math bit for bit, and cpu_ref within tol.
template <class GpuStep, class HostStep, class CpuStep>
void run_multi(int states, int steps, GpuStep gpu_step, HostStep host_math, CpuStep cpu_step, double rtol,
               double atol) {
  const auto sizes = param_sizes();
  const std::size_t T = sizes.size();
  Rng rng(200);
  OptimState host, ref;
  std::vector<G<float>> dev_p, dev_s1, dev_s2, dev_g, owners;
  std::vector<gpu::ParamSlot> slots(T);
  for (std::size_t t = 0; t < T; ++t) {
    const auto n = static_cast<std::size_t>(sizes[t]);
    host.p.push_back(random_vec(n, rng, -1, 1));
    host.s1.push_back(std::vector<float>(n, 0.f));
    host.s2.push_back(std::vector<float>(n, 0.f));
    const Shape sh{sizes[t]};
    if (t == T - 1) {  // misaligned parameter
      auto [own, view] = misaligned_copy(F::from_vector(sh, host.p[t]));
      owners.push_back(own);
      dev_p.push_back(view);
    } else {
      dev_p.push_back(to_cuda(F::from_vector(sh, host.p[t])));
    }
    dev_s1.push_back(G<float>::zeros(sh));
    dev_s2.push_back(G<float>::zeros(sh));
    dev_g.push_back(G<float>::empty(sh));
    slots[t].param = dev_p[t].data();
    slots[t].grad = dev_g[t].data();
    slots[t].state1 = states >= 1 ? dev_s1[t].data() : nullptr;
    slots[t].state2 = states >= 2 ? dev_s2[t].data() : nullptr;
    slots[t].numel = sizes[t];
  }
  ref = host;
  for (int step = 1; step <= steps; ++step) {
    std::vector<std::vector<float>> g(T);
    for (std::size_t t = 0; t < T; ++t) {
      g[t] = random_vec(host.p[t].size(), rng, -1, 1);
      cuda::copy_host_to_device(dev_g[t].data(), g[t].data(), g[t].size() * sizeof(float));
    }
    gpu_step(slots, step);
    for (std::size_t t = 0; t < T; ++t) {
      host_math(host.p[t], g[t], host.s1[t], host.s2[t], step);
      cpu_step(ref.p[t], g[t], ref.s1[t], ref.s2[t], step);
    }
  }
  for (std::size_t t = 0; t < T; ++t) {
    INFO("parameter " << t << " of " << sizes[t] << " elements");
    const F p = to_cpu(dev_p[t]);
    const bool exact = std::memcmp(p.data(), host.p[t].data(), host.p[t].size() * sizeof(float)) == 0;
    CHECK(exact);  // the same IEEE operations as optim_math on the host
    if (states >= 1) {
      const F s1 = to_cpu(dev_s1[t]);
      CHECK(std::memcmp(s1.data(), host.s1[t].data(), host.s1[t].size() * sizeof(float)) == 0);
    }
    if (states >= 2) {
      const F s2 = to_cpu(dev_s2[t]);
      CHECK(std::memcmp(s2.data(), host.s2[t].data(), host.s2[t].size() * sizeof(float)) == 0);
    }
    require_close(p, vec_tensor(ref.p[t]), rtol, atol, "p vs cpu");
  }
}
}  // namespace
#endif

TEST_CASE("cuda sgd_step_multi matches cpu sgd_step_multi tensor by tensor", "[cuda][optim]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  for (const SgdCfg& cfg : kSgd) {
    INFO(cfg.name);
    const int states = cfg.momentum != 0 ? 1 : 0;
    run_multi(
        states, 4,
        [&](const std::vector<gpu::ParamSlot>& slots, int step) {
          gpu::sgd_step_multi(slots, cfg.lr, cfg.momentum, cfg.dampening, cfg.wd, cfg.nesterov, step == 1);
        },
        [&](std::vector<float>& p, const std::vector<float>& g, std::vector<float>& b, std::vector<float>&, int step) {
          const auto c =
              optim_math::sgd_params<float>(cfg.lr, cfg.momentum, cfg.dampening, cfg.wd, cfg.nesterov, step == 1);
          float dummy = 0.f;
          for (std::size_t i = 0; i < p.size(); ++i) optim_math::sgd_update(c, p[i], g[i], states ? b[i] : dummy);
        },
        [&](std::vector<float>& p, const std::vector<float>& g, std::vector<float>& b, std::vector<float>&, int step) {
          cpu::sgd_step_multi<float>(
              {{p.data(), g.data(), states ? b.data() : nullptr, nullptr, static_cast<std::int64_t>(p.size())}}, cfg.lr, cfg.momentum, cfg.dampening, cfg.wd, cfg.nesterov, step == 1);
        },
        // bit-identical where the CPU's compiler contracts into FMAs, else a few roundings per
        // step (see the optim_math test's 64u over 30 steps)
        64 * kU, 64 * kU);
  }
#endif
}

TEST_CASE("cuda adam_step_multi matches cpu adam_step_multi tensor by tensor", "[cuda][optim]") {
  HRNET_REQUIRE_GPU();
#if defined(HRNET_WITH_CUDA)
  for (const AdamCfg& cfg : kAdam) {
    INFO(cfg.name);
    run_multi(
        2, 4,
        [&](const std::vector<gpu::ParamSlot>& slots, int step) {
          gpu::adam_step_multi(slots, cfg.lr, cfg.b1, cfg.b2, cfg.eps, cfg.wd, cfg.decoupled, step);
        },
        [&](std::vector<float>& p, const std::vector<float>& g, std::vector<float>& m, std::vector<float>& v,
            int step) {
          const auto c = optim_math::adam_params<float>(cfg.lr, cfg.b1, cfg.b2, cfg.eps, cfg.wd, cfg.decoupled, step);
          for (std::size_t i = 0; i < p.size(); ++i) optim_math::adam_update(c, p[i], g[i], m[i], v[i]);
        },
        [&](std::vector<float>& p, const std::vector<float>& g, std::vector<float>& m, std::vector<float>& v,
            int step) {
          cpu::adam_step_multi<float>({{p.data(), g.data(), m.data(), v.data(), static_cast<std::int64_t>(p.size())}},
                                      cfg.lr, cfg.b1, cfg.b2, cfg.eps, cfg.wd, cfg.decoupled, step);
        },
        // as in the optim_math test: one rounding of p plus lr * 32u per step
        4 * kU, 4 * cfg.lr * 32 * kU);
  }
#endif
}

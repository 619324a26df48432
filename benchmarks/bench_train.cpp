// bench_train: times full training steps (forward, backward, optimizer) of a model from an official
// experiment file and reports images/s and peak memory, as JSON with --json. The loss is a stand-in
// with the real one's cost profile: masked MSE on every output for HigherHRNet, cross-entropy for
// classification. Compare with benchmarks/bench_train_torch.py (same model in PyTorch).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "cli.hpp"
#include "hrnet/ops/ops.hpp"
#include "hrnet/optim/optim.hpp"
#include "hrnet/models/cls_hrnet.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"

using namespace hrnet;

namespace {
// Peak resident set size of this process (Linux), in MiB.
double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}
void usage() {
  std::puts("usage: bench_train --cfg FILE [--batch N] [--size S] [--steps K] [--warmup W] [--device cpu|cuda] [--json FILE]\n"
            "Times training steps of the config's model on random data; prints img/s and peak memory.\n"
            "  --size S   input side (default: the config's input size)\n"
            "  --batch N  images per step (default 2)   --steps K (default 5)\n"
            "  --warmup W (default 1 on cpu, 2 on cuda: the optimizer state allocated by the first step changes\n"
            "             the pool's layout for the second)\n"
            "  --device   cpu (default) or cuda (fp32, IEEE math; reports the caching pool's peak over the timed\n"
            "             steps and whether it grew during them, which it must not)");
}struct Result {
  double secs = 0, peak_mib = 0;
  std::uint64_t pool_growth = 0;  // CUDA: bytes the pool reserved during the timed steps
};

template <class D>
Result run(const models::ExperimentConfig& cfg, const Tensor<float, CPU>& xh, const Tensor<std::int64_t, CPU>& lh,
           int steps, int warmup, Rng& rng) {
  using V = Var<float, D>;
  auto up = [](const auto& t) {
    if constexpr (is_cpu<D>) return t;
    else return to_cuda(t);
  };
  const Tensor<float, D> x = up(xh);
  const Tensor<std::int64_t, D> labels = up(lh);
  const bool pose = cfg.family() == models::ConfigFamily::Pose;
  std::unique_ptr<models::PoseHigherResolutionNet<float, D>> pnet;
  std::unique_ptr<models::ClsHighResolutionNet<float, D>> cnet;
  std::unique_ptr<optim::Optimizer<float, D>> opt;
  if (pose) {
    pnet = std::make_unique<models::PoseHigherResolutionNet<float, D>>(models::pose_net_config(cfg));
    pnet->init_official(rng);
    opt = std::make_unique<optim::Adam<float, D>>(pnet->parameters(), optim::AdamOptions{});
  } else {
    cnet = std::make_unique<models::ClsHighResolutionNet<float, D>>(models::cls_net_config(cfg));
    cnet->init_official(rng);
    opt = std::make_unique<optim::SGD<float, D>>(cnet->parameters(), optim::SGDOptions{0.05, 0.9, 0, 1e-4, true});
  }
  std::vector<Tensor<float, D>> targets, masks;  // made once, like a loader's reused buffers
  auto step = [&] {
    opt->zero_grad();
    V loss;
    if (pose) {
      auto outs = (*pnet)(V(x));
      std::vector<V> terms;
      for (std::size_t i = 0; i < outs.size(); ++i) {
        const auto& s = outs[i].shape();
        if (targets.size() <= i) {
          targets.push_back(up(Tensor<float, CPU>::zeros(s)));
          masks.push_back(up(Tensor<float, CPU>::full({s.n(), 1, s.h(), s.w()}, 1.0f)));
        }
        terms.push_back(ops::masked_mse(outs[i], targets[i], masks[i]));
      }
      loss = ops::add(terms);
    } else {
      loss = ops::cross_entropy((*cnet)(V(x)), labels);
    }
    backward(loss);
    opt->step();
  };
  for (int i = 0; i < warmup; ++i) step();
  Result r;
  std::uint64_t reserved0 = 0;
  if constexpr (!is_cpu<D>) {
    cuda::synchronize();
    cuda::reset_peak_memory_stats();  // the peak of the timed steps, without the warm-up's algorithm search
    reserved0 = cuda::memory_stats().reserved;
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  if constexpr (!is_cpu<D>) cuda::synchronize();
  r.secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if constexpr (is_cpu<D>) {
    r.peak_mib = peak_rss_mib();
  } else {
    const auto st = cuda::memory_stats();
    r.peak_mib = double(st.used_peak) / (1 << 20);
    r.pool_growth = st.reserved > reserved0 ? st.reserved - reserved0 : 0;
  }
  return r;
}
}  // namespace

int main(int argc, char** argv) try {
  std::string cfg_path, json, device = "cpu";
  int batch = 2, steps = 5, warmup = -1;  // -1: the device's default (see --help)
  std::int64_t size = 0;
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--cfg") cfg_path = args.value();
    else if (a == "--batch") batch = static_cast<int>(args.integer(1));
    else if (a == "--size") size = args.integer(0);
    else if (a == "--steps") steps = static_cast<int>(args.integer(1));
    else if (a == "--warmup") warmup = static_cast<int>(args.integer(0));
    else if (a == "--device") device = args.value();
    else if (a == "--json") json = args.value();
    else args.unknown();
  }
  if (cfg_path.empty()) throw ValueError("--cfg FILE is required (see --help)");
  if (device != "cpu" && device != "cuda") throw ValueError("--device must be cpu or cuda, got '" + device + "'");
  if (warmup < 0) warmup = device == "cuda" ? 2 : 1;
  auto cfg = models::load_experiment_config(cfg_path);
  if (size == 0) size = models::model_input_size(cfg).first;

  Rng rng(0);
  auto x = Tensor<float, CPU>::empty({batch, 3, size, size});
  fill_normal(x, rng);
  auto labels = Tensor<std::int64_t, CPU>::empty({batch});
  for (int i = 0; i < batch; ++i) labels[i] = static_cast<std::int64_t>(rng.below(1000));

  Result r;
  std::string device_desc = "cpu";
  if (device == "cpu") {
    r = run<CPU>(cfg, x, labels, steps, warmup, rng);
  } else {
#ifdef HRNET_WITH_CUDA
    if (cuda::device_count() == 0) throw CudaError("--device cuda: no CUDA device is visible on this machine");
    device_desc = "cuda (" + cuda::device_name(cuda::current_device()) + ")";
    r = run<CUDA>(cfg, x, labels, steps, warmup, rng);
#else
    throw ValueError("--device cuda: this hrnet was built without CUDA (HRNET_WITH_CUDA=OFF)");
#endif
  }
  const double ips = double(batch) * steps / r.secs;
  const char* mem = device == "cpu" ? "peak RSS" : "peak device memory";
  std::printf("%s  batch %d  input %lldx%lld  device %s: %.2f img/s, %.1f ms/step, %s %.0f MiB\n", cfg_path.c_str(),
              batch, static_cast<long long>(size), static_cast<long long>(size), device_desc.c_str(), ips,
              1e3 * r.secs / steps, mem, r.peak_mib);
  if (device == "cuda")
    std::printf("caching pool growth during the timed steps: %llu bytes\n", static_cast<unsigned long long>(r.pool_growth));
  if (!json.empty()) {
    std::ofstream f(json);
    f << "{\"benchmark\": \"bench_train\", \"framework\": \"hrnet\", \"config\": \"" << cfg_path
      << "\", \"device\": \"" << device_desc << "\", \"batch\": " << batch << ", \"input\": " << size
      << ", \"steps\": " << steps << ", \"img_per_s\": " << ips << ", \"ms_per_step\": " << 1e3 * r.secs / steps
      << (device == "cpu" ? ", \"peak_rss_mib\": " : ", \"peak_device_mib\": ") << r.peak_mib;
    if (device == "cuda") f << ", \"pool_growth_bytes\": " << r.pool_growth;
    f << "}\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_train: error: %s\n", e.what());
  return 1;
}

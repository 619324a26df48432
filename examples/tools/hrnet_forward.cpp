// hrnet_forward: builds a model from an official experiment file, optionally loads weights, and
// runs one eval-mode forward pass on a tensor read from safetensors, or prints the model summary.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.hpp"
#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"
#include "hrnet/train/checkpoint.hpp"
#include "hrnet/models/cls_hrnet.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"

using namespace hrnet;

namespace {
void usage() {
  std::puts(
      "usage: hrnet_forward --cfg FILE [--weights W.safetensors] [--input X.safetensors]\n"
      "                     [--output Y.safetensors] [--device cpu|cuda] [--summary] [--seed N]\n"
      "Builds the HigherHRNet (MODEL.NAME pose_higher_hrnet) or HRNet classification (cls_hrnet)\n"
      "model described by an official experiment file.\n"
      "  --summary    print the parameter count and the multiply-adds at the config's input size, in\n"
      "               the official get_model_summary convention (Conv2d/ConvTranspose2d/Linear)\n"
      "  --weights    load a safetensors state dict with the official PyTorch names, or a train_pose\n"
      "               checkpoint (strict: missing, unexpected and mis-shaped keys are reported by\n"
      "               name); without it the official random initialisation is used (seeded by\n"
      "               --seed, default 0)\n"
      "  --input      run the model in eval mode on the tensor named 'input' (N,3,H,W), float32\n"
      "  --output     write every output as output0, output1, ... (default: print their shapes)\n"
      "  --device     cpu (default) or cuda (the first GPU; needs a CUDA build)");
}

template <class Net>
int run(Net& net, const models::ExperimentConfig& cfg, bool summary, std::int64_t h, std::int64_t w, double macs_div,
        const std::string& weights, const std::string& input, const std::string& output, std::uint64_t seed) {
  if (weights.empty()) {
    Rng rng(seed);
    net.init_official(rng);
  } else {
    train::load_weights(net, weights);  // a weights file or a train_pose checkpoint
    std::printf("loaded %s\n", weights.c_str());
  }
  if (summary) {
    const std::int64_t macs = net.macs(h, w);
    const bool tf = cfg.format() == models::ConfigFormat::TfIni;
    std::printf("model %s (%s)\n", tf ? "cls_hrnet (TF port cfg)" : cfg.get_string("MODEL.NAME").c_str(),
                cfg.path().string().c_str());
    std::printf("input %lldx%lld\n", static_cast<long long>(h), static_cast<long long>(w));
    std::printf("params %lld\n", static_cast<long long>(net.num_parameters()));
    std::printf("GMACs %.2f\n", double(macs) / 1e9);
    if (macs_div != 1e9) std::printf("GMACs (MACs / 2^30, as the classification README) %.2f\n", double(macs) / macs_div);
  }
  if (input.empty()) return 0;
  auto file = io::read_safetensors(input);
  auto xh = io::get<float>(file, "input");
  HRNET_CHECK(xh.rank() == 4 && xh.shape().c() == 3, ShapeError,
              input << ": tensor 'input' must be (N, 3, H, W), got " << xh.shape());
  using D = typename Net::device_type;
  using V = Var<float, D>;
  Tensor<float, D> x;
  if constexpr (is_cpu<D>) x = xh;
  else x = to_cuda(xh);
  net.eval();
  autograd::NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<V> outs;
  if constexpr (requires { net.forward(V(x)).size(); }) outs = net.forward(V(x));
  else outs.push_back(net.forward(V(x)));
  if constexpr (!is_cpu<D>) cuda::synchronize();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  io::SafetensorsFile out;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    std::printf("output%zu %s\n", i, outs[i].shape().str().c_str());
    out.tensors["output" + std::to_string(i)] = io::to_raw(to_cpu(outs[i].value()));
  }
  std::printf("forward %.3f s (%.1f img/s)\n", secs, double(x.shape().n()) / secs);
  if (!output.empty()) {
    out.metadata["config"] = cfg.path().string();
    io::write_safetensors(output, out);
    std::printf("wrote %s\n", output.c_str());
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) try {
  std::string cfg_path, weights, input, output, device = "cpu";
  bool summary = false;
  std::uint64_t seed = 0;
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--cfg") cfg_path = args.value();
    else if (a == "--weights") weights = args.value();
    else if (a == "--input") input = args.value();
    else if (a == "--output") output = args.value();
    else if (a == "--device") device = args.value();
    else if (a == "--seed") seed = static_cast<std::uint64_t>(args.integer(0));
    else if (a == "--summary") summary = args.flag();
    else args.unknown();
  }
  if (cfg_path.empty()) throw ValueError("--cfg FILE is required (see --help)");
  if (device != "cpu" && device != "cuda") throw ValueError("--device must be cpu or cuda, got '" + device + "'");
  if (!summary && input.empty()) summary = true;  // nothing else to do: show what was built
  auto cfg = models::load_experiment_config(cfg_path);
  const auto [h, w] = models::model_input_size(cfg);
  auto build_and_run = [&]<class D>(D) {
    if (cfg.family() == models::ConfigFamily::Pose) {
      models::PoseHigherResolutionNet<float, D> net(models::pose_net_config(cfg));
      return run(net, cfg, summary, h, w, 1e9, weights, input, output, seed);
    }
    models::ClsHighResolutionNet<float, D> net(models::cls_net_config(cfg));
    return run(net, cfg, summary, h, w, 1073741824.0, weights, input, output, seed);
  };
  if (device == "cpu") return build_and_run(CPU{});
#ifdef HRNET_WITH_CUDA
  if (cuda::device_count() == 0) throw CudaError("--device cuda: no CUDA device is visible on this machine");
  std::printf("device %s\n", cuda::device_name(0).c_str());
  return build_and_run(CUDA{});
#else
  throw ValueError("--device cuda: this hrnet was built without CUDA (HRNET_WITH_CUDA=OFF); use --device cpu");
#endif
} catch (const std::exception& e) {
  std::fprintf(stderr, "hrnet_forward: error: %s\n", e.what());
  return 1;
}

// train_demo: trains a small two-branch HRNet (stem, BasicBlocks, a multi-resolution fusion layer,
// global average pool, linear classifier) on a synthetic 4-class texture dataset on the CPU, and
// prints a falling loss with img/s and ETA: a seconds-long check that training works, and a compact
// example of the library's training loop (the pose trainer, train_pose, is the real one):
//   forward (each op records its backward on the tape) -> loss -> backward -> optimizer step.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "cli.hpp"
#include "hrnet/nn/blocks.hpp"
#include "hrnet/nn/fusion.hpp"
#include "hrnet/nn/state_dict.hpp"
#include "hrnet/ops/ops.hpp"
#include "hrnet/optim/optim.hpp"

using namespace hrnet;
using T = float;
using V = Var<T, CPU>;

namespace {

// Two resolutions exchanging information through one fusion layer; official-style names.
class TinyHRNet : public nn::Module<T, CPU> {
 public:
  explicit TinyHRNet(int classes)
      : stem1(3, 16, 2), stem2(16, 16, 1), layer1(16, 16), transition(16, 32, 2),
        branch0(16, 16), branch1(32, 32), fuse({16, 32}, /*multi_scale_output=*/false), classifier(16, classes) {
    register_module("stem.0", stem1);
    register_module("stem.1", stem2);
    register_module("layer1.0", layer1);
    register_module("transition1.1.0", transition);
    register_module("stage2.0.branches.0.0", branch0);
    register_module("stage2.0.branches.1.0", branch1);
    register_module("stage2.0", fuse);
    register_module("classifier", classifier);
  }
  V forward(const V& x) {
    V y = layer1(stem2(stem1(x)));
    std::vector<V> fused = fuse({branch0(y), branch1(transition(y))});
    return classifier(ops::global_avg_pool(fused[0]));
  }
  V operator()(const V& x) { return forward(x); }

  nn::ConvBN<T, CPU, 3> stem1, stem2;
  nn::BasicBlock<T, CPU> layer1;
  nn::ConvBN<T, CPU, 3> transition;
  nn::BasicBlock<T, CPU> branch0, branch1;
  nn::FuseLayers<T, CPU> fuse;
  nn::Linear<T, CPU> classifier;
};

// Class 0: horizontal stripes, 1: vertical stripes, 2: checkerboard, 3: a bright disc; random
// phase, period, colour and noise, so the classes must be recognised by structure.
void make_batch(Rng& rng, int n, int size, Tensor<T, CPU>& images, Tensor<std::int64_t, CPU>& labels) {
  images = Tensor<T, CPU>::empty({n, 3, size, size});
  labels = Tensor<std::int64_t, CPU>::empty({n});
  for (int i = 0; i < n; ++i) {
    const int cls = static_cast<int>(rng.below(4));
    labels[i] = cls;
    const double period = rng.uniform(3.0, 7.0), phase = rng.uniform(0.0, 6.3);
    const double cx = rng.uniform(8, size - 8), cy = rng.uniform(8, size - 8), r = rng.uniform(4, 9);
    double colour[3];
    for (double& c : colour) c = rng.uniform(0.3, 1.0);
    for (int h = 0; h < size; ++h)
      for (int w = 0; w < size; ++w) {
        double v = 0;
        switch (cls) {
          case 0: v = std::sin(2 * 3.14159265 * h / period + phase); break;
          case 1: v = std::sin(2 * 3.14159265 * w / period + phase); break;
          case 2: v = std::sin(2 * 3.14159265 * h / period + phase) * std::sin(2 * 3.14159265 * w / period); break;
          case 3: v = (h - cy) * (h - cy) + (w - cx) * (w - cx) < r * r ? 1.0 : -0.3; break;
        }
        for (int c = 0; c < 3; ++c) images.at(i, c, h, w) = static_cast<T>(v * colour[c] + 0.3 * rng.normal());
      }
  }
}

double accuracy(TinyHRNet& net, Rng& rng, int batches, int batch, int size) {
  autograd::NoGradGuard no_grad;
  net.eval();
  int correct = 0, total = 0;
  for (int b = 0; b < batches; ++b) {
    Tensor<T, CPU> x;
    Tensor<std::int64_t, CPU> y;
    make_batch(rng, batch, size, x, y);
    V logits = net(V(x));
    for (int i = 0; i < batch; ++i) {
      int best = 0;
      for (int k = 1; k < 4; ++k)
        if (logits.value()[i * 4 + k] > logits.value()[i * 4 + best]) best = k;
      correct += best == y[i];
      ++total;
    }
  }
  net.train();
  return double(correct) / total;
}

void usage() {
  std::puts(
      "usage: train_demo [--steps N] [--batch B] [--size S] [--lr LR] [--seed S] [--output DIR]\n"
      "Trains a small two-branch HRNet on synthetic textures (CPU) and prints the loss.\n"
      "  --steps N     training iterations (default 150)\n"
      "  --batch B     images per step (default 16, at least 2)\n"
      "  --size S      image side in pixels, a multiple of 8, at least 16 (default 32)\n"
      "  --lr LR       peak SGD learning rate (default 0.05; linear warmup then cosine decay)\n"
      "  --seed S      seed of weights and data (default 0): runs are bit-for-bit repeatable\n"
      "  --output DIR  where to write the final weights as safetensors (default: demo_output)\n"
      "--out is accepted for --output.");
}

}  // namespace

int main(int argc, char** argv) try {
  int steps = 150, batch = 16, size = 32;
  double lr = 0.05;
  std::uint64_t seed = 0;
  std::string out = "demo_output";
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--steps") steps = static_cast<int>(args.integer(1));
    else if (a == "--batch") batch = static_cast<int>(args.integer(2));
    else if (a == "--size") size = static_cast<int>(args.integer(16));
    else if (a == "--lr") lr = args.number();
    else if (a == "--seed") seed = static_cast<std::uint64_t>(args.integer(0));
    else if (a == "--output") out = args.value();
    else args.unknown();
  }
  if (size % 8) throw ValueError("--size must be a multiple of 8, got " + std::to_string(size));
  if (!(lr > 0)) throw ValueError("--lr must be positive");

  nn::manual_seed(seed);
  TinyHRNet net(4);
  Rng data_rng(seed + 1), eval_rng(seed + 2);
  optim::SGD<T, CPU> opt(net.parameters(), {lr, 0.9, 0.0, 1e-4, true});
  const optim::LinearWarmup warmup{0.1, 1.0, std::min(10, steps / 5)};
  const optim::CosineLR cosine{lr, steps, lr * 0.01};
  std::printf("train_demo: TinyHRNet, %lld parameters, %d steps of %d images %dx%d, SGD nesterov lr %.3g\n",
              static_cast<long long>(net.num_parameters()), steps, batch, size, size, lr);
  std::printf("accuracy before training: %.1f%%\n", 100 * accuracy(net, eval_rng, 4, 32, size));

  const auto t0 = std::chrono::steady_clock::now();
  double smoothed = 0;
  for (int step = 0; step < steps; ++step) {
    opt.set_lr(cosine.at(step) * warmup.factor(step));
    Tensor<T, CPU> x;
    Tensor<std::int64_t, CPU> y;
    make_batch(data_rng, batch, size, x, y);
    opt.zero_grad();
    V loss = ops::cross_entropy(net(V(x)), y);
    backward(loss);
    opt.step();
    const double l = loss.value()[0];
    smoothed = step == 0 ? l : 0.9 * smoothed + 0.1 * l;
    if (step % 10 == 0 || step == steps - 1) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double ips = (step + 1) * batch / secs;
      std::printf("step %4d/%d  loss %.4f (avg %.4f)  lr %.4f  %.1f img/s  ETA %.0fs\n", step + 1, steps, l, smoothed,
                  opt.lr(), ips, (steps - step - 1) * batch / ips);
      std::fflush(stdout);
    }
  }
  const double acc = accuracy(net, eval_rng, 8, 32, size);
  std::printf("accuracy after training: %.1f%% (chance 25%%)\n", 100 * acc);
  std::filesystem::create_directories(out);
  const auto path = std::filesystem::path(out) / "tiny_hrnet.safetensors";
  nn::save_safetensors(net, path, {{"model", "TinyHRNet"}, {"steps", std::to_string(steps)}});
  std::printf("weights written to %s\n", path.string().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_demo: error: %s\n", e.what());
  return 1;
}

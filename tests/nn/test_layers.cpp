// Layers and blocks against PyTorch modules built exactly like the official HRNet code: the
// state_dict names must match one to one (strict load), and forward outputs, input gradients,
// parameter gradients and updated BN buffers must agree.
#include <filesystem>

#include "hrnet/nn/blocks.hpp"
#include "hrnet/nn/fusion.hpp"
#include "hrnet/nn/state_dict.hpp"
#include "test_util.hpp"

using namespace hrnet;
using hrnet::test::fixture;
using hrnet::test::get;
using hrnet::test::require_close;
using V = Var<float, CPU>;
using Module = nn::Module<float, CPU>;

namespace {
constexpr double kRtol = 1e-4, kAtol = 1e-4;

io::SafetensorsFile with_prefix(const io::SafetensorsFile& f, const std::string& prefix) {
  io::SafetensorsFile out;
  for (const auto& [k, v] : f.tensors)
    if (k.rfind(prefix, 0) == 0) out.tensors[k.substr(prefix.size())] = v;
  return out;
}

// Loads the fixture's parameters strictly, then checks gradients and BN buffers after a step.
void check_params_after(Module& m, const io::SafetensorsFile& f) {
  for (const auto& p : m.named_parameters()) {
    INFO("parameter " << p.name);
    REQUIRE(p.var->has_grad());
    require_close(p.var->grad(), get(f, "grad." + p.name), kRtol, kAtol, "grad." + p.name);
  }
  for (const auto& b : m.named_buffers()) {
    INFO("buffer " << b.name);
    if (b.tensor) require_close(*b.tensor, get(f, "after." + b.name), kRtol, 1e-5, "after." + b.name);
    else CHECK(*b.counter == get<std::int64_t>(f, "after." + b.name)[0]);
  }
}

template <class Block>
void check_block(Block& block, const char* name) {
  auto f = fixture(name);
  nn::load_state_dict(block, with_prefix(f, "param."));
  V x(get(f, "x"), true);
  V y = block(x);
  require_close(y.value(), get(f, "y"), kRtol, kAtol, "y");
  backward(y, get(f, "gy"));
  require_close(x.grad(), get(f, "gx"), kRtol, kAtol, "gx");
  check_params_after(block, f);
}
}  // namespace

TEST_CASE("BasicBlock matches the official block", "[nn][fixture]") {
  nn::BasicBlock<float, CPU> block(6, 6);
  check_block(block, "basic_block");
}

TEST_CASE("BasicBlock with stride 2 and downsample matches", "[nn][fixture]") {
  nn::BasicBlock<float, CPU> block(4, 8, 2, true);
  check_block(block, "basic_block_down");
}

TEST_CASE("Bottleneck with downsample matches", "[nn][fixture]") {
  nn::Bottleneck<float, CPU> block(10, 4, 1, true);
  check_block(block, "bottleneck_down");
}

TEST_CASE("FuseLayers (multi-resolution fusion) matches _make_fuse_layers", "[nn][fixture][fusion]") {
  for (bool multi : {true, false}) {
    SECTION(multi ? "3 branches, multi-scale output" : "4 branches, single output") {
      auto f = fixture(multi ? "fuse_layers" : "fuse_layers_single");
      const std::vector<std::int64_t> ch = multi ? std::vector<std::int64_t>{4, 6, 8} : std::vector<std::int64_t>{3, 5, 7, 9};
      nn::FuseLayers<float, CPU> fuse(ch, multi);
      nn::load_state_dict(fuse, with_prefix(f, "param."));  // strict: every name must match
      std::vector<V> xs;
      for (std::size_t j = 0; j < ch.size(); ++j) xs.emplace_back(get(f, "x" + std::to_string(j)), true);
      std::vector<V> ys = fuse(xs);
      REQUIRE(ys.size() == (multi ? 3u : 1u));
      std::vector<Tensor<float, CPU>> seeds;
      for (std::size_t i = 0; i < ys.size(); ++i) {
        require_close(ys[i].value(), get(f, "y" + std::to_string(i)), kRtol, kAtol, "y" + std::to_string(i));
        seeds.push_back(get(f, "gy" + std::to_string(i)));
      }
      backward(ys, seeds);
      for (std::size_t j = 0; j < ch.size(); ++j)
        require_close(xs[j].grad(), get(f, "gx" + std::to_string(j)), kRtol, kAtol, "gx" + std::to_string(j));
      check_params_after(fuse, f);
    }
  }
}

TEST_CASE("FuseLayers names follow the official state_dict", "[nn][names]") {
  nn::FuseLayers<float, CPU> fuse({32, 64, 128}, true);
  std::set<std::string> names;
  for (auto& p : fuse.named_parameters()) names.insert(p.name);
  for (auto& b : fuse.named_buffers()) names.insert(b.name);
  CHECK(names.count("fuse_layers.0.1.0.weight"));          // upsample conv 64 -> 32
  CHECK(names.count("fuse_layers.0.2.1.running_var"));     // its BN
  CHECK(names.count("fuse_layers.2.0.0.0.weight"));        // first step of a 2-step downsample chain
  CHECK(names.count("fuse_layers.2.0.1.1.num_batches_tracked"));
  CHECK_FALSE(names.count("fuse_layers.1.1.0.weight"));    // identity: no parameters
  auto& w = *fuse.named_parameters()[0].var;
  CHECK(w.shape() == Shape({32, 64, 1, 1}));
}

TEST_CASE("state dict round trip through safetensors", "[nn][safetensors]") {
  nn::manual_seed(5);
  nn::BasicBlock<float, CPU> a(4, 8, 2, true);
  a.bn1.running_mean[1] = 0.5f;
  a.bn2.num_batches_tracked = 17;
  const auto path = std::filesystem::temp_directory_path() / "hrnet_test_block.safetensors";
  nn::save_safetensors(a, path);
  nn::manual_seed(6);
  nn::BasicBlock<float, CPU> b(4, 8, 2, true);
  auto report = nn::load_safetensors(b, path);
  CHECK(report.ok());
  for (std::size_t i = 0; i < a.named_parameters().size(); ++i)
    require_close(b.named_parameters()[i].var->value(), a.named_parameters()[i].var->value(), 0, 0, "param");
  CHECK(b.bn1.running_mean[1] == 0.5f);
  CHECK(b.bn2.num_batches_tracked == 17);
  auto raw = io::read_safetensors(path);
  CHECK(raw.tensors.at("bn2.num_batches_tracked").shape.empty());  // 0-d int64, as PyTorch writes it
  CHECK(raw.tensors.at("bn2.num_batches_tracked").dtype == DType::I64);
  CHECK(raw.tensors.at("conv1.weight").shape == std::vector<std::int64_t>{8, 4, 3, 3});  // OIHW on disk
  std::filesystem::remove(path);
}

TEST_CASE("loading reports missing, unexpected and mis-shaped keys by name", "[nn][safetensors][errors]") {
  nn::BasicBlock<float, CPU> a(6, 6);
  auto sd = nn::state_dict(a);
  sd.tensors.erase("bn1.running_var");
  sd.tensors["extra.weight"] = sd.tensors.at("bn1.weight");
  sd.tensors["conv2.weight"].shape = {6, 6, 1, 9};
  const float before = a.conv1.weight.value()[0];
  try {
    nn::load_state_dict(a, sd, true, "ckpt.safetensors");
    FAIL("expected StateDictError");
  } catch (const StateDictError& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Matchers::Contains("ckpt.safetensors"));
    CHECK_THAT(msg, Catch::Matchers::Contains("missing keys (1):\n  bn1.running_var"));
    CHECK_THAT(msg, Catch::Matchers::Contains("unexpected keys (1):\n  extra.weight"));
    CHECK_THAT(msg, Catch::Matchers::Contains("conv2.weight: file [6, 6, 1, 9] vs model [6, 6, 3, 3]"));
  }
  CHECK(a.conv1.weight.value()[0] == before);  // strict failure changes nothing
  auto report = nn::load_state_dict(a, sd, false);
  CHECK(report.missing.size() == 1);
  CHECK(report.unexpected.size() == 1);
  CHECK(report.mismatched.size() == 1);
}

TEST_CASE("train and eval propagate to children and eval BN uses running statistics", "[nn]") {
  nn::BasicBlock<float, CPU> block(3, 3);
  block.eval();
  CHECK_FALSE(block.bn2.is_training());
  V x(Tensor<float, CPU>::full({1, 3, 4, 4}, 1.0f));
  autograd::NoGradGuard ng;
  block(x);
  CHECK(block.bn1.num_batches_tracked == 0);  // eval mode does not count batches
  block.train();
  block(x);
  CHECK(block.bn1.num_batches_tracked == 1);
}

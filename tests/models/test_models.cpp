// The model zoo: exact parameter counts and multiply-adds for every shipped config, forward and
// backward parity with the PyTorch reference (tests/models/reference_models.py) through the
// deterministic initialisation, weight round trips, and config/checkpoint errors that name keys.
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "det_init.hpp"
#include "hrnet/models/cls_hrnet.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"
#include "test_util.hpp"

using namespace hrnet;
using hrnet::test::fixture;
using hrnet::test::get;
using hrnet::test::require_close;
using V = Var<float, CPU>;
namespace fs = std::filesystem;

namespace {
const fs::path kRoot = fs::path(HRNET_FIXTURE_DIR).parent_path().parent_path().parent_path();

// The one shipped config that sets MODEL.SYNC_BN: true, which hrnet rejects until data-parallel
// training exists; everything else in it is an ordinary HigherHRNet-W32 (CrowdPose) config.
const std::string kSyncBnConfig = "configs/crowd_pose/w32_512_adam_lr1e-3_syncbn.yaml";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The syncbn config with SYNC_BN set to false: the network it describes, for the parameter counts.
models::ExperimentConfig load_sync_bn_config_as_false() {
  std::string text = read_text(kRoot / kSyncBnConfig);
  const std::string from = "SYNC_BN: True";
  const auto p = text.find(from);
  REQUIRE(p != std::string::npos);
  text.replace(p, from.size(), "SYNC_BN: false");
  const fs::path dir = fs::temp_directory_path() / "hrnet_syncbn_test";
  fs::create_directories(dir);
  const fs::path copy = dir / fs::path(kSyncBnConfig).filename();
  std::ofstream(copy, std::ios::binary) << text;
  return models::load_experiment_config(copy);
}

// Parity criterion: largest absolute difference <= 1e-4 of the reference's largest magnitude.
void require_match(const Tensor<float, CPU>& got, const Tensor<float, CPU>& ref, const std::string& what,
                   double rel = 1e-4) {
  REQUIRE(got.shape() == ref.shape());
  double max_ref = 0, max_diff = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    max_ref = std::max(max_ref, double(std::abs(ref[i])));
    max_diff = std::max(max_diff, double(std::abs(got[i] - ref[i])));
  }
  INFO(what << ": max |diff| " << max_diff << ", max |ref| " << max_ref << ", ratio " << max_diff / max_ref);
  CHECK(max_diff <= rel * max_ref);
}
}  // namespace

TEST_CASE("every shipped config builds with the official parameter count and MACs", "[models][params]") {
  std::ifstream in(kRoot / "tests/models/param_counts.json");
  REQUIRE(in.good());
  const auto table = nlohmann::json::parse(in);
  REQUIRE(table.size() >= 17);
  for (const auto& row : table) {
    const std::string file = row["file"];
    INFO(file);
    auto cfg = file == kSyncBnConfig ? load_sync_bn_config_as_false() : models::load_experiment_config(kRoot / file);
    const std::int64_t h = row["input_size"][0], w = row["input_size"][1];
    if (cfg.family() == models::ConfigFamily::Pose) {
      models::PoseHigherResolutionNet<float, CPU> net(models::pose_net_config(cfg));
      CHECK(net.num_parameters() == row["params"].get<std::int64_t>());
      CHECK(net.macs(h, w) == row["macs"].get<std::int64_t>());
    } else {
      models::ClsHighResolutionNet<float, CPU> net(models::cls_net_config(cfg));
      CHECK(net.num_parameters() == row["params"].get<std::int64_t>());
      CHECK(net.macs(h, w) == row["macs"].get<std::int64_t>());
    }
  }
}

TEST_CASE("the published parameter counts hold", "[models][params]") {
  auto pose = [](const char* f) {
    models::PoseHigherResolutionNet<float, CPU> n(models::pose_net_config(models::load_experiment_config(kRoot / f)));
    return n.num_parameters();
  };
  auto cls = [](const char* f) {
    models::ClsHighResolutionNet<float, CPU> n(models::cls_net_config(models::load_experiment_config(kRoot / f)));
    return n.num_parameters();
  };
  CHECK(pose("configs/coco/w32_512_adam_lr1e-3.yaml") == 28645331);
  CHECK(pose("configs/coco/w48_640_adam_lr1e-3.yaml") == 63827139);
  CHECK(cls("configs/imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml") == 21299004);
  CHECK(cls("configs/imagenet/cls_hrnet_w32_sgd_lr5e-2_wd1e-4_bs32_x100.yaml") == 41232680);
  CHECK(cls("configs/imagenet/cls_hrnet_w48_sgd_lr5e-2_wd1e-4_bs32_x100.yaml") == 77469864);
}

TEST_CASE("det_init reproduces the PyTorch reference's weights", "[models][fixture]") {
  auto f = fixture("model_higherhrnet_w32");
  models::PoseHigherResolutionNet<float, CPU> net(
      models::pose_net_config(models::load_experiment_config(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml")));
  hrnet::test::det_init(net);
  auto sd = nn::state_dict(net);
  for (const char* name : {"conv1.weight", "bn1.running_var", "final_layers.1.bias"}) {
    INFO(name);
    require_close(io::from_raw<float>(sd.tensors.at(name), name), get(f, std::string("param.") + name), 0, 0, name);
  }
}

TEST_CASE("HigherHRNet-W32 forward and backward match PyTorch", "[models][fixture][pose]") {
  auto f = fixture("model_higherhrnet_w32");
  const auto cfg = models::pose_net_config(models::load_experiment_config(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml"));
  SECTION("eval forward") {
    models::PoseHigherResolutionNet<float, CPU> net(cfg);
    hrnet::test::det_init(net);
    net.eval();
    autograd::NoGradGuard ng;
    auto outs = net(V(get(f, "input")));
    REQUIRE(outs.size() == 2);
    require_match(outs[0].value(), get(f, "output0"), "output0");
    require_match(outs[1].value(), get(f, "output1"), "output1");
  }
  SECTION("train forward + backward (double)") {
    // Train-mode gradients here are ill-conditioned (batch statistics over few pixels): float32
    // runs differ from exact values by ~1%, so this pass runs in double against PyTorch's float64.
    models::PoseHigherResolutionNet<double, CPU> net(cfg);
    hrnet::test::det_init(net);
    Var<double, CPU> x(get<double>(f, "train_input"), true);
    auto outs = net(x);
    require_match(cast<float>(outs[0].value()), get(f, "train_output0"), "train_output0", 1e-5);
    require_match(cast<float>(outs[1].value()), get(f, "train_output1"), "train_output1", 1e-5);
    backward(outs, {get<double>(f, "train_seed0"), get<double>(f, "train_seed1")});
    require_match(cast<float>(x.grad()), get(f, "train_grad_input"), "grad input", 1e-5);
    int checked = 0;
    for (auto& p : net.named_parameters()) {
      const std::string key = "grad." + p.name;
      if (!f.tensors.count(key)) continue;
      require_match(cast<float>(p.var->grad()), get(f, key), key, 1e-5);
      ++checked;
    }
    CHECK(checked == 5);
    auto sd = nn::state_dict(net);
    require_close(io::from_raw<float>(sd.tensors.at("bn1.running_mean"), "bn1.running_mean"),
                  get(f, "after.bn1.running_mean"), 1e-5, 1e-7, "after.bn1.running_mean");
  }
}

TEST_CASE("HRNet-W18-C forward and backward match PyTorch", "[models][fixture][cls]") {
  auto f = fixture("model_hrnet_w18c");
  const auto cfg =
      models::cls_net_config(models::load_experiment_config(kRoot / "configs/imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml"));
  SECTION("eval forward") {
    models::ClsHighResolutionNet<float, CPU> net(cfg);
    hrnet::test::det_init(net);
    net.eval();
    autograd::NoGradGuard ng;
    require_match(net(V(get(f, "input"))).value(), get(f, "output0"), "output0");
  }
  SECTION("train forward + backward (double)") {
    models::ClsHighResolutionNet<double, CPU> net(cfg);
    hrnet::test::det_init(net);
    Var<double, CPU> x(get<double>(f, "train_input"), true);
    Var<double, CPU> y = net(x);
    require_match(cast<float>(y.value()), get(f, "train_output0"), "train_output0", 1e-5);
    backward(y, get<double>(f, "train_seed0"));
    require_match(cast<float>(x.grad()), get(f, "train_grad_input"), "grad input", 1e-5);
    int checked = 0;
    for (auto& p : net.named_parameters()) {
      if (f.tensors.count("grad." + p.name)) {
        require_match(cast<float>(p.var->grad()), get(f, "grad." + p.name), p.name, 1e-5);
        ++checked;
      }
      if (f.tensors.count("grad_rows." + p.name)) {  // the first rows of a large gradient
        auto ref = get(f, "grad_rows." + p.name);
        require_match(cast<float>(p.var->grad().slice0(0, ref.shape()[0])), ref, "grad_rows." + p.name, 1e-5);
        ++checked;
      }
    }
    CHECK(checked == 5);
  }
}

TEST_CASE("model weights round trip through safetensors", "[models][safetensors]") {
  const auto cfg =
      models::cls_net_config(models::load_experiment_config(kRoot / "configs/imagenet/cls_hrnet_w18_small_v1_sgd_lr5e-2_wd1e-4_bs32_x100.yaml"));
  models::ClsHighResolutionNet<float, CPU> a(cfg), b(cfg);
  Rng rng(3);
  a.init_official(rng);
  const auto path = fs::temp_directory_path() / "hrnet_small_v1.safetensors";
  nn::save_safetensors(a, path);
  CHECK(nn::load_safetensors(b, path).ok());
  a.eval();
  b.eval();
  autograd::NoGradGuard ng;
  auto x = Tensor<float, CPU>::empty({1, 3, 64, 64});
  fill_normal(x, rng);
  require_close(b(V(x)).value(), a(V(x)).value(), 0, 0, "outputs after reload");
  fs::remove(path);
}

TEST_CASE("a checkpoint for another model is reported key by key", "[models][errors]") {
  const auto cfg =
      models::cls_net_config(models::load_experiment_config(kRoot / "configs/imagenet/cls_hrnet_w18_small_v1_sgd_lr5e-2_wd1e-4_bs32_x100.yaml"));
  models::ClsHighResolutionNet<float, CPU> net(cfg);
  auto sd = nn::state_dict(net);
  sd.tensors.erase("classifier.bias");
  sd.tensors["final_layers.0.weight"] = sd.tensors.at("conv1.weight");
  sd.tensors["conv1.weight"].shape = {64, 3, 7, 7};
  hrnet::test::check_throws<StateDictError>([&] { nn::load_state_dict(net, sd); }, "classifier.bias");
  hrnet::test::check_throws<StateDictError>([&] { nn::load_state_dict(net, sd); }, "final_layers.0.weight");
  hrnet::test::check_throws<StateDictError>([&] { nn::load_state_dict(net, sd); },
                                            "conv1.weight: file [64, 3, 7, 7] vs model [64, 3, 3, 3]");
}

TEST_CASE("config files: unknown keys, bad values and broken files are rejected by name", "[models][config][errors]") {
  const fs::path dir = fs::temp_directory_path() / "hrnet_cfg_test";
  fs::create_directories(dir);
  std::ifstream src(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml");
  const std::string good((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  auto replace = [&](std::string s, const std::string& from, const std::string& to) {
    const auto p = s.find(from);
    REQUIRE(p != std::string::npos);
    return s.replace(p, from.size(), to);
  };
  using models::ConfigError;
  using hrnet::test::check_throws;
  check_throws<ConfigError>([&] { models::load_experiment_config(write("a.yaml", replace(good, "  SIGMA: 2", "  SIGMAA: 2"))); },
                            "unknown key 'DATASET.SIGMAA'");
  check_throws<ConfigError>([&] { models::load_experiment_config(write("b.yaml", replace(good, "NUM_JOINTS: 17", "NUM_JOINTS: seventeen"))); },
                            "must be an integer, got 'seventeen'");
  check_throws<ConfigError>([&] { models::load_experiment_config(write("c.yaml", replace(good, "LR_STEP: [200, 260]", "LR_STEP: [200, x]"))); },
                            "'TRAIN.LR_STEP' must be a list of integers");
  check_throws<ConfigError>([&] { models::load_experiment_config(write("d.yaml", good + "\n  : [unclosed\n")); }, "malformed YAML");
  check_throws<ConfigError>([&] { models::load_experiment_config(dir / "missing.yaml"); }, "missing.yaml: no such file");
  check_throws<ConfigError>(
      [&] { models::pose_net_config(models::load_experiment_config(write("e.yaml", replace(good, "BLOCK: BASIC", "BLOCK: BASICK")))); },
      "MODEL.EXTRA.STAGE2.BLOCK' must be BASIC or BOTTLENECK");
  check_throws<ConfigError>(
      [&] {
        models::pose_net_config(models::load_experiment_config(write("f.yaml", replace(good, "      NUM_CHANNELS:\n      - 32\n      - 64\n", "      NUM_CHANNELS:\n      - 32\n"))));
      },
      "MODEL.EXTRA.STAGE2.NUM_CHANNELS has 1 entries for 2 branches");
  check_throws<ConfigError>([&] { models::load_experiment_config(write("g.yaml", replace(good, "STEM_INPLANES: 64", "STEM_INPLANES: 32"))); },
                            "STEM_INPLANES must be 64");
  // every shipped config loads, except the one that asks for synchronised BN
  int rejected = 0;
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "configs")) {
    if (e.path().extension() != ".yaml") continue;
    INFO(e.path());
    if (e.path() == kRoot / kSyncBnConfig) {
      check_throws<ConfigError>([&] { models::load_experiment_config(e.path()); }, "MODEL.SYNC_BN");
      ++rejected;
    } else {
      CHECK_NOTHROW(models::load_experiment_config(e.path()));
    }
  }
  CHECK(rejected == 1);
  fs::remove_all(dir);
}

TEST_CASE("MODEL.SYNC_BN: true is rejected by name until data-parallel training exists", "[models][config][errors]") {
  const fs::path dir = fs::temp_directory_path() / "hrnet_cfg_syncbn_test";
  fs::create_directories(dir);
  const std::string good = read_text(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml");
  const std::string anchor = "  TAG_PER_JOINT: True\n";
  const auto at = good.find(anchor);
  REQUIRE(at != std::string::npos);
  auto with_sync_bn = [&](const std::string& name, const std::string& value) {
    std::string text = good;
    text.insert(at + anchor.size(), "  SYNC_BN: " + value + "\n");
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  using hrnet::test::check_throws;
  for (const std::string value : {"true", "True"}) {
    const fs::path file = with_sync_bn("sync_" + value + ".yaml", value);
    check_throws<models::ConfigError>([&] { models::load_experiment_config(file); }, file.string() + ": MODEL.SYNC_BN");
    check_throws<models::ConfigError>([&] { models::load_experiment_config(file); }, "--dist");
    check_throws<models::ConfigError>([&] { models::load_experiment_config(file); }, "set MODEL.SYNC_BN: false");
  }
  // the shipped _syncbn config fails the same way, naming itself
  check_throws<models::ConfigError>([&] { models::load_experiment_config(kRoot / kSyncBnConfig); },
                                    "w32_512_adam_lr1e-3_syncbn.yaml: MODEL.SYNC_BN: true is not supported");
  // false (and absent, the default) is fine
  const auto off = models::load_experiment_config(with_sync_bn("sync_false.yaml", "false"));
  CHECK_FALSE(off.get_bool("MODEL.SYNC_BN"));
  CHECK(off.set_in_file("MODEL.SYNC_BN"));
  CHECK_FALSE(models::load_experiment_config(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml").get_bool("MODEL.SYNC_BN"));
  fs::remove_all(dir);
}

TEST_CASE("inputs whose size cannot line up with the branches are rejected", "[models][errors]") {
  const auto cfg = models::pose_net_config(models::load_experiment_config(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml"));
  models::PoseHigherResolutionNet<float, CPU> net(cfg);
  autograd::NoGradGuard ng;
  hrnet::test::check_throws<ShapeError>([&] { net(V(Tensor<float, CPU>::zeros({1, 3, 100, 64}))); }, "must be divisible by 8");
}

TEST_CASE("config numbers: one checked parser names file, key and value (C1)", "[models][config][errors]") {
  const fs::path dir = fs::temp_directory_path() / ("hrnet_cfg_num_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ifstream src(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml");
  const std::string good((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
  std::ifstream tsrc(kRoot / "configs/imagenet/w18_s4.cfg");
  const std::string tgood((std::istreambuf_iterator<char>(tsrc)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return dir / name;
  };
  auto replace = [&](std::string s, const std::string& from, const std::string& to) {
    const auto p = s.find(from);
    REQUIRE(p != std::string::npos);
    return s.replace(p, from.size(), to);
  };
  using models::ConfigError;
  using hrnet::test::check_throws;
  // INT_MAX + 1: strtoll accepted it, then std::stoi threw std::out_of_range ("error: stoi")
  const fs::path big = write("big.yaml", replace(good, "NUM_JOINTS: 17", "NUM_JOINTS: 2147483648"));
  check_throws<ConfigError>([&] { models::load_experiment_config(big); },
                            big.string() + ": key 'DATASET.NUM_JOINTS' must be an integer, got '2147483648': out of range");
  check_throws<ConfigError>([&] { models::load_experiment_config(write("neg.yaml", replace(good, "NUM_JOINTS: 17", "NUM_JOINTS: -99999999999999999999"))); },
                            "got '-99999999999999999999': out of range");
  // a NUL in a quoted YAML scalar: strtoll stopped at it and accepted the prefix
  check_throws<ConfigError>([&] { models::load_experiment_config(write("nul.yaml", replace(good, "NUM_JOINTS: 17", "NUM_JOINTS: \"\\0\""))); },
                            "key 'DATASET.NUM_JOINTS' must be an integer, got '\\x00'");
  check_throws<ConfigError>([&] { models::load_experiment_config(write("nul2.yaml", replace(good, "NUM_JOINTS: 17", "NUM_JOINTS: \"17\\0junk\""))); },
                            "got '17\\x00junk'");
  // a number that overflows a double (std::stod threw std::out_of_range)
  check_throws<ConfigError>([&] { models::load_experiment_config(write("lr.yaml", replace(good, "  LR: 0.001", "  LR: 1e999"))); },
                            "key 'TRAIN.LR' must be a number, got '1e999': out of range for a double");
  // the TF .cfg reader shares the parser
  const fs::path tbig = write("big.cfg", replace(tgood, "lr_rate_init = 1e-1", "lr_rate_init = 1e-1\nimage_size = 99999999999"));
  check_throws<ConfigError>([&] { models::load_experiment_config(tbig); },
                            tbig.string() + ": key 'COMMON.image_size' must be an integer, got '99999999999': out of range");
  // in range, the values are read as before
  const auto ok = models::load_experiment_config(write("ok.yaml", replace(good, "  LR: 0.001", "  LR: 1e-320")));
  CHECK(ok.get_double("TRAIN.LR") == 1e-320);
  CHECK(ok.get_int("DATASET.NUM_JOINTS") == 17);
  fs::remove_all(dir);
}

TEST_CASE("the TF port's INI cfg files build the same network with a 1001-way classifier", "[models][config]") {
  auto w18 = models::load_experiment_config(kRoot / "configs/imagenet/w18_s4.cfg");
  CHECK(w18.format() == models::ConfigFormat::TfIni);
  CHECK(w18.get_double("COMMON.lr_rate_init") == 0.1);
  models::ClsHighResolutionNet<float, CPU> a(models::cls_net_config(w18));
  CHECK(a.num_parameters() == 21299004 + 2049);  // official W18-C plus the background class
  auto w30 = models::load_experiment_config(kRoot / "configs/imagenet/w30_s4.cfg");
  models::ClsHighResolutionNet<float, CPU> b(models::cls_net_config(w30));
  CHECK(b.num_parameters() == 37712220 + 2049);
  CHECK(b.macs(224, 224) == 8105781680 + 2048);

  const fs::path dir = fs::temp_directory_path() / "hrnet_tfcfg_test";
  fs::create_directories(dir);
  std::ifstream src(kRoot / "configs/imagenet/w18_s4.cfg");
  const std::string good((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  using hrnet::test::check_throws;
  check_throws<models::ConfigError>([&] { models::load_experiment_config(write("a.cfg", good + "\n[NET]\nwidth = 3\n")); },
                                    "unknown key 'NET.width'");
  std::string bad = good;
  bad.replace(bad.find("[S3]\nnum_modules  = 4\nnum_channels = 18"), 37, "[S3]\nnum_modules  = 4\nnum_channels = 20");
  check_throws<models::ConfigError>([&] { models::load_experiment_config(write("b.cfg", bad)); },
                                    "S3.num_channels must be 18");
  check_throws<models::ConfigError>([&] { models::load_experiment_config(write("c.cfg", "[NET]\nnum_channels = x\n")); },
                                    "'NET.num_channels' must be an integer");
  fs::remove_all(dir);
}

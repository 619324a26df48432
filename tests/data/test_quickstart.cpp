// The README's quick start, in cheap form (the training itself is measured by
// benchmarks/quickstart_pose.sh, not here): make_synthetic's quick-start set holds what it promises
// (one large labelled person per image, no crowd, unlabelled person or occluder, sides 128..192), its flags
// agree with the library, and the quick-start config loads and builds its network.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "hrnet/data/coco.hpp"
#include "hrnet/data/synthetic.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"
#include "image_test_util.hpp"
#include "test_util.hpp"

using namespace hrnet;
using namespace hrnet::data;
using namespace hrnet::test_image;

namespace {

const fs::path kRoot = HRNET_SOURCE_DIR;
const fs::path kQuickstartConfig = kRoot / "configs/synthetic/quickstart_w16_64.yaml";

// The longer side of the joint extent of each labelled person with all 17 joints in the image,
// as a fraction of the image's shorter side.
std::vector<double> whole_person_sizes(const SyntheticPoseImage& s) {
  std::vector<double> out;
  for (const auto& a : s.annotations) {
    if (a.iscrowd || a.num_keypoints < 17) continue;
    double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
    for (const auto& k : a.keypoints) {
      x0 = std::min(x0, k[0]);
      x1 = std::max(x1, k[0]);
      y0 = std::min(y0, k[1]);
      y1 = std::max(y1, k[1]);
    }
    out.push_back(std::max(x1 - x0, y1 - y0) / double(std::min(s.image.width, s.image.height)));
  }
  return out;
}

std::map<std::string, std::vector<std::uint8_t>> tree(const fs::path& root) {
  std::map<std::string, std::vector<std::uint8_t>> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = read_bytes(e.path());
  return out;
}

}  // namespace

TEST_CASE("quickstart: the quick-start set has one large labelled person per image and no distractors",
          "[synthetic][quickstart]") {
  SyntheticPoseOptions opt = synthetic_pose_quickstart();
  opt.train_images = 40;
  opt.val_images = 8;
  CHECK(opt.min_people == 1);
  CHECK(opt.max_people == 1);
  CHECK_FALSE(opt.distractors);
  std::map<int, int> people_count;  // labelled people -> images
  double smallest = 1e9;
  for (const SyntheticSplit split : {SyntheticSplit::train, SyntheticSplit::val}) {
    const int n = split == SyntheticSplit::train ? opt.train_images : opt.val_images;
    for (int i = 0; i < n; ++i) {
      const SyntheticPoseImage s = render_synthetic_pose(opt, split, i);
      INFO(synthetic_split_name(split) << " image " << i);
      CHECK(std::min(s.image.width, s.image.height) >= 128);
      CHECK(std::max(s.image.width, s.image.height) <= 192);
      int labelled = 0;
      for (const auto& a : s.annotations) {
        CHECK_FALSE(a.iscrowd);
        CHECK(a.num_keypoints > 0);  // no unlabelled person
        labelled += a.num_keypoints > 0;
      }
      ++people_count[labelled];
      // nothing drawn over the person: every joint in the image shows it (v = 2)
      for (const auto& a : s.annotations)
        for (const auto& k : a.keypoints) CHECK((k[2] == 0 || k[2] == 2));
      CHECK(std::count(s.owner.begin(), s.owner.end(), kSyntheticOccluder) == 0);
      for (const double size : whole_person_sizes(s)) smallest = std::min(smallest, size);
    }
  }
  CHECK(people_count.size() == 1);  // one person in every image
  CHECK(people_count[1] == opt.train_images + opt.val_images);
  // Figure heights are at least 0.8 of the largest that fits (0.85 of the shorter side); the joint
  // extent (nose or eyes to ankles) is most of the height, its longer side most of that.
  INFO("smallest whole person: " << smallest << " of the shorter side");
  CHECK(smallest >= 0.35);

  // The default set keeps its small people, crowds and unlabelled people (the tests use it).
  SyntheticPoseOptions def;
  def.train_images = 40;
  def.val_images = 0;
  double def_smallest = 1e9;
  int crowds = 0, unlabelled = 0;
  for (int i = 0; i < def.train_images; ++i) {
    const SyntheticPoseImage s = render_synthetic_pose(def, SyntheticSplit::train, i);
    for (const double size : whole_person_sizes(s)) def_smallest = std::min(def_smallest, size);
    for (const auto& a : s.annotations) {
      crowds += a.iscrowd;
      unlabelled += !a.iscrowd && a.num_keypoints == 0;
    }
  }
  CHECK(def_smallest < 0.35);
  CHECK(crowds > 0);
  CHECK(unlabelled > 0);
}

TEST_CASE("quickstart: people options are checked", "[synthetic][quickstart]") {
  TempDir dir("quick_bad");
  SyntheticPoseOptions bad;
  bad.min_people = 3;
  bad.max_people = 2;
  test::check_throws<ValueError>([&] { write_synthetic_pose(dir.path, bad); }, "min_people must be in 1..max_people");
  bad = {};
  bad.min_people = 0;
  test::check_throws<ValueError>([&] { write_synthetic_pose(dir.path, bad); }, "min_people");
  bad = {};
  bad.min_person_scale = 1.5;
  test::check_throws<ValueError>([&] { write_synthetic_pose(dir.path, bad); }, "min_person_scale");
}

#ifdef HRNET_MAKE_SYNTHETIC
TEST_CASE("quickstart: make_synthetic --quickstart writes the library's quick-start set, and later flags override it",
          "[synthetic][quickstart][tool]") {
  TempDir dir("quick_cli");
  const std::string exe = quote(HRNET_MAKE_SYNTHETIC);
  const RunResult r = run(exe + " pose --quickstart --output " + quote((dir / "cli").string()) + " --images 6", dir);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  SyntheticPoseOptions opt = synthetic_pose_quickstart();
  opt.train_images = 6;
  opt.val_images = 2;
  write_synthetic_pose(dir / "api", opt);
  CHECK(tree(dir / "cli") == tree(dir / "api"));

  // --max_people before or after --quickstart overrides it
  for (const std::string args : {" --max_people 2 --quickstart", " --quickstart --max-people=2"}) {
    const fs::path out = dir / "two";
    fs::remove_all(out);
    const RunResult o = run(exe + " pose --output " + quote(out.string()) + " --images 4 --val_images 0" + args, dir);
    INFO(args << ": " << o.out << o.err);
    REQUIRE(o.status == 0);
    opt = synthetic_pose_quickstart();
    opt.train_images = 4;
    opt.val_images = 0;
    opt.max_people = 2;
    write_synthetic_pose(dir / "two_api", opt);
    CHECK(tree(out) == tree(dir / "two_api"));
  }
  const std::string base = exe + " pose --output " + quote((dir / "bad").string()) + " --images 2";
  for (const auto& [args, phrase] : std::vector<std::pair<std::string, std::string>>{
           {" --quickstart --min_people 2", "min_people must be in 1..max_people (1), got 2"},
           {" --min_person_scale big", "--min_person_scale needs a number"},
           {" --min_person_scale 0", "min_person_scale must be in 0.1..1"},
           {" --no_distractors=maybe", "is a switch"}}) {
    const RunResult b = run(base + args, dir);
    INFO(args << ": " << b.out << b.err);
    CHECK(b.status == 2);
    CHECK_THAT(b.err, Catch::Matchers::Contains(phrase));
  }
  CHECK_FALSE(fs::exists(dir / "bad"));
}
#endif

TEST_CASE("quickstart: the quick-start config loads, validates and builds its network", "[quickstart][models]") {
  const models::ExperimentConfig cfg = models::load_experiment_config(kQuickstartConfig);
  CHECK(cfg.family() == models::ConfigFamily::Pose);
  CHECK(cfg.get_int("DATASET.INPUT_SIZE") == 64);
  CHECK(cfg.get_string("DATASET.ROOT") == "data/synthetic");
  // the official loss: heatmap MSE on both outputs, associative embedding (its "max" push) on the first
  CHECK(cfg.get_string("LOSS.AE_LOSS_TYPE") == "max");
  CHECK(cfg.get_bool_list("LOSS.WITH_HEATMAPS_LOSS") == std::vector<bool>{true, true});
  CHECK(cfg.get_bool_list("LOSS.WITH_AE_LOSS") == std::vector<bool>{true, false});
  // sane test settings (the README says what they are): the official grouping, flip test
  CHECK(cfg.get_bool("TEST.FLIP_TEST"));
  CHECK(cfg.get_bool("TEST.ADJUST"));
  CHECK(cfg.get_bool("TEST.REFINE"));
  CHECK(cfg.get_double("TEST.TAG_THRESHOLD") == 1.0);
  CHECK(cfg.get_double("TEST.DETECTION_THRESHOLD") >= 0.1);
  models::PoseHigherResolutionNet<float, CPU> net(models::pose_net_config(cfg));
  CHECK(net.num_parameters() > 0);
}

// The synthetic COCO pose dataset: it loads with CocoKeypoints and pycocotools, drawings and
// annotations agree, loss masks cover crowds and unlabelled people, files are deterministic; the
// make_synthetic tool's command line.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <map>

#include "hrnet/data/coco.hpp"
#include "hrnet/data/draw.hpp"
#include "hrnet/data/synthetic.hpp"
#include "image_test_util.hpp"
#include "test_util.hpp"

using namespace hrnet;
using namespace hrnet::data;
using namespace hrnet::test_image;

namespace {

int distance(Rgb a, Rgb b) { return std::abs(a[0] - b[0]) + std::abs(a[1] - b[1]) + std::abs(a[2] - b[2]); }

int nearest_shade(Rgb c, const std::array<Rgb, 3>& shades) {
  int best = 1 << 30;
  for (const Rgb& s : shades) best = std::min(best, distance(c, s));
  return best;
}

// Every file under `root`, relative path -> bytes.
std::map<std::string, std::vector<std::uint8_t>> tree(const fs::path& root) {
  std::map<std::string, std::vector<std::uint8_t>> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = read_bytes(e.path());
  return out;
}

SyntheticSplit split_of(const std::string& s) { return s == "train2017" ? SyntheticSplit::train : SyntheticSplit::val; }

// The default-size dataset, written once for the tests that only read it.
struct Dataset {
  TempDir dir{"synthetic"};
  SyntheticPoseOptions opt;
  double seconds = 0;
  Dataset() {
    opt.seed = 11;
    const auto t0 = std::chrono::steady_clock::now();
    write_synthetic_pose(dir.path, opt);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};
const Dataset& dataset() {
  static const Dataset d;
  return d;
}

}  // namespace

TEST_CASE("synthetic: the dataset loads with CocoKeypoints and matches the renderer", "[synthetic]") {
  const Dataset& d = dataset();
  INFO("written in " << d.seconds << " s");
  for (const std::string split : {"train2017", "val2017"}) {
    INFO(split);
    const CocoKeypoints ds(d.dir.path, split);
    const int n = split == "train2017" ? d.opt.train_images : d.opt.val_images;
    REQUIRE(ds.size() == std::size_t(n));  // every image has annotations
    REQUIRE(ds.all_images().size() == std::size_t(n));
    std::int64_t anns = 0;
    bool square = false;
    for (std::size_t i = 0; i < ds.size(); ++i) {
      const SyntheticPoseImage s = render_synthetic_pose(d.opt, split_of(split), int(i));
      const CocoImage& img = ds.image(i);
      INFO("image " << img.file_name);
      CHECK(img.file_name == s.file_name);
      CHECK(img.id == s.id);
      CHECK(img.height == s.image.height);
      CHECK(img.width == s.image.width);
      CHECK(img.height >= d.opt.min_side);
      CHECK(img.width <= d.opt.max_side);
      square = square || img.height == img.width;
      // The JPEG on disk is the rendered picture, up to compression.
      const Image jpeg = read_image(img.path);
      REQUIRE(jpeg.height == s.image.height);
      REQUIRE(jpeg.width == s.image.width);
      double sum = 0;
      for (std::size_t k = 0; k < jpeg.pixels.size(); ++k) sum += std::abs(int(jpeg.pixels[k]) - int(s.image.pixels[k]));
      CHECK(sum / double(jpeg.pixels.size()) < 6.0);  // mostly the background's per-pixel noise
      // The JSON holds the renderer's annotations.
      const auto& a = ds.annotations(i);
      REQUIRE(a.size() == s.annotations.size());
      anns += std::int64_t(a.size());
      for (std::size_t k = 0; k < a.size(); ++k) {
        const SyntheticAnnotation& e = s.annotations[k];
        CHECK(a[k].id == s.id * 100 + std::int64_t(k));
        CHECK(a[k].iscrowd == e.iscrowd);
        CHECK(a[k].num_keypoints == e.num_keypoints);
        CHECK(a[k].area == e.area);
        CHECK(a[k].bbox == e.bbox);
        CHECK(a[k].category_id == 1);
        for (std::size_t j = 0; j < 17; ++j) CHECK(a[k].keypoints[j] == e.keypoints[j]);
        if (e.iscrowd) {
          REQUIRE(a[k].segmentation.is_rle());
          CHECK(*a[k].segmentation.rle == e.rle);
        } else {
          REQUIRE(a[k].segmentation.polygons.size() == 1);
          CHECK(a[k].segmentation.polygons[0] == e.polygon);
        }
      }
    }
    CHECK(ds.num_annotations() == anns);
    CHECK_FALSE(square);
  }
}

TEST_CASE("synthetic: keypoints and visibility and segmentations agree with the drawing", "[synthetic]") {
  const Dataset& d = dataset();
  std::map<int, int> v_counts;
  int jpeg_joints = 0, jpeg_ok = 0;
  int crowds = 0, unlabelled = 0, people = 0, max_people = 0;
  for (const auto split : {SyntheticSplit::train, SyntheticSplit::val}) {
    const int n = split == SyntheticSplit::train ? d.opt.train_images : d.opt.val_images;
    const CocoKeypoints ds(d.dir.path, synthetic_split_name(split));
    int split_crowds = 0, split_unlabelled = 0;
    for (int i = 0; i < n; ++i) {
      const SyntheticPoseImage s = render_synthetic_pose(d.opt, split, i);
      const Image jpeg = read_image(ds.image(std::size_t(i)).path);
      INFO(s.file_name);
      int labelled = 0;
      for (std::size_t k = 0; k < s.annotations.size(); ++k) {
        const SyntheticAnnotation& a = s.annotations[k];
        INFO("annotation " << k);
        // The segmentation contains every pixel the figure shows (polygon as pycocotools rasterises it).
        const Mask seg = a.iscrowd ? rle_decode(a.rle) : rle_decode(rle_from_polygon(a.polygon, int(s.image.height), int(s.image.width)));
        std::int64_t shown = 0, outside = 0;
        for (std::int64_t y = 0; y < s.image.height; ++y)
          for (std::int64_t x = 0; x < s.image.width; ++x)
            if (s.owner_at(y, x) == std::int32_t(k)) {
              ++shown;
              outside += seg.at(int(y), int(x)) == 0;
            }
        CHECK(shown > 0);
        CHECK(outside == 0);
        CHECK(a.area == double(seg.area()));
        if (a.iscrowd) {
          ++split_crowds;
          CHECK(a.num_keypoints == 0);
          continue;
        }
        if (a.num_keypoints == 0) {
          ++split_unlabelled;
          for (const auto& kp : a.keypoints) CHECK(kp == std::array<double, 3>{0, 0, 0});
          continue;
        }
        ++labelled;
        // bbox = the polygon's extent.
        double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
        for (std::size_t p = 0; p < a.polygon.size(); p += 2) {
          x0 = std::min(x0, a.polygon[p]);
          x1 = std::max(x1, a.polygon[p]);
          y0 = std::min(y0, a.polygon[p + 1]);
          y1 = std::max(y1, a.polygon[p + 1]);
        }
        CHECK(a.bbox[0] == x0);
        CHECK(a.bbox[1] == y0);
        CHECK(std::abs(a.bbox[2] - (x1 - x0)) < 0.006);
        CHECK(std::abs(a.bbox[3] - (y1 - y0)) < 0.006);
        int counted = 0;
        for (std::size_t j = 0; j < 17; ++j) {
          const auto [x, y, v] = a.keypoints[j];
          ++v_counts[int(v)];
          INFO("joint " << j << " at " << x << ", " << y << " v " << v);
          if (v == 0) {
            CHECK((x == 0 && y == 0));
            continue;
          }
          ++counted;
          REQUIRE((x >= 0 && y >= 0 && x < double(s.image.width) && y < double(s.image.height)));
          const auto py = std::int64_t(std::floor(y)), px = std::int64_t(std::floor(x));
          const Rgb drawn = s.image.rgb(py, px);
          if (v == 2) {
            // The joint's pixel shows this figure in one of its shades, in the render and (nearly) in
            // the JPEG, where it is nearer to this person's colours than to any other person's.
            CHECK(s.owner_at(py, px) == std::int32_t(k));
            CHECK(nearest_shade(drawn, a.shades) == 0);
            // JPEG's chroma subsampling smears one-pixel details (a face dot, a joint showing through
            // a gap), so this part is a statistic over all visible joints.
            const Rgb decoded = jpeg.rgb(py, px);
            const int own = nearest_shade(decoded, a.shades);
            bool nearest = own <= 90;
            for (std::size_t o = 0; o < s.annotations.size(); ++o)
              if (o != k && !s.annotations[o].iscrowd && s.annotations[o].num_keypoints > 0)
                nearest = nearest && own < nearest_shade(decoded, s.annotations[o].shades);
            ++jpeg_joints;
            jpeg_ok += nearest;
          } else {
            CHECK(v == 1);
            CHECK(s.owner_at(py, px) != std::int32_t(k));  // covered by an occluder or another figure
          }
        }
        CHECK(a.num_keypoints == counted);
      }
      CHECK(labelled >= 1);
      CHECK(labelled <= d.opt.max_people);
      people += labelled;
      max_people = std::max(max_people, labelled);
    }
    CHECK(split_crowds >= 1);
    CHECK(split_unlabelled >= 1);
    crowds += split_crowds;
    unlabelled += split_unlabelled;
  }
  INFO("crowds " << crowds << ", unlabelled " << unlabelled << ", people " << people);
  CHECK(v_counts[0] > 0);  // joints outside the image
  CHECK(v_counts[1] > 0);  // occluded joints
  CHECK(v_counts[2] > v_counts[1] + v_counts[0]);
  CHECK(max_people == d.opt.max_people);
  INFO(jpeg_ok << " of " << jpeg_joints << " visible joints show their person's colour in the JPEG");
  CHECK(jpeg_ok >= 0.97 * jpeg_joints);
}

TEST_CASE("synthetic: loss masks cover the crowd regions and the unlabelled people", "[synthetic]") {
  const Dataset& d = dataset();
  for (const auto split : {SyntheticSplit::train, SyntheticSplit::val}) {
    const CocoKeypoints ds(d.dir.path, synthetic_split_name(split));
    int masked_images = 0;
    std::int64_t visible_joints_masked = 0, visible_joints = 0;
    for (std::size_t i = 0; i < ds.size(); ++i) {
      const SyntheticPoseImage s = render_synthetic_pose(d.opt, split, int(i));
      const Mask m = ds.loss_mask(i);
      INFO(s.file_name);
      std::int64_t ignored_pixels = 0, ignored_unmasked = 0;
      for (std::int64_t y = 0; y < s.image.height; ++y)
        for (std::int64_t x = 0; x < s.image.width; ++x) {
          const std::int32_t o = s.owner_at(y, x);
          if (o < 0) continue;
          const SyntheticAnnotation& a = s.annotations[std::size_t(o)];
          if (a.iscrowd || a.num_keypoints == 0) {
            ++ignored_pixels;
            ignored_unmasked += m.at(int(y), int(x));
          }
        }
      for (const auto& a : s.annotations)
        for (const auto& kp : a.keypoints)
          if (kp[2] == 2) {
            ++visible_joints;
            visible_joints_masked += m.at(int(kp[1]), int(kp[0])) == 0;
          }
      CHECK(ignored_unmasked == 0);
      masked_images += ignored_pixels > 0;
    }
    CHECK(masked_images >= 2);
    // Labelled people are supervised, apart from the few joints a crowd or unlabelled person overlaps.
    INFO(visible_joints_masked << " of " << visible_joints << " visible joints masked");
    CHECK(visible_joints_masked * 10 <= visible_joints);
  }
}

TEST_CASE("synthetic: the same seed gives byte-identical files and another seed different ones", "[synthetic]") {
  TempDir a("det_a"), b("det_b"), c("det_c");
  SyntheticPoseOptions opt;
  opt.train_images = 4;
  opt.val_images = 2;
  opt.seed = 1234;
  write_synthetic_pose(a.path, opt);
  write_synthetic_pose(b.path, opt);
  const auto ta = tree(a.path), tb = tree(b.path);
  CHECK(ta.size() == 4 + 2 + 2);
  CHECK(ta == tb);
  opt.seed = 1235;
  write_synthetic_pose(c.path, opt);
  const auto tc = tree(c.path);
  REQUIRE(tc.size() == ta.size());
  for (const auto& [name, bytes] : ta) {
    INFO(name);
    CHECK(tc.at(name) != bytes);
  }
  // A second write into the same folder replaces the files with identical ones.
  opt.seed = 1234;
  write_synthetic_pose(a.path, opt);
  CHECK(tree(a.path) == tb);
}

TEST_CASE("synthetic: tiny splits still hold a crowd and an unlabelled person and bad options are errors", "[synthetic]") {
  SyntheticPoseOptions opt;
  opt.train_images = 1;
  opt.val_images = 0;
  opt.seed = 5;
  const SyntheticPoseImage s = render_synthetic_pose(opt, SyntheticSplit::train, 0);
  bool crowd = false, unlabelled = false;
  for (const auto& a : s.annotations) {
    crowd = crowd || a.iscrowd;
    unlabelled = unlabelled || (!a.iscrowd && a.num_keypoints == 0);
  }
  CHECK(crowd);
  CHECK(unlabelled);
  TempDir dir("tiny");
  write_synthetic_pose(dir.path, opt);
  CHECK(CocoKeypoints(dir.path, "train2017").size() == 1);
  CHECK(CocoKeypoints(dir.path, "val2017").size() == 0);

  SyntheticPoseOptions bad;
  bad.train_images = -1;
  test::check_throws<ValueError>([&] { write_synthetic_pose(dir.path, bad); }, "image counts");
  bad = {};
  bad.min_side = 32;
  test::check_throws<ValueError>([&] { write_synthetic_pose(dir.path, bad); }, "min_side");
  bad = {};
  bad.max_people = 13;
  test::check_throws<ValueError>([&] { write_synthetic_pose(dir.path, bad); }, "max_people");
  bad = {};
  bad.jpeg_quality = 0;
  test::check_throws<ValueError>([&] { write_synthetic_pose(dir.path, bad); }, "jpeg_quality");
  test::check_throws<ValueError>([&] { render_synthetic_pose(opt, SyntheticSplit::val, 0); }, "out of range");
  // The output folder cannot be created under a regular file.
  write_bytes(dir / "file", {1, 2, 3});
  CHECK_THROWS_AS(write_synthetic_pose(dir / "file", opt), IoError);
}

TEST_CASE("synthetic: pycocotools loads the annotation files and agrees on areas", "[synthetic]") {
  const Dataset& d = dataset();
  TempDir scratch("pycoco");
  const std::string script = std::string(HRNET_IMAGE_TEST_DIR) + "/check_pycocotools.py";
  const RunResult r = run(quote(python()) + " " + quote(script) + " " + quote(d.dir.path.string()), scratch);
  if (r.status == 77 || r.status == 127) {
    WARN("skipped: python3 with pycocotools is not available (" << r.out << r.err << ")");
    return;
  }
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  for (const std::string split : {"train2017", "val2017"}) {
    const CocoKeypoints ds(d.dir.path, split);
    CHECK_THAT(r.out, Catch::Matchers::Contains(split + ": " + std::to_string(ds.size()) + " images, " +
                                                std::to_string(ds.num_annotations()) + " annotations"));
  }
}

#if !defined(__SANITIZE_ADDRESS__) && defined(NDEBUG)
TEST_CASE("synthetic: 64 images are written in well under 10 s", "[synthetic]") {
  TempDir dir("speed");
  SyntheticPoseOptions opt;
  opt.train_images = 64;
  opt.val_images = 0;
  const auto t0 = std::chrono::steady_clock::now();
  write_synthetic_pose(dir.path, opt);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(s << " s");
  CHECK(s < 5.0);
}
#endif

#ifdef HRNET_MAKE_SYNTHETIC
TEST_CASE("make_synthetic: help and bad arguments and a run", "[synthetic][tool]") {
  TempDir dir("cli");
  const std::string exe = quote(HRNET_MAKE_SYNTHETIC);
  SECTION("help") {
    for (const char* h : {" --help", " -h", " pose --help"}) {
      const RunResult r = run(exe + h, dir);
      INFO(h << ": " << r.out << r.err);
      CHECK(r.status == 0);
      CHECK_THAT(r.out, Catch::Matchers::Contains("usage: make_synthetic pose --output DIR --images N"));
      CHECK_THAT(r.out, Catch::Matchers::Contains("--val_images M"));
      CHECK_THAT(r.out, Catch::Matchers::Contains("--seed S"));
    }
  }
  SECTION("bad arguments: a clear message and exit status 2") {
    const std::string out = quote((dir / "o").string());
    const std::vector<std::pair<std::string, std::string>> cases{
        {"", "missing the dataset kind"},
        {" faces --out " + out + " --images 2", "unknown dataset kind 'faces'"},
        {" pose --images 2", "--output DIR is required"},
        {" pose --out " + out, "--images N is required"},
        {" pose --out " + out + " --images two", "--images expects an integer, got 'two'"},
        {" pose --out " + out + " --images 3x", "got '3x'"},
        {" pose --out " + out + " --images -4", "--images must be >= 0"},
        {" pose --out " + out + " --images 2 --seed -1", "--seed expects a non-negative integer"},
        {" pose --out " + out + " --images 2 --val-images", "--val-images needs a value"},
        {" pose --out " + out + " --images 2 --colour red", "unknown option '--colour'"},
        {" pose --out " + out + " --images 2 extra", "unexpected argument 'extra'"},
        {" pose --out " + out + " --images 2 --max-people 40", "max_people must be in 1..12"},
        {" pose --out " + out + " --images 2 --min-size 10", "min_side"},
    };
    for (const auto& [args, phrase] : cases) {
      const RunResult r = run(exe + args, dir);
      INFO("make_synthetic" << args << "\nstdout: " << r.out << "\nstderr: " << r.err);
      CHECK(r.status == 2);
      CHECK_THAT(r.err, Catch::Matchers::Contains(phrase));
      CHECK_THAT(r.err, Catch::Matchers::StartsWith("make_synthetic: error:"));
    }
    CHECK_FALSE(fs::exists(dir / "o"));
  }
  SECTION("unwritable output: exit status 1") {
    write_bytes(dir / "file", {1});
    const RunResult r = run(exe + " pose --out " + quote((dir / "file" / "sub").string()) + " --images 1", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Matchers::Contains("cannot create"));
  }
  SECTION("a run writes what write_synthetic_pose writes") {
    const RunResult r =
        run(exe + " pose --out " + quote((dir / "cli").string()) + " --images 5 --seed 77 --max-size 300", dir);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Matchers::Contains("wrote 5 train + 2 val images"));
    SyntheticPoseOptions opt;
    opt.train_images = 5;
    opt.val_images = 2;  // the default: ceil(5 / 4)
    opt.seed = 77;
    opt.max_side = 300;
    write_synthetic_pose(dir / "api", opt);
    CHECK(tree(dir / "cli") == tree(dir / "api"));
    CHECK(CocoKeypoints(dir / "cli", "train2017").size() == 5);
    CHECK(CocoKeypoints(dir / "cli", "val2017").size() == 2);
  }
  SECTION("the snake_case names and their kebab-case / --out aliases write the same files") {
    const std::string common = " --images 3 --seed 5 --quality 80";
    const RunResult primary = run(exe + " pose --output " + quote((dir / "snake").string()) + common +
                                      " --val_images 1 --min_size 96 --max_size 160 --max_people 2",
                                  dir);
    const RunResult alias = run(exe + " pose --out=" + quote((dir / "kebab").string()) + common +
                                    " --val-images 1 --min-size 96 --max-size=160 --max-people 2",
                                dir);
    INFO(primary.err << alias.err);
    REQUIRE(primary.status == 0);
    REQUIRE(alias.status == 0);
    CHECK(tree(dir / "snake") == tree(dir / "kebab"));
    CHECK(CocoKeypoints(dir / "snake", "val2017").size() == 1);
  }
}
#endif

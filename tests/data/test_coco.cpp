// COCO keypoint index and HigherHRNet loss masks against pycocotools (tests/data/make_coco_fixtures.py).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unordered_map>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>

#include "hrnet/data/coco.hpp"
#include "hrnet/data/mask.hpp"
#include "test_util.hpp"

using namespace hrnet;
using namespace hrnet::data;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const json& fixtures() {
  static const json j = [] {
    std::ifstream in(std::string(HRNET_FIXTURE_DIR) + "/coco_masks.json");
    REQUIRE(in);
    return json::parse(in);
  }();
  return j;
}

fs::path sample_root() { return fs::path(HRNET_SHARED_DATA_DIR) / "coco-sample"; }

bool have_sample() { return fs::is_regular_file(sample_root() / "annotations" / "person_keypoints_val2017.json"); }

// A fresh temporary folder, removed when the object goes away.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    static int n = 0;
    path = fs::temp_directory_path() / ("hrnet_coco_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const fs::path& rel, const std::string& text) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << text;
  }
};

// A COCO root with the synthetic keypoint file and empty image files.
void write_synthetic(const TempDir& d, const std::string& split, bool images = true, const std::string& layout = "") {
  const json& ds = fixtures()["synthetic"]["dataset"];
  d.write(fs::path("annotations") / ("person_keypoints_" + split + ".json"), ds.dump());
  if (images)
    for (const auto& im : ds["images"]) d.write(fs::path(layout) / split / im["file_name"].get<std::string>(), "");
}

Mask mask_from_rows(const json& rows) {
  const int h = int(rows.size()), w = int(rows[0].size());
  Mask m(h, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at(y, x) = rows[y][x].get<int>();
  return m;
}

std::vector<std::vector<double>> polys_of(const json& j) { return j.get<std::vector<std::vector<double>>>(); }

}  // namespace

TEST_CASE("coco rle encode, decode, string codec and area match pycocotools", "[data]") {
  for (const auto& c : fixtures()["rle_cases"]) {
    const int h = c["h"], w = c["w"];
    const auto counts = c["counts"].get<std::vector<std::uint32_t>>();
    const std::string str = c["rle"];
    INFO("case " << c["kind"].get<std::string>() << " " << h << "x" << w);
    const Rle r = rle_from_counts(counts, h, w);
    CHECK(rle_to_string(r) == str);
    CHECK(rle_from_string(str, h, w) == r);
    CHECK(rle_area(r) == c["area"].get<std::uint64_t>());
    if (c.contains("rows")) {
      const Mask m = mask_from_rows(c["rows"]);
      CHECK(rle_encode(m) == r);
      CHECK(rle_decode(r) == m);
      CHECK(std::uint64_t(m.area()) == rle_area(r));
    } else {
      // round trip through the mask
      CHECK(rle_encode(rle_decode(r)) == r);
    }
  }
}

TEST_CASE("coco rle round trip on random masks and bad strings", "[data]") {
  std::mt19937 gen(7);
  for (int t = 0; t < 50; ++t) {
    const int h = 1 + int(gen() % 40), w = 1 + int(gen() % 40);
    Mask m(h, w);
    const double p = (gen() % 100) / 100.0;
    for (auto& v : m.data) v = (gen() % 1000) < p * 1000;
    const Rle r = rle_encode(m);
    CHECK(rle_decode(r) == m);
    CHECK(rle_from_string(rle_to_string(r), h, w) == r);
    CHECK(rle_area(r) == std::uint64_t(m.area()));
    // merge with itself and with its complement
    Mask c = m;
    for (auto& v : c.data) v = !v;
    const std::vector<Rle> both{r, rle_encode(c)};
    CHECK(rle_decode(rle_merge(both)) == Mask(h, w, 1));
    CHECK(rle_area(rle_merge(both, true)) == 0);
  }
  test::check_throws<ValueError>([] { rle_from_string("3~", 2, 2); }, "invalid character");
  test::check_throws<ValueError>([] { rle_from_string("12", 4, 4); }, "sum to");
  test::check_throws<ValueError>([] { rle_from_counts({1, 2}, 2, 2); }, "sum to 3");
}

TEST_CASE("coco polygons rasterise exactly as pycocotools frPyObjects", "[data]") {
  for (const auto& c : fixtures()["polygons"]) {
    const int h = c["h"], w = c["w"];
    INFO("polygon " << c["name"].get<std::string>());
    const auto rles = rle_from_polygons(polys_of(c["polygons"]), h, w);
    REQUIRE(rles.size() == c["rles"].size());
    for (std::size_t i = 0; i < rles.size(); ++i) CHECK(rle_to_string(rles[i]) == c["rles"][i].get<std::string>());
    const Rle merged = rle_merge(rles);
    CHECK(rle_to_string(merged) == c["merged"].get<std::string>());
    CHECK(rle_area(merged) == c["area"].get<std::uint64_t>());
    std::vector<Mask> ms;
    for (const auto& r : rles) ms.push_back(rle_decode(r));
    CHECK(mask_union(ms) == rle_decode(rle_from_string(c["merged"].get<std::string>(), h, w)));
  }
  int n = 0;
  for (const auto& c : fixtures()["polygon_stress"]) {
    INFO("stress polygon " << n++);
    const auto xy = c["xy"].get<std::vector<double>>();
    CHECK(rle_to_string(rle_from_polygon(xy, c["h"].get<int>(), c["w"].get<int>())) == c["rle"].get<std::string>());
  }
  CHECK(n == 240);
  // pycocotools rejects a first polygon of <= 4 coordinates
  test::check_throws<ValueError>([] { rle_from_polygons({{1, 2, 3, 4}}, 10, 10); }, "more than 4");
}

TEST_CASE("coco polygon known results", "[data]") {
  // COCO's polygon [0,4]x[0,4] covers pixels 0..3 (pixel x spans [x, x+1) in polygon coordinates).
  const std::vector<double> sq{0, 0, 4, 0, 4, 4, 0, 4};
  const Mask m = rle_decode(rle_from_polygon(sq, 6, 6));
  CHECK(m.area() == 16);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x) CHECK(m.at(y, x) == (x < 4 && y < 4));
  // a square entirely off the image is empty
  CHECK(rle_area(rle_from_polygon(std::vector<double>{-9, -9, -5, -9, -5, -5, -9, -5}, 6, 6)) == 0);
}

TEST_CASE("coco sample annotations decode as pycocotools", "[data]") {
  if (!have_sample()) {
    WARN("skipped: " << sample_root() << " not found");
    return;
  }
  const CocoKeypoints ds(sample_root(), "val2017", {.remove_images_without_annotations = false});
  std::unordered_map<std::int64_t, const CocoAnnotation*> by_id;
  std::unordered_map<std::int64_t, const CocoImage*> img_by_id;
  for (std::size_t i = 0; i < ds.size(); ++i) {
    img_by_id[ds.image(i).id] = &ds.image(i);
    for (const auto& a : ds.annotations(i)) by_id[a.id] = &a;
  }
  const auto& fa = fixtures()["sample_anns"];
  REQUIRE(by_id.size() == fa.size());
  for (const auto& e : fa) {
    INFO("annotation " << e["id"]);
    const CocoAnnotation& a = *by_id.at(e["id"].get<std::int64_t>());
    const CocoImage& img = *img_by_id.at(a.image_id);
    const auto rles = annotation_rles(a, img.height, img.width);
    REQUIRE(rles.size() == e["rles"].size());
    for (std::size_t i = 0; i < rles.size(); ++i) CHECK(rle_to_string(rles[i]) == e["rles"][i].get<std::string>());
    CHECK(rle_to_string(rle_merge(rles)) == e["merged"].get<std::string>());
    CHECK(rle_to_string(rle_merge(rles)) == e["annToRLE"].get<std::string>());
    CHECK(rle_area(rle_merge(rles)) == e["area"].get<std::uint64_t>());
  }
}

TEST_CASE("coco sample loss masks equal the official get_mask", "[data]") {
  if (!have_sample()) {
    WARN("skipped: " << sample_root() << " not found");
    return;
  }
  const CocoKeypoints ds(sample_root(), "val2017");
  // the official filter keeps images with >= 1 annotation of any kind: all 4
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < ds.size(); ++i) ids.push_back(ds.image(i).id);
  CHECK(ids == fixtures()["sample_kept_ids"].get<std::vector<std::int64_t>>());
  CHECK(ds.size() == 4);
  CHECK(ds.num_annotations() == 14);
  CHECK(ds.image_dir() == sample_root() / "val2017");
  int unlabelled = 0;
  for (const auto& e : fixtures()["sample_masks"]) {
    const std::int64_t id = e["image_id"];
    std::size_t i = 0;
    while (ds.image(i).id != id) ++i;
    INFO("image " << id);
    const Mask m = ds.loss_mask(i);
    REQUIRE(m.height == e["h"].get<int>());
    REQUIRE(m.width == e["w"].get<int>());
    CHECK(rle_to_string(rle_encode(m)) == e["rle"].get<std::string>());
    CHECK(m.area() == e["area"].get<std::int64_t>());
    unlabelled += m.area() < std::int64_t(m.height) * m.width;
  }
  CHECK(unlabelled == 2);  // images 40083 and 196141 have one unlabelled person each
  // image record and annotation fields
  const CocoImage& im = ds.image(0);
  CHECK(im.id == 785);
  CHECK(im.file_name == "000000000785.jpg");
  CHECK(im.height == 425);
  CHECK(im.width == 640);
  CHECK(fs::is_regular_file(im.path));
  const auto& a = ds.annotations(0).at(0);
  CHECK(a.id == 442619);
  CHECK(a.num_keypoints == 17);
  CHECK(a.keypoints.size() == 17);
  CHECK(a.keypoints[0] == std::array<double, 3>{367, 81, 2});
  CHECK(a.keypoints[16] == std::array<double, 3>{396, 341, 2});
  CHECK(a.bbox == std::array<double, 4>{280.79, 44.73, 218.7, 346.68});
  CHECK(a.area == 27789.11055);
  CHECK(!a.iscrowd);
  CHECK(a.segmentation.polygons.size() == 1);
}

TEST_CASE("coco synthetic crowds, unlabelled people and the image filter", "[data]") {
  const auto& syn = fixtures()["synthetic"];
  for (const std::string layout : {"", "images"}) {
    INFO("layout '" << layout << "'");
    TempDir d("syn");
    write_synthetic(d, "train2017", true, layout);
    const CocoKeypoints ds(d.path, "train2017");
    CHECK(ds.image_dir() == (layout.empty() ? d.path / "train2017" : d.path / "images" / "train2017"));
    std::vector<std::int64_t> ids;
    for (std::size_t i = 0; i < ds.size(); ++i) ids.push_back(ds.image(i).id);
    CHECK(ids == syn["kept_ids"].get<std::vector<std::int64_t>>());
    CHECK(ds.all_images().size() == 3);
    // people: iscrowd == 0 or num_keypoints > 0
    CHECK(ds.people(0).size() == 2);
    CHECK(ds.people(1).size() == 1);
    for (const auto& c : syn["crowd_rles"]) {
      bool found = false;
      for (std::size_t i = 0; i < ds.size(); ++i)
        for (const auto& a : ds.annotations(i))
          if (a.id == c["id"].get<std::int64_t>()) {
            found = true;
            REQUIRE(a.segmentation.is_rle());
            CHECK(rle_to_string(*a.segmentation.rle) == c["rle"].get<std::string>());
            CHECK(rle_area(*a.segmentation.rle) == c["area"].get<std::uint64_t>());
          }
      CHECK(found);
    }
    for (const auto& e : syn["masks"]) {
      const std::int64_t id = e["image_id"];
      INFO("image " << id);
      const auto& all = ds.all_images();
      std::size_t k = 0;
      while (all[k].id != id) ++k;
      const Mask m = coco_loss_mask(all[k], ds.all_annotations_of(k));
      CHECK(rle_to_string(rle_encode(m)) == e["rle"].get<std::string>());
      CHECK(m.area() == e["area"].get<std::int64_t>());
    }
  }
  // without the filter the image without annotations stays, with an all-ones mask
  TempDir d("nofilter");
  write_synthetic(d, "val2017");
  const CocoKeypoints ds(d.path, "val2017", {.remove_images_without_annotations = false});
  REQUIRE(ds.size() == 3);
  CHECK(ds.loss_mask(2) == Mask(10, 10, 1));
}

TEST_CASE("coco loader errors name the file, field and annotation", "[data]") {
  TempDir d("err");
  // missing annotation file
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "train2017"); }, "person_keypoints_train2017.json");
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "train2017"); }, "not found");
  // malformed JSON: the parser's message is included
  d.write("annotations/person_keypoints_bad.json", "{\"images\": [1, 2,");
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "bad"); }, "malformed JSON");
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "bad"); }, "parse error");
  // missing top-level arrays
  d.write("annotations/person_keypoints_noanns.json", R"({"images": []})");
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "noanns"); }, "no field \"annotations\"");

  // missing / mistyped required fields, named with the record id
  const json base = fixtures()["synthetic"]["dataset"];
  auto with = [&](const std::string& split, const std::function<void(json&)>& edit) {
    json j = base;
    edit(j);
    d.write("annotations/person_keypoints_" + split + ".json", j.dump());
    for (const auto& im : base["images"]) d.write(fs::path(split) / im["file_name"].get<std::string>(), "");
  };
  with("nokp", [](json& j) { j["annotations"][2].erase("num_keypoints"); });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "nokp"); }, "annotation 13 has no field \"num_keypoints\"");
  with("noseg", [](json& j) { j["annotations"][0].erase("segmentation"); });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "noseg"); }, "annotation 11 has no field \"segmentation\"");
  with("nokps", [](json& j) { j["annotations"][1].erase("keypoints"); });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "nokps"); }, "annotation 12 has no field \"keypoints\"");
  with("shortkps", [](json& j) { j["annotations"][1]["keypoints"] = {1, 2, 3}; });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "shortkps"); }, "annotation 12: field \"keypoints\" has 3");
  with("badtype", [](json& j) { j["annotations"][3]["iscrowd"] = "no"; });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "badtype"); }, "annotation 21: field \"iscrowd\" has the wrong type");
  with("noheight", [](json& j) { j["images"][1].erase("height"); });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "noheight"); }, "image 2 has no field \"height\"");
  with("badimg", [](json& j) { j["annotations"][4]["image_id"] = 99; });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "badimg"); }, "annotation 22 refers to image 99");
  with("badrle", [](json& j) { j["annotations"][0]["segmentation"]["counts"] = {1, 2, 3}; });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "badrle"); }, "annotation 11: field \"segmentation\": invalid RLE");
  with("rlenosize", [](json& j) { j["annotations"][0]["segmentation"].erase("size"); });
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "rlenosize"); }, "annotation 11 segmentation has no field \"size\"");

  // missing image file / folder
  with("noimg", [](json&) {});
  fs::remove(d.path / "noimg" / "b.jpg");
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "noimg"); }, "b.jpg");
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "noimg"); }, "image file not found");
  CHECK_NOTHROW(CocoKeypoints(d.path, "noimg", {.check_images = false}));
  d.write("annotations/person_keypoints_nodir.json", base.dump());
  test::check_throws<IoError>([&] { CocoKeypoints(d.path, "nodir"); }, "images folder not found");

  // a crowd RLE whose size is not the image's
  with("rlesize", [](json& j) {
    j["annotations"][0]["segmentation"] = {{"counts", {0, 6}}, {"size", {2, 3}}};
  });
  const CocoKeypoints bad(d.path, "rlesize");
  test::check_throws<ShapeError>([&] { (void)bad.loss_mask(0); }, "annotation 11 has an RLE of 2x3");
}

// ---- hostile input (issue 18: the fuzzing probe) ---------------------------------------------

namespace {
// The polygon rasteriser before issue 18, kept as the oracle (rleFrPoly line for line, every
// boundary point materialised), in 64-bit so that it has no undefined behaviour.
Rle reference_rle_from_polygon(const std::vector<double>& xy, int h, int w) {
  auto product = [](double a, double b) {
    volatile double p = a * b;
    return double(p);
  };
  const std::size_t k = xy.size() / 2;
  const double scale = 5;
  std::vector<std::int64_t> x(k + 1), y(k + 1);
  for (std::size_t j = 0; j < k; ++j) x[j] = std::int64_t(product(scale, xy[j * 2 + 0]) + .5);
  for (std::size_t j = 0; j < k; ++j) y[j] = std::int64_t(product(scale, xy[j * 2 + 1]) + .5);
  if (k > 0) {
    x[k] = x[0];
    y[k] = y[0];
  }
  std::vector<std::int64_t> u, v;
  for (std::size_t j = 0; j < k; ++j) {
    std::int64_t xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const std::int64_t dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx == 0 && dy == 0) {
      u.push_back(xs);
      v.push_back(ys);
      continue;
    }
    const double s = dx >= dy ? double(ye - ys) / double(dx) : double(xe - xs) / double(dy);
    if (dx >= dy) {
      for (std::int64_t d = 0; d <= dx; ++d) {
        const std::int64_t t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(std::int64_t(double(ys) + product(s, double(t)) + .5));
      }
    } else {
      for (std::int64_t d = 0; d <= dy; ++d) {
        const std::int64_t t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(std::int64_t(double(xs) + product(s, double(t)) + .5));
      }
    }
  }
  std::vector<std::uint32_t> a;
  const double wmax = double(w - 1), hd = double(h);
  for (std::size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = double(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > wmax) continue;
    double yd = double(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / scale - .5;
    yd = yd < 0 ? 0 : yd > hd ? hd : yd;
    yd = std::ceil(yd);
    a.push_back(std::uint32_t(std::int64_t(xd) * h + std::int64_t(yd)));
  }
  a.push_back(std::uint32_t(h * w));
  std::sort(a.begin(), a.end());
  std::uint32_t p = 0;
  for (auto& e : a) {
    const std::uint32_t t = e;
    e -= p;
    p = t;
  }
  Rle r{h, w, {}};
  std::size_t j = 0;
  r.counts.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      r.counts.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) r.counts.back() += a[j++];
    }
  }
  return r;
}

// A one-image COCO file: image fields and the annotation's fields spliced in as JSON text.
std::string coco_doc(const std::string& image_fields, const std::string& ann_fields = "") {
  std::string kps = "[";
  for (int i = 0; i < 51; ++i) kps += i ? ",0" : "0";
  kps += "]";
  std::string ann = "{\"id\": 5, \"image_id\": 1, \"iscrowd\": 0, \"num_keypoints\": 0, \"keypoints\": " + kps +
                    ", \"bbox\": [0, 0, 1, 1], \"area\": 1";
  ann += ann_fields.empty() ? ", \"segmentation\": [[0, 0, 4, 0, 4, 4]]" : ", " + ann_fields;
  return "{\"images\": [{\"file_name\": \"a.jpg\", " + image_fields + "}], \"annotations\": [" + ann + "}]}";
}
}  // namespace

TEST_CASE("rle_from_polygon equals the materialising rasteriser on random polygons, far vertices included", "[data]") {
  std::mt19937 rng(18);
  std::uniform_int_distribution<int> size(1, 40), nv(1, 9), kind(0, 9);
  int compared = 0;
  for (int it = 0; it < 3000; ++it) {
    const int h = size(rng), w = size(rng);
    std::uniform_real_distribution<double> near(-0.6 * w, 1.6 * w), near_y(-0.6 * h, 1.6 * h), far(-3000, 3000);
    std::vector<double> xy;
    const int n = nv(rng);
    for (int j = 0; j < n; ++j) {
      const int kd = kind(rng);
      // mostly near the image, some far away, some on integer and half-integer coordinates
      double x = kd == 0 ? far(rng) : near(rng), y = kd == 1 ? far(rng) : near_y(rng);
      if (kd == 2) x = std::round(2 * x) / 2;
      if (kd == 3) y = std::round(y);
      xy.push_back(x);
      xy.push_back(y);
    }
    if (kind(rng) == 0) xy.push_back(1.0);  // an odd coordinate count: the last one is ignored
    INFO("iteration " << it << ", " << h << "x" << w);
    const Rle got = rle_from_polygon(xy, h, w), want = reference_rle_from_polygon(xy, h, w);
    CHECK(got == want);
    ++compared;
  }
  CHECK(compared == 3000);
}

TEST_CASE("rle_from_polygon: far coordinates cost nothing and do not overflow (K3, K6)", "[data]") {
  // a rectangle reaching x = 3.9e8 in a 10x10 image: rleFrPoly would walk (and allocate for) about
  // 2e9 boundary points; inside the image it is the rectangle reaching x = 20
  const std::vector<double> far = {0, 0, 3.9e8, 0, 3.9e8, 5, 0, 5};
  CHECK(rle_from_polygon(far, 10, 10) == rle_from_polygon(std::vector<double>{0, 0, 20, 0, 20, 5, 0, 5}, 10, 10));
  CHECK(rle_area(rle_from_polygon(far, 10, 10)) == 50);
  // x from -3.9e8 to 3.9e8: x[j] - x[j+1] (scaled by 5) overflowed int
  const std::vector<double> wide = {-3.9e8, 2, 3.9e8, 2, 3.9e8, 7, -3.9e8, 7};
  CHECK(rle_from_polygon(wide, 10, 10) == rle_from_polygon(std::vector<double>{-20, 2, 30, 2, 30, 7, -20, 7}, 10, 10));
  // steep edges far in y: visited only where the column changes
  const std::vector<double> tall = {2, -3.9e8, 7, -3.9e8, 7.5, 3.9e8, 2.5, 3.9e8};
  const Rle t = rle_from_polygon(tall, 10, 10);
  CHECK(rle_area(t) > 0);
  CHECK(t == reference_rle_from_polygon({2, -3.9e4, 7, -3.9e4, 7.5, 3.9e4, 2.5, 3.9e4}, 10, 10));
  test::check_throws<ValueError>([] { rle_from_polygon(std::vector<double>{0, 0, 4.1e8, 0, 1, 1}, 10, 10); },
                                 "out of range");
  test::check_throws<ValueError>([] { rle_from_polygon(std::vector<double>{0, 0, 1, 0, 1, 1}, 70000, 70000); },
                                 "32-bit RLE counts");
  CHECK(rle_from_polygon(std::vector<double>{0, 0, 1, 0, 1, 1}, 0, 5) == Rle{0, 5, {0}});
  CHECK(rle_from_polygon(std::vector<double>{0, 0, 1, 0, 1, 1}, 5, 0) == Rle{5, 0, {0}});
}

TEST_CASE("coco loader: hostile annotation files fail by file, record and field", "[data]") {
  TempDir d("hostile");
  auto load = [&](const std::string& split, const std::string& text) {
    d.write("annotations/person_keypoints_" + split + ".json", text);
    return CocoKeypoints(d.path, split, {.check_images = false});
  };
  const std::string size10 = "\"height\": 10, \"width\": 10";
  CHECK(load("ok", coco_doc("\"id\": 1, " + size10)).size() == 1);
  const std::string file = "person_keypoints_";

  // K5: a deeply nested id (200 KB) was dumped into the message: stack overflow
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  test::check_throws<IoError>([&] { load("deep", coco_doc("\"id\": " + deep + ", " + size10)); },
                              file + "deep.json\": nesting deeper than 512 levels");
  // under the depth limit the id is described, not dumped
  const std::string nested400 = std::string(400, '[') + std::string(400, ']');
  test::check_throws<IoError>([&] { load("nested", coco_doc("\"id\": " + nested400 + ", " + size10)); },
                              "person_keypoints_nested.json: image array of 1: field \"id\" has the wrong type (array)");
  // K1: 1e999 is json::out_of_range (406), which escaped without the file name
  test::check_throws<IoError>([&] { load("inf", coco_doc("\"id\": 1, \"height\": 1e999, \"width\": 10")); },
                              "person_keypoints_inf.json\": [json.exception.out_of_range.406] number overflow parsing '1e999'");
  // K2: a float beyond int went through get<int>() (undefined; INT_MIN on x86, reported as 0x0)
  test::check_throws<IoError>([&] { load("tall", coco_doc("\"id\": 1, \"height\": 1e10, \"width\": 10")); },
                              "person_keypoints_tall.json: image 1: field \"height\": 10000000000.0 is out of range [1, 32768]");
  test::check_throws<IoError>(
      [&] { load("rlesize", coco_doc("\"id\": 1, " + size10, "\"segmentation\": {\"counts\": [100], \"size\": [1.71e10, 10]}")); },
      "person_keypoints_rlesize.json: annotation 5 segmentation: field \"size\"[0]: 17100000000.0 is out of range");
  test::check_throws<IoError>(
      [&] { load("negcount", coco_doc("\"id\": 1, " + size10, "\"segmentation\": {\"counts\": [-1, 101], \"size\": [10, 10]}")); },
      "field \"segmentation\": \"counts\"[0]: -1 is out of range [0, 4294967295]");
  test::check_throws<IoError>([&] { load("hugeid", coco_doc("\"id\": 1e300, " + size10)); },
                              "image 1e+300: field \"id\": 1e+300 is out of range");
  // K4: sides and pixels bounded before anything is allocated (the limits of the image decoder)
  test::check_throws<IoError>([&] { load("big", coco_doc("\"id\": 7, \"height\": 60000, \"width\": 60000")); },
                              "person_keypoints_big.json: image 7: field \"height\": 60000 is out of range [1, 32768]");
  test::check_throws<IoError>([&] { load("many", coco_doc("\"id\": 7, \"height\": 20000, \"width\": 20000")); },
                              "person_keypoints_many.json: image 7: fields \"height\" x \"width\" = 20000x20000 exceed the limit of 134217728 pixels");
  // floats and booleans are still read as get<int> read them
  const CocoKeypoints f = load("float", coco_doc("\"id\": 1, \"height\": 10.0, \"width\": 9.7", "\"iscrowd\": true, \"segmentation\": [[0, 0, 4, 0, 4, 4]]"));
  CHECK(f.image(0).width == 9);
  CHECK(f.annotations(0)[0].iscrowd);

  // K3: a polygon coordinate of 3.9e8 in a 10x10 image asked for 15.6 GB from loss_mask
  const CocoKeypoints far = load("far", coco_doc("\"id\": 1, " + size10, "\"segmentation\": [[0, 0, 3.9e8, 0, 3.9e8, 5, 0, 5]]"));
  const CocoKeypoints near = load("near", coco_doc("\"id\": 1, " + size10, "\"segmentation\": [[0, 0, 20, 0, 20, 5, 0, 5]]"));
  CHECK(far.loss_mask(0) == near.loss_mask(0));
  CHECK(far.loss_mask(0).area() == 50);
}

TEST_CASE("coco loss mask of a far polygon stays within 256 MB (K3)", "[data]") {
  if (!test::kAddressLimitWorks) {
    std::cout << "skipped: RLIMIT_AS cannot be used under a sanitizer\n";
    return;
  }
  const std::string r = test::run_with_memory_limit(std::size_t(256) << 20, [] {
    CocoImage img;
    img.id = 1;
    img.height = img.width = 10;
    CocoAnnotation a, b;
    a.segmentation.polygons = {{0, 0, 3.9e8, 0, 3.9e8, 5, 0, 5}, {-3.9e8, 6, 3.9e8, 6, 3.9e8, 3.9e8, -3.9e8, 3.9e8}};
    b.segmentation.polygons = {{0, 0, 20, 0, 20, 5, 0, 5}, {-20, 6, 30, 6, 30, 30, -20, 30}};
    if (!(coco_loss_mask(img, {a}) == coco_loss_mask(img, {b}))) throw std::runtime_error("masks differ");
  });
  CHECK(r == "ok");
}

// COCO keypoint index and HigherHRNet loss masks against pycocotools (tests/data/make_coco_fixtures.py).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unordered_map>
#include <nlohmann/json.hpp>
#include <random>
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

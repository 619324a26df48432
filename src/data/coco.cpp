// The COCO person-keypoint index and HigherHRNet's loss mask (see hrnet/data/coco.hpp).
#include "hrnet/data/coco.hpp"

#include <fstream>
#include <iterator>
#include <limits>
#include <new>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "hrnet/data/image.hpp"
#include "hrnet/io/json_limits.hpp"

namespace hrnet::data {

namespace {
constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min(), kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kIntMin = std::numeric_limits<int>::min(), kIntMax = std::numeric_limits<int>::max();
}  // namespace

std::vector<Rle> annotation_rles(const CocoAnnotation& a, int h, int w) {
  if (a.segmentation.is_rle()) return {*a.segmentation.rle};
  try {
    return rle_from_polygons(a.segmentation.polygons, h, w);
  } catch (const ValueError& e) {
    HRNET_THROW(ValueError, "annotation " << a.id << ": " << e.what());
  }
}

Mask coco_loss_mask(const CocoImage& img, const std::vector<CocoAnnotation>& anns) {
  Mask m(img.height, img.width, 0);
  for (const auto& a : anns) {
    if (!a.iscrowd && a.num_keypoints != 0) continue;
    for (const Rle& r : annotation_rles(a, img.height, img.width)) {
      HRNET_CHECK(r.height == img.height && r.width == img.width, ShapeError,
                  "coco loss mask: annotation " << a.id << " has an RLE of " << r.height << "x" << r.width
                                                << " for image " << img.id << " of " << img.height << "x"
                                                << img.width);
      rle_decode_or(r, m);
    }
  }
  for (auto& v : m.data) v = std::uint8_t(v == 0);
  return m;
}

Mask CocoKeypoints::loss_mask(std::size_t i) const {
  const CocoImage& img = image(i);
  try {
    return coco_loss_mask(img, annotations(i));
  } catch (const std::bad_alloc&) {
    HRNET_THROW(IoError, ann_file_.string() << ": image " << img.id << " (" << img.height << "x" << img.width
                                            << "): out of memory making its loss mask");
  }
}

CocoKeypoints::CocoKeypoints(const std::filesystem::path& root, const std::string& split, Options opt) : opt_(opt) {
  namespace fs = std::filesystem;
  const fs::path ann_file = root / "annotations" / ("person_keypoints_" + split + ".json");
  image_dir_ = fs::is_directory(root / "images" / split) ? root / "images" / split : root / split;
  try {
    load(ann_file);
  } catch (const std::bad_alloc&) {  // the sizes are bounded; a file too large for memory is still named
    HRNET_THROW(IoError, "COCO annotation file " << ann_file << ": out of memory while indexing it");
  }
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < all_images_.size(); ++i)
    if (!opt_.remove_images_without_annotations || !all_anns_[i].empty()) kept.push_back(i);
  ids_ = std::move(kept);
  if (opt_.check_images) {
    HRNET_CHECK(ids_.empty() || fs::is_directory(image_dir_), IoError,
                "COCO images folder not found: neither " << (root / "images" / split) << " nor " << (root / split)
                                                         << " exists");
    for (std::size_t i : ids_)
      HRNET_CHECK(fs::is_regular_file(all_images_[i].path), IoError,
                  "COCO image file not found: " << all_images_[i].path << " (image id " << all_images_[i].id << ")");
  }
}

template <class T>
T CocoKeypoints::field(const nlohmann::json& j, const char* name, const std::string& what) const {
  static_assert(!std::is_integral_v<T>, "integers are read with int_field (range-checked)");
  auto it = j.find(name);
  HRNET_CHECK(it != j.end(), IoError, ann_file_.string() << ": " << what << " has no field \"" << name << "\"");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    HRNET_THROW(IoError, ann_file_.string() << ": " << what << ": field \"" << name << "\" has the wrong type ("
                                            << it->type_name() << "): " << e.what());
  }
}

namespace {
// One JSON value as an integer in [lo, hi] (floats truncated and booleans read as 0/1, as nlohmann's
// get<int> did, but never an out-of-range cast); `where` names the file, record and field.
std::int64_t checked_int(const nlohmann::json& v, std::int64_t lo, std::int64_t hi, const std::string& where) {
  std::string problem;
  const auto x = io::json_to_integer(v, lo, hi, io::JsonIntegers::Numeric, &problem);
  if (x) return *x;
  HRNET_CHECK(v.is_number() || v.is_boolean(), IoError,
              where << " has the wrong type (" << v.type_name() << "): expected an integer");
  HRNET_THROW(IoError, where << ": " << problem);
}
}  // namespace

std::int64_t CocoKeypoints::int_field(const nlohmann::json& j, const char* name, const std::string& what,
                                      std::int64_t lo, std::int64_t hi) const {
  auto it = j.find(name);
  HRNET_CHECK(it != j.end(), IoError, ann_file_.string() << ": " << what << " has no field \"" << name << "\"");
  return checked_int(*it, lo, hi, ann_file_.string() + ": " + what + ": field \"" + name + "\"");
}

std::vector<std::int64_t> CocoKeypoints::int_list_field(const nlohmann::json& j, const char* name,
                                                        const std::string& what, std::int64_t lo,
                                                        std::int64_t hi) const {
  auto it = j.find(name);
  HRNET_CHECK(it != j.end(), IoError, ann_file_.string() << ": " << what << " has no field \"" << name << "\"");
  const std::string where = ann_file_.string() + ": " + what + ": field \"" + name + "\"";
  HRNET_CHECK(it->is_array(), IoError,
              where << " has the wrong type (" << it->type_name() << "): expected a list of integers");
  std::vector<std::int64_t> out;
  out.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i)
    out.push_back(checked_int((*it)[i], lo, hi, where + "[" + std::to_string(i) + "]"));
  return out;
}

std::string CocoKeypoints::id_text(const nlohmann::json& j) {
  auto it = j.find("id");
  // never dump(): it recurses, and a deeply nested "id" would overflow the stack
  return it == j.end() ? std::string("(no id)") : io::json_brief(*it);
}

void CocoKeypoints::load(const std::filesystem::path& ann_file) {
  namespace fs = std::filesystem;
  ann_file_ = ann_file;
  HRNET_CHECK(fs::is_regular_file(ann_file), IoError, "COCO annotation file not found: " << ann_file);
  std::ifstream in(ann_file, std::ios::binary);
  HRNET_CHECK(in, IoError, "cannot open COCO annotation file " << ann_file);
  nlohmann::json doc;
  {
    std::string text;
    try {
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::bad_alloc&) {
      HRNET_THROW(IoError, "COCO annotation file " << ann_file << " does not fit in memory");
    }
    HRNET_CHECK(!in.bad(), IoError, "cannot read COCO annotation file " << ann_file);
    std::ostringstream context;
    context << "malformed JSON in COCO annotation file " << ann_file;
    doc = io::parse_json_text(text, context.str());
  }
  HRNET_CHECK(doc.is_object(), IoError, ann_file.string() << ": the top level is not a JSON object");
  for (const char* key : {"images", "annotations"}) {
    auto it = doc.find(key);
    HRNET_CHECK(it != doc.end(), IoError, ann_file.string() << ": no field \"" << key << "\"");
    HRNET_CHECK(it->is_array(), IoError, ann_file.string() << ": field \"" << key << "\" is not an array");
  }

  std::unordered_map<std::int64_t, std::size_t> by_id;
  for (const auto& ji : doc["images"]) {
    HRNET_CHECK(ji.is_object(), IoError, ann_file.string() << ": an entry of \"images\" is not an object");
    const std::string what = "image " + id_text(ji);
    CocoImage img;
    img.id = int_field(ji, "id", what, kI64Min, kI64Max);
    img.file_name = field<std::string>(ji, "file_name", what);
    // Bounded before anything is allocated from them (the loss mask is height x width bytes): the
    // limits of the image decoder, which could not read a larger image anyway.
    img.height = int(int_field(ji, "height", what, 1, kMaxImageSide));
    img.width = int(int_field(ji, "width", what, 1, kMaxImageSide));
    HRNET_CHECK(std::int64_t(img.height) * img.width <= kMaxImagePixels, IoError,
                ann_file.string() << ": " << what << ": fields \"height\" x \"width\" = " << img.height << "x"
                                  << img.width << " exceed the limit of " << kMaxImagePixels
                                  << " pixels (hrnet::data::kMaxImagePixels)");
    img.path = image_dir_ / img.file_name;
    HRNET_CHECK(by_id.emplace(img.id, all_images_.size()).second, IoError,
                ann_file.string() << ": duplicate image id " << img.id);
    all_images_.push_back(std::move(img));
  }
  all_anns_.assign(all_images_.size(), {});

  for (const auto& ja : doc["annotations"]) {
    HRNET_CHECK(ja.is_object(), IoError, ann_file.string() << ": an entry of \"annotations\" is not an object");
    const std::string what = "annotation " + id_text(ja);
    CocoAnnotation a;
    a.id = int_field(ja, "id", what, kI64Min, kI64Max);
    a.image_id = int_field(ja, "image_id", what, kI64Min, kI64Max);
    if (ja.contains("category_id")) a.category_id = int_field(ja, "category_id", what, kI64Min, kI64Max);
    a.iscrowd = int_field(ja, "iscrowd", what, kIntMin, kIntMax) != 0;
    a.num_keypoints = int(int_field(ja, "num_keypoints", what, kIntMin, kIntMax));
    const auto kps = field<std::vector<double>>(ja, "keypoints", what);
    HRNET_CHECK(kps.size() == std::size_t(3 * opt_.num_joints), IoError,
                ann_file.string() << ": " << what << ": field \"keypoints\" has " << kps.size() << " numbers, expected "
                                  << 3 * opt_.num_joints << " (" << opt_.num_joints << " joints x 3)");
    a.keypoints.resize(std::size_t(opt_.num_joints));
    for (std::size_t k = 0; k < a.keypoints.size(); ++k) a.keypoints[k] = {kps[3 * k], kps[3 * k + 1], kps[3 * k + 2]};
    const auto bbox = field<std::vector<double>>(ja, "bbox", what);
    HRNET_CHECK(bbox.size() == 4, IoError,
                ann_file.string() << ": " << what << ": field \"bbox\" has " << bbox.size() << " numbers, expected 4");
    a.bbox = {bbox[0], bbox[1], bbox[2], bbox[3]};
    a.area = field<double>(ja, "area", what);
    auto img_it = by_id.find(a.image_id);
    HRNET_CHECK(img_it != by_id.end(), IoError,
                ann_file.string() << ": " << what << " refers to image " << a.image_id << ", which is not in \"images\"");
    a.segmentation = parse_segmentation(ja, what);
    all_anns_[img_it->second].push_back(std::move(a));
    ++num_anns_;
  }
}

CocoSegmentation CocoKeypoints::parse_segmentation(const nlohmann::json& ja, const std::string& what) const {
  auto it = ja.find("segmentation");
  HRNET_CHECK(it != ja.end(), IoError, ann_file_.string() << ": " << what << " has no field \"segmentation\"");
  CocoSegmentation seg;
  const std::string where = ann_file_.string() + ": " + what + ": field \"segmentation\"";
  if (it->is_array()) {
    try {
      seg.polygons = it->get<std::vector<std::vector<double>>>();
    } catch (const nlohmann::json::exception& e) {
      HRNET_THROW(IoError, where << " is not a list of polygons (lists of numbers): " << e.what());
    }
    return seg;
  }
  HRNET_CHECK(it->is_object(), IoError, where << " is neither a list of polygons nor an RLE object");
  const std::string rwhat = what + " segmentation";
  const auto size64 = int_list_field(*it, "size", rwhat, kIntMin, kIntMax);
  HRNET_CHECK(size64.size() == 2 && size64[0] >= 0 && size64[1] >= 0, IoError, where << ": \"size\" must be [height, width]");
  const int size[2] = {int(size64[0]), int(size64[1])};
  auto c = it->find("counts");
  HRNET_CHECK(c != it->end(), IoError, ann_file_.string() << ": " << rwhat << " has no field \"counts\"");
  HRNET_CHECK(c->is_string() || c->is_array(), IoError,
              where << ": \"counts\" is neither a string nor a list of counts (" << c->type_name() << ")");
  try {
    if (c->is_string()) {
      seg.rle = rle_from_string(c->get_ref<const std::string&>(), size[0], size[1]);
    } else {
      std::vector<std::uint32_t> counts;
      counts.reserve(c->size());
      for (std::size_t i = 0; i < c->size(); ++i)
        counts.push_back(std::uint32_t(checked_int((*c)[i], 0, std::numeric_limits<std::uint32_t>::max(),
                                                   where + ": \"counts\"[" + std::to_string(i) + "]")));
      seg.rle = rle_from_counts(std::move(counts), size[0], size[1]);
    }
  } catch (const ValueError& e) {
    HRNET_THROW(IoError, where << ": invalid RLE: " << e.what());
  }
  return seg;
}

}  // namespace hrnet::data

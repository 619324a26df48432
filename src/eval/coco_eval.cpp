// COCO keypoint evaluation (see include/hrnet/eval/coco_eval.hpp for the semantics). The structure
// follows pycocotools' COCOeval: computeOks, evaluateImg per (image, category, area range), then
// accumulate and summarize; floating-point operations are done in numpy's order (including its
// pairwise summation) so the numbers agree to the last bit wherever libm's exp does.
#include "hrnet/eval/coco_eval.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "hrnet/core/error.hpp"
#include "hrnet/io/json_limits.hpp"

namespace hrnet::eval {
namespace {

using json = nlohmann::json;
constexpr int kNumCoords = 3 * kNumKeypoints;
constexpr int kT = 10, kR = 101, kA = 3;
constexpr int kMaxDets = 20;
constexpr std::array<std::array<double, 2>, kA> kAreaRanges = {{{0.0, 1e10}, {32.0 * 32.0, 96.0 * 96.0}, {96.0 * 96.0, 1e10}}};
constexpr std::array<const char*, kA> kAreaLabels = {"all", "medium", "large"};
constexpr double kEps = std::numeric_limits<double>::epsilon();  // np.spacing(1)

// numpy.linspace(start, stop, num): y = arange(num) * ((stop - start) / (num - 1)) + start, y[-1] = stop.
template <std::size_t N>
std::array<double, N> linspace(double start, double stop) {
  std::array<double, N> y{};
  const double step = (stop - start) / double(N - 1);
  for (std::size_t i = 0; i < N; ++i) {
    volatile double p = double(i) * step;  // volatile: no fused multiply-add, numpy rounds twice
    y[i] = p + start;
  }
  y[N - 1] = stop;
  return y;
}

// numpy's pairwise_sum (8 accumulators up to 128 elements, halving above), so that sums over the
// same sequence give the same bits.
double pairwise_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double res = 0.;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

const std::array<double, kNumKeypoints>& oks_vars() {
  static const std::array<double, kNumKeypoints> v = [] {
    std::array<double, kNumKeypoints> out{};
    for (int k = 0; k < kNumKeypoints; ++k) {
      const double s = kOksSigmasTimes10[k] / 10.0;
      out[k] = (s * 2) * (s * 2);
    }
    return out;
  }();
  return v;
}

// ---- JSON reading -------------------------------------------------------------------------------

std::string entry_name(const std::string& file, const char* array, std::size_t index, const std::string& id) {
  std::ostringstream s;
  if (!file.empty()) s << file << ": ";
  s << array << '[' << index << ']';
  if (!id.empty()) s << " (" << id << ')';
  return s.str();
}

const json& need(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  HRNET_CHECK(it != obj.end(), ValueError, where << ": no field \"" << key << "\"");
  return *it;
}

// Values are quoted without recursing (a deeply nested value would overflow the stack in dump()).
std::string short_dump(const json& v) { return io::json_brief(v); }

std::int64_t as_int(const json& v, const char* key, const std::string& where) {
  const auto x = io::json_to_integer(v, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
                                     io::JsonIntegers::Exact, nullptr);
  if (x) return *x;
  if (v.is_number_unsigned())
    HRNET_THROW(ValueError, where << ": field \"" << key << "\" is out of range (" << short_dump(v) << ")");
  HRNET_THROW(ValueError, where << ": field \"" << key << "\" is not an integer (" << io::json_desc(v) << ")");
}

double as_finite(const json& v, const char* key, const std::string& where) {
  HRNET_CHECK(v.is_number(), ValueError,
              where << ": field \"" << key << "\" is not a number (" << io::json_desc(v) << ")");
  const double x = v.get<double>();
  HRNET_CHECK(std::isfinite(x), ValueError, where << ": field \"" << key << "\" is not finite (" << x << ")");
  return x;
}

void as_finite_array(const json& v, const char* key, const std::string& where, double* out, std::size_t n) {
  HRNET_CHECK(v.is_array(), ValueError,
              where << ": field \"" << key << "\" is not an array (" << io::json_desc(v) << ")");
  HRNET_CHECK(v.size() == n, ValueError,
              where << ": field \"" << key << "\" has " << v.size() << " numbers, expected " << n);
  for (std::size_t i = 0; i < n; ++i) {
    const json& x = v[i];
    HRNET_CHECK(x.is_number(), ValueError,
                where << ": " << key << '[' << i << "] is not a number (" << io::json_desc(x) << ")");
    out[i] = x.get<double>();
    HRNET_CHECK(std::isfinite(out[i]), ValueError, where << ": " << key << '[' << i << "] is not finite (" << out[i] << ")");
  }
}

json read_json(const std::filesystem::path& file, const char* what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  HRNET_CHECK(fs::exists(file, ec), IoError, what << " file not found: " << file.string());
  HRNET_CHECK(!fs::is_directory(file, ec), IoError, what << " file " << file.string() << " is a directory");
  std::ifstream in(file, std::ios::binary);
  HRNET_CHECK(in, IoError, "cannot open " << what << " file " << file.string() << ": " << std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  HRNET_CHECK(!in.bad(), IoError, "cannot read " << what << " file " << file.string());
  std::ostringstream context;
  context << "malformed JSON in " << what << " file " << file.string();
  return io::parse_json_text(text, context.str());
}

void check_result(const KeypointResult& r, std::size_t i, const std::string& file) {
  const std::string where = entry_name(file, "results", i, "image_id " + std::to_string(r.image_id));
  HRNET_CHECK(r.keypoints.size() == std::size_t(kNumCoords), ValueError,
              where << ": keypoints has " << r.keypoints.size() << " numbers, expected " << kNumCoords);
  for (std::size_t j = 0; j < r.keypoints.size(); ++j)
    HRNET_CHECK(std::isfinite(r.keypoints[j]), ValueError,
                where << ": keypoints[" << j << "] is not finite (" << r.keypoints[j] << ")");
  HRNET_CHECK(std::isfinite(r.score), ValueError, where << ": score is not finite (" << r.score << ")");
  if (r.bbox)
    for (int j = 0; j < 4; ++j)
      HRNET_CHECK(std::isfinite((*r.bbox)[j]), ValueError, where << ": bbox[" << j << "] is not finite (" << (*r.bbox)[j] << ")");
}

// ---- atomic writes ------------------------------------------------------------------------------

void write_text_atomic(const std::filesystem::path& path, const std::string& text) {
  static std::atomic<unsigned long> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(long(::getpid())) + "." + std::to_string(counter++);
  const std::string p = path.string(), tp = tmp.string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  HRNET_CHECK(fd >= 0, IoError, p << ": cannot create temporary file " << tp << ": " << std::strerror(errno));
  auto fail = [&](const char* what, int err) {
    ::unlink(tmp.c_str());
    HRNET_THROW(IoError, p << ": " << what << " " << tp << " failed: " << std::strerror(err));
  };
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail("write to", err);
    }
    done += std::size_t(w);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("fsync of", err);
  }
  if (::close(fd) != 0) fail("close of", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename over it of", errno);
}

// ---- evaluation ---------------------------------------------------------------------------------

// computeOks for one pair; k1 = number of labelled gt joints.
double oks_pair(const GtAnnotation& g, int k1, const double* d) {
  const auto& vars = oks_vars();
  const double area_eps = g.area + kEps;
  double ex[kNumKeypoints];
  int n = 0;
  if (k1 > 0) {
    for (int k = 0; k < kNumKeypoints; ++k) {
      if (!(g.keypoints[3 * k + 2] > 0)) continue;
      const double dx = d[3 * k] - g.keypoints[3 * k], dy = d[3 * k + 1] - g.keypoints[3 * k + 1];
      const double e = (dx * dx + dy * dy) / vars[k] / area_eps / 2;
      ex[n++] = std::exp(-e);
    }
  } else {
    // distance to the gt box enlarged by its width/height on each side
    const auto& bb = g.bbox;
    const double x0 = bb[0] - bb[2], x1 = bb[0] + bb[2] * 2;
    const double y0 = bb[1] - bb[3], y1 = bb[1] + bb[3] * 2;
    for (int k = 0; k < kNumKeypoints; ++k) {
      const double xd = d[3 * k], yd = d[3 * k + 1];
      const double dx = std::max(0.0, x0 - xd) + std::max(0.0, xd - x1);
      const double dy = std::max(0.0, y0 - yd) + std::max(0.0, yd - y1);
      const double e = (dx * dx + dy * dy) / vars[k] / area_eps / 2;
      ex[n++] = std::exp(-e);
    }
  }
  return pairwise_sum(ex, std::size_t(n)) / double(n);
}

int labelled(const GtAnnotation& g) {
  int k1 = 0;
  for (int k = 0; k < kNumKeypoints; ++k) k1 += g.keypoints[3 * k + 2] > 0;
  return k1;
}

// Per (category, area range): the concatenation over images of evaluateImg's output.
struct Accum {
  std::vector<double> scores;       // per detection
  std::vector<std::uint8_t> flags;  // per detection x T: 0 ignored, 1 true positive, 2 false positive
  std::int64_t npig = 0;            // non-ignored gts
};

// np.mean(s[s > -1]) or -1.
double mean_valid(const std::vector<double>& s) {
  std::vector<double> v;
  v.reserve(s.size());
  for (double x : s)
    if (x > -1) v.push_back(x);
  if (v.empty()) return -1;
  return (0.0 + pairwise_sum(v.data(), v.size())) / double(v.size());
}

}  // namespace

const std::array<double, 10>& oks_thresholds() {
  static const auto t = linspace<10>(0.5, 0.95);
  return t;
}
const std::array<double, 101>& recall_thresholds() {
  static const auto r = linspace<101>(0.0, 1.0);
  return r;
}

double keypoint_oks(const GtAnnotation& gt, std::span<const double> dt_keypoints) {
  HRNET_CHECK(dt_keypoints.size() == std::size_t(kNumCoords), ValueError,
              "keypoint_oks: detection has " << dt_keypoints.size() << " keypoint numbers, expected " << kNumCoords);
  return oks_pair(gt, labelled(gt), dt_keypoints.data());
}

CocoGroundTruth load_ground_truth(const std::filesystem::path& file) {
  const std::string f = file.string();
  const json doc = read_json(file, "ground-truth");
  HRNET_CHECK(doc.is_object(), ValueError, f << ": the top level is not a JSON object (" << doc.type_name() << ")");
  for (const char* key : {"images", "annotations", "categories"}) {
    auto it = doc.find(key);
    HRNET_CHECK(it != doc.end(), ValueError, f << ": no field \"" << key << "\"");
    HRNET_CHECK(it->is_array(), ValueError, f << ": field \"" << key << "\" is not an array (" << it->type_name() << ")");
  }
  CocoGroundTruth gt;
  gt.source = f;
  auto id_of = [](const json& j) {
    auto it = j.is_object() ? j.find("id") : j.end();
    return it == j.end() ? std::string() : "id " + short_dump(*it);
  };
  const json& images = doc["images"];
  gt.image_ids.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string where = entry_name(f, "images", i, id_of(images[i]));
    HRNET_CHECK(images[i].is_object(), ValueError, where << ": not an object");
    gt.image_ids.push_back(as_int(need(images[i], "id", where), "id", where));
  }
  const json& cats = doc["categories"];
  for (std::size_t i = 0; i < cats.size(); ++i) {
    const std::string where = entry_name(f, "categories", i, id_of(cats[i]));
    HRNET_CHECK(cats[i].is_object(), ValueError, where << ": not an object");
    gt.category_ids.push_back(as_int(need(cats[i], "id", where), "id", where));
  }
  const json& anns = doc["annotations"];
  gt.annotations.reserve(anns.size());
  for (std::size_t i = 0; i < anns.size(); ++i) {
    const json& ja = anns[i];
    const std::string where = entry_name(f, "annotations", i, id_of(ja));
    HRNET_CHECK(ja.is_object(), ValueError, where << ": not an object");
    GtAnnotation a;
    a.id = as_int(need(ja, "id", where), "id", where);
    a.image_id = as_int(need(ja, "image_id", where), "image_id", where);
    a.category_id = as_int(need(ja, "category_id", where), "category_id", where);
    as_finite_array(need(ja, "keypoints", where), "keypoints", where, a.keypoints.data(), kNumCoords);
    a.num_keypoints = as_finite(need(ja, "num_keypoints", where), "num_keypoints", where);
    a.area = as_finite(need(ja, "area", where), "area", where);
    as_finite_array(need(ja, "bbox", where), "bbox", where, a.bbox.data(), 4);
    const json& c = need(ja, "iscrowd", where);
    if (c.is_boolean()) {
      a.iscrowd = c.get<bool>();
    } else {
      const std::int64_t v = as_int(c, "iscrowd", where);
      HRNET_CHECK(v == 0 || v == 1, ValueError, where << ": field \"iscrowd\" is " << v << ", expected 0 or 1");
      a.iscrowd = v == 1;
    }
    gt.annotations.push_back(a);
  }
  return gt;
}

std::vector<KeypointResult> load_results(const std::filesystem::path& file) {
  const std::string f = file.string();
  const json doc = read_json(file, "results");
  HRNET_CHECK(doc.is_array(), ValueError,
              f << ": results must be a JSON array of objects, got " << doc.type_name());
  std::vector<KeypointResult> out;
  out.reserve(doc.size());
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const json& j = doc[i];
    std::string id;
    if (j.is_object() && j.contains("image_id")) id = "image_id " + short_dump(j["image_id"]);
    const std::string where = entry_name(f, "results", i, id);
    HRNET_CHECK(j.is_object(), ValueError, where << ": not an object (" << j.type_name() << ")");
    KeypointResult r;
    r.image_id = as_int(need(j, "image_id", where), "image_id", where);
    r.category_id = as_int(need(j, "category_id", where), "category_id", where);
    r.keypoints.resize(kNumCoords);
    as_finite_array(need(j, "keypoints", where), "keypoints", where, r.keypoints.data(), kNumCoords);
    r.score = as_finite(need(j, "score", where), "score", where);
    auto b = j.find("bbox");
    // loadRes treats "bbox": [] as absent
    if (b != j.end() && !(b->is_array() && b->empty())) {
      std::array<double, 4> bb{};
      as_finite_array(*b, "bbox", where, bb.data(), 4);
      r.bbox = bb;
    }
    out.push_back(std::move(r));
  }
  return out;
}

void write_results_json(const std::filesystem::path& file, const std::vector<KeypointResult>& results) {
  json arr = json::array();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const KeypointResult& r = results[i];
    check_result(r, i, "write_results_json " + file.string());
    json j = json::object();
    j["image_id"] = r.image_id;
    j["category_id"] = r.category_id;
    j["keypoints"] = r.keypoints;
    j["score"] = r.score;
    if (r.bbox) j["bbox"] = *r.bbox;
    arr.push_back(std::move(j));
  }
  write_text_atomic(file, arr.dump() + "\n");
}

void write_stats_json(const std::filesystem::path& file, const Stats& stats) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (int i = 0; i < kNumStats; ++i) {
    HRNET_CHECK(std::isfinite(stats[i]), ValueError, "write_stats_json: stat " << kStatNames[i] << " is not finite");
    j[kStatNames[i]] = stats[i];
  }
  write_text_atomic(file, j.dump(2) + "\n");
}

KeypointEvaluation evaluate_keypoints_full(const CocoGroundTruth& gt, const std::vector<KeypointResult>& results,
                                           const std::optional<std::vector<std::int64_t>>& image_ids) {
  const std::string& src = gt.source;
  // ---- loadRes: every result on a gt image; the area of each detection
  std::unordered_set<std::int64_t> gt_images(gt.image_ids.begin(), gt.image_ids.end());
  const bool bbox_area = !results.empty() && results[0].bbox.has_value();
  std::vector<double> dt_area(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    const KeypointResult& r = results[i];
    check_result(r, i, "");
    HRNET_CHECK(gt_images.count(r.image_id), ValueError,
                "results[" << i << "]: image_id " << r.image_id << " is not an image of the ground truth "
                           << (src.empty() ? "" : src) << " (the results do not correspond to this gt set)");
    if (bbox_area) {
      HRNET_CHECK(r.bbox.has_value(), ValueError,
                  "results[" << i << "] (image_id " << r.image_id
                             << "): no bbox, but results[0] has one (then every result needs one: its w*h is the area)");
      dt_area[i] = (*r.bbox)[2] * (*r.bbox)[3];
    } else {
      double x0 = r.keypoints[0], x1 = x0, y0 = r.keypoints[1], y1 = y0;
      for (int k = 1; k < kNumKeypoints; ++k) {
        x0 = std::min(x0, r.keypoints[3 * k]);
        x1 = std::max(x1, r.keypoints[3 * k]);
        y0 = std::min(y0, r.keypoints[3 * k + 1]);
        y1 = std::max(y1, r.keypoints[3 * k + 1]);
      }
      dt_area[i] = (x1 - x0) * (y1 - y0);
    }
  }
  {
    std::unordered_map<std::int64_t, std::size_t> seen;
    for (std::size_t i = 0; i < gt.annotations.size(); ++i) {
      auto [it, fresh] = seen.emplace(gt.annotations[i].id, i);
      HRNET_CHECK(fresh, ValueError,
                  (src.empty() ? "ground truth" : src) << ": annotations[" << i << "] has id " << gt.annotations[i].id
                                                       << ", already used by annotations[" << it->second << "]");
    }
  }

  // ---- params: sorted unique image and category ids
  std::vector<std::int64_t> imgs;
  if (image_ids) {
    imgs = *image_ids;
    for (std::int64_t id : imgs)
      HRNET_CHECK(gt_images.count(id), ValueError,
                  "evaluate_keypoints: image id " << id << " of the requested images is not in the ground truth "
                                                  << src);
  } else {
    imgs = gt.image_ids;
  }
  std::sort(imgs.begin(), imgs.end());
  imgs.erase(std::unique(imgs.begin(), imgs.end()), imgs.end());
  std::vector<std::int64_t> cats = gt.category_ids;
  std::sort(cats.begin(), cats.end());
  cats.erase(std::unique(cats.begin(), cats.end()), cats.end());
  const std::size_t I = imgs.size(), K = cats.size();

  std::unordered_map<std::int64_t, std::size_t> img_index, cat_index;
  for (std::size_t i = 0; i < I; ++i) img_index.emplace(imgs[i], i);
  for (std::size_t k = 0; k < K; ++k) cat_index.emplace(cats[k], k);
  // Only the (image, category) cells that hold a gt or a result are indexed (a dense I x K table
  // would be quadratic in the ids: 8000 images x 8000 categories is 64M cells). Key k * I + i, so
  // that the map's order is COCOeval's (category, image) order; cells hold gt annotations in file
  // order and results in results order.
  struct Cell {
    std::vector<std::uint32_t> gt, dt;
  };
  std::map<std::uint64_t, Cell> cells;
  auto cell_of = [&](std::int64_t img, std::int64_t cat) -> Cell* {
    auto ii = img_index.find(img);
    auto kk = cat_index.find(cat);
    if (ii == img_index.end() || kk == cat_index.end()) return nullptr;
    return &cells[std::uint64_t(kk->second) * std::uint64_t(I) + std::uint64_t(ii->second)];
  };
  for (std::size_t a = 0; a < gt.annotations.size(); ++a)
    if (Cell* c = cell_of(gt.annotations[a].image_id, gt.annotations[a].category_id)) c->gt.push_back(std::uint32_t(a));
  for (std::size_t d = 0; d < results.size(); ++d)
    if (Cell* c = cell_of(results[d].image_id, results[d].category_id)) c->dt.push_back(std::uint32_t(d));

  const auto& thr = oks_thresholds();
  std::vector<Accum> acc(K * kA);
  KeypointEvaluation out;
  out.num_images = std::int64_t(I);
  std::vector<double> ious;
  std::vector<int> k1;
  std::vector<std::uint8_t> base_ignore, gt_ig, gtm, dt_ig, crowd;
  std::vector<std::int64_t> dtm, gt_sorted_ids;
  std::vector<std::uint32_t> gorder;

  // ---- evaluate: cells in (category, image) order; the accumulation order is (image) per category
  // (cells with neither gts nor results are absent: evaluateImg returns None for them)
  for (auto& [key, cell] : cells) {
    const std::size_t k = std::size_t(key / std::uint64_t(I));
    const std::vector<std::uint32_t>& g = cell.gt;
    std::vector<std::uint32_t>& dts = cell.dt;
    std::stable_sort(dts.begin(), dts.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return results[a].score > results[b].score; });
    if (dts.size() > std::size_t(kMaxDets)) dts.resize(kMaxDets);
    const std::size_t G = g.size(), D = dts.size();
    out.num_detections += std::int64_t(D);

    // computeOks (gts in file order)
    ious.assign(D * G, 0.0);
    k1.resize(G);
    base_ignore.resize(G);
    for (std::size_t j = 0; j < G; ++j) {
      const GtAnnotation& a = gt.annotations[g[j]];
      k1[j] = labelled(a);
      base_ignore[j] = a.iscrowd || a.num_keypoints == 0;
    }
    for (std::size_t d = 0; d < D; ++d)
      for (std::size_t j = 0; j < G; ++j)
        ious[d * G + j] = oks_pair(gt.annotations[g[j]], k1[j], results[dts[d]].keypoints.data());

    for (int ar = 0; ar < kA; ++ar) {
      const double lo = kAreaRanges[ar][0], hi = kAreaRanges[ar][1];
      // gts sorted with the ignored ones last (stable)
      gorder.clear();
      for (int pass = 0; pass < 2; ++pass)
        for (std::size_t j = 0; j < G; ++j) {
          const double area = gt.annotations[g[j]].area;
          const bool ig = base_ignore[j] || area < lo || area > hi;
          if (ig == (pass == 1)) gorder.push_back(std::uint32_t(j));
        }
      gt_ig.resize(G);
      crowd.resize(G);
      gt_sorted_ids.resize(G);
      std::int64_t npig = 0;
      for (std::size_t s = 0; s < G; ++s) {
        const GtAnnotation& a = gt.annotations[g[gorder[s]]];
        gt_ig[s] = base_ignore[gorder[s]] || a.area < lo || a.area > hi;
        crowd[s] = a.iscrowd;
        gt_sorted_ids[s] = a.id;
        npig += !gt_ig[s];
      }
      gtm.assign(kT * G, 0);
      dtm.assign(kT * D, 0);
      dt_ig.assign(kT * D, 0);
      if (G > 0 && D > 0) {
        for (int t = 0; t < kT; ++t) {
          for (std::size_t d = 0; d < D; ++d) {
            double best = std::min(thr[t], 1 - 1e-10);
            std::ptrdiff_t m = -1;
            for (std::size_t s = 0; s < G; ++s) {
              if (gtm[t * G + s] && !crowd[s]) continue;  // taken, and not a crowd
              if (m > -1 && !gt_ig[std::size_t(m)] && gt_ig[s]) break;  // have a real match; only ignored left
              const double v = ious[d * G + gorder[s]];
              if (v < best) continue;
              best = v;
              m = std::ptrdiff_t(s);
            }
            if (m == -1) continue;
            dt_ig[t * D + d] = gt_ig[std::size_t(m)];
            dtm[t * D + d] = gt_sorted_ids[std::size_t(m)];  // a gt id of 0 reads as "unmatched", as in COCOeval
            gtm[t * G + std::size_t(m)] = 1;
          }
        }
      }
      Accum& A = acc[k * kA + std::size_t(ar)];
      A.npig += npig;
      for (std::size_t d = 0; d < D; ++d) {
        const double da = dt_area[dts[d]];
        const bool out_of_range = da < lo || da > hi;
        A.scores.push_back(results[dts[d]].score);
        for (int t = 0; t < kT; ++t) {
          const bool matched = dtm[t * D + d] != 0;
          const bool ig = dt_ig[t * D + d] || (!matched && out_of_range);
          A.flags.push_back(ig ? 0 : matched ? 1 : 2);
        }
      }
    }
  }

  // ---- accumulate
  const auto& rthr = recall_thresholds();
  out.category_ids = cats;
  out.precision.assign(std::size_t(kT) * kR * K * kA, -1.0);
  out.recall.assign(std::size_t(kT) * K * kA, -1.0);
  std::vector<std::uint32_t> order;
  std::vector<double> rc, pr;
  for (std::size_t k = 0; k < K; ++k) {
    for (int ar = 0; ar < kA; ++ar) {
      const Accum& A = acc[k * kA + std::size_t(ar)];
      if (A.npig == 0) continue;
      const std::size_t nd = A.scores.size();
      order.resize(nd);
      std::iota(order.begin(), order.end(), 0u);
      std::stable_sort(order.begin(), order.end(),
                       [&](std::uint32_t a, std::uint32_t b) { return A.scores[a] > A.scores[b]; });
      for (int t = 0; t < kT; ++t) {
        rc.resize(nd);
        pr.resize(nd);
        double tp = 0, fp = 0;
        for (std::size_t n = 0; n < nd; ++n) {
          const std::uint8_t f = A.flags[std::size_t(order[n]) * kT + std::size_t(t)];
          tp += f == 1;
          fp += f == 2;
          rc[n] = tp / double(A.npig);
          pr[n] = tp / (fp + tp + kEps);
        }
        out.recall[(std::size_t(t) * K + k) * kA + std::size_t(ar)] = nd ? rc[nd - 1] : 0.0;
        for (std::size_t n = nd > 0 ? nd - 1 : 0; n > 0; --n)
          if (pr[n] > pr[n - 1]) pr[n - 1] = pr[n];
        for (int r = 0; r < kR; ++r) {
          const std::size_t pi = std::size_t(std::lower_bound(rc.begin(), rc.end(), rthr[r]) - rc.begin());
          // past the last detection COCOeval's loop stops on an IndexError and leaves 0
          out.precision[((std::size_t(t) * kR + std::size_t(r)) * K + k) * kA + std::size_t(ar)] = pi < nd ? pr[pi] : 0.0;
        }
      }
    }
  }

  // ---- summarize (np.where(iouThr == iouThrs): exact equality, as numpy)
  auto summarize = [&](bool ap, std::optional<double> iou, int ar) {
    std::vector<double> s;
    for (int t = 0; t < kT; ++t) {
      if (iou && thr[t] != *iou) continue;
      if (ap) {
        for (int r = 0; r < kR; ++r)
          for (std::size_t k = 0; k < K; ++k)
            s.push_back(out.precision[((std::size_t(t) * kR + std::size_t(r)) * K + k) * kA + std::size_t(ar)]);
      } else {
        for (std::size_t k = 0; k < K; ++k) s.push_back(out.recall[(std::size_t(t) * K + k) * kA + std::size_t(ar)]);
      }
    }
    return mean_valid(s);
  };
  for (int ap = 0; ap < 2; ++ap) {
    const bool is_ap = ap == 0;
    out.stats[ap * 5 + 0] = summarize(is_ap, std::nullopt, 0);
    out.stats[ap * 5 + 1] = summarize(is_ap, 0.5, 0);
    out.stats[ap * 5 + 2] = summarize(is_ap, 0.75, 0);
    out.stats[ap * 5 + 3] = summarize(is_ap, std::nullopt, 1);
    out.stats[ap * 5 + 4] = summarize(is_ap, std::nullopt, 2);
  }
  return out;
}

Stats evaluate_keypoints(const CocoGroundTruth& gt, const std::vector<KeypointResult>& results) {
  return evaluate_keypoints_full(gt, results, std::nullopt).stats;
}

Stats evaluate_keypoints(const CocoGroundTruth& gt, const std::vector<KeypointResult>& results,
                         std::span<const std::int64_t> image_ids) {
  return evaluate_keypoints_full(gt, results, std::vector<std::int64_t>(image_ids.begin(), image_ids.end())).stats;
}

std::string format_stats(const Stats& stats) {
  std::string out;
  const auto& thr = oks_thresholds();
  char iou_all[32];
  std::snprintf(iou_all, sizeof iou_all, "%0.2f:%0.2f", thr.front(), thr.back());
  const char* ious[5] = {iou_all, "0.50", "0.75", iou_all, iou_all};
  const int areas[5] = {0, 0, 0, 1, 2};
  for (int i = 0; i < kNumStats; ++i) {
    const bool ap = i < 5;
    char line[160];
    std::snprintf(line, sizeof line, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                  ap ? "Average Precision" : "Average Recall", ap ? "(AP)" : "(AR)", ious[i % 5],
                  kAreaLabels[areas[i % 5]], kMaxDets, stats[i]);
    out += line;
  }
  return out;
}

}  // namespace hrnet::eval

// bench_group: times HigherHRNet grouping, HeatmapParser::parse (NMS + top-k + match_by_tag +
// adjust + score + refine), for one image with 30 people, on one thread (the parser has no
// threading). Prints the median and minimum; --json FILE writes them.
//
// Maps:
//   realistic       what the official pipeline groups: 1/4-resolution network-like outputs
//                   (Gaussian heatmaps, sigma 2, peak 0.4..1, over noise below the detection
//                   threshold; per-person tags 1.5 apart around each joint over a smooth background)
//                   upsampled x4 bilinearly (PROJECT2IMAGE). 10% of the joints are absent and 10%
//                   weak (0.06, below the threshold), so refine searches for many (person, joint)
//                   pairs; with 30 people the max_num_people = 30 cap also makes the official
//                   matching create extra single-joint persons, each refined too.
//   iid_worst_case  independent random tags at every pixel: no spatial coherence for refine's
//                   bounds, close to the exhaustive scan.
// Sizes: 256x256 (the < 5 ms target) and 512x512, the size official inference actually groups at
// for a square image at input size 512 (PROJECT2IMAGE resizes the maps to the input size).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <functional>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "cli.hpp"
#include "hrnet/io/safetensors.hpp"
#include "hrnet/pose/group.hpp"
#include "hrnet/ops/resize.hpp"
#include "hrnet/pose/inference.hpp"

namespace {

// CPU time of this thread: unaffected by other processes taking the core (shared machines).
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

struct Maps {
  std::int64_t J = 17, H = 0, W = 0, T = 2;
  std::vector<float> det, tag;
  std::vector<float> low_det, low_tag;  // realistic: the 1/4-resolution maps before upsampling
};

// F.interpolate(x, scale_factor=4, mode='bilinear', align_corners=False) of (C, h, w) planes
// stored (C, h, w, D) with D values per pixel.
std::vector<float> upsample4(const std::vector<float>& lo, std::int64_t C, std::int64_t h, std::int64_t w, std::int64_t D) {
  const std::int64_t H = 4 * h, W = 4 * w;
  std::vector<float> out(static_cast<std::size_t>(C * H * W * D));
  auto src = [](std::int64_t o, std::int64_t n, std::int64_t& i0, std::int64_t& i1, float& l1) {
    float s = std::max(0.25f * (static_cast<float>(o) + 0.5f) - 0.5f, 0.f);
    i0 = std::min(static_cast<std::int64_t>(s), n - 1);
    i1 = i0 + (i0 < n - 1 ? 1 : 0);
    l1 = s - static_cast<float>(i0);
  };
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t y = 0; y < H; ++y) {
      std::int64_t y0, y1;
      float ly;
      src(y, h, y0, y1, ly);
      for (std::int64_t x = 0; x < W; ++x) {
        std::int64_t x0, x1;
        float lx;
        src(x, w, x0, x1, lx);
        for (std::int64_t d = 0; d < D; ++d) {
          auto at = [&](std::int64_t yy, std::int64_t xx) { return lo[static_cast<std::size_t>(((c * h + yy) * w + xx) * D + d)]; };
          out[static_cast<std::size_t>(((c * H + y) * W + x) * D + d)] =
              (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
        }
      }
    }
  return out;
}

// Maps as the official pipeline produces them: the network's 1/4-resolution outputs (Gaussian
// heatmaps, sigma 2, over low noise; per-person tags around each joint over a smooth background)
// bilinearly upsampled x4 to the input size (PROJECT2IMAGE). People sit on a jittered 6 x 5 grid.
Maps realistic(std::int64_t size, int people, unsigned seed) {
  Maps m;
  m.H = m.W = size;
  const std::int64_t L = size / 4, J = m.J, T = m.T;
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> det(static_cast<std::size_t>(J * L * L)), tag(static_cast<std::size_t>(J * L * L * T));
  for (auto& v : det) v = 0.03f * u(gen);
  for (std::int64_t k = 0; k < J; ++k)  // smooth background embedding, a few units across the map
    for (std::int64_t y = 0; y < L; ++y)
      for (std::int64_t x = 0; x < L; ++x)
        for (std::int64_t t = 0; t < T; ++t)
          tag[static_cast<std::size_t>(((k * L + y) * L + x) * T + t)] =
              3.f * std::sin(0.07f * static_cast<float>(x + 2 * t) + 0.05f * static_cast<float>(y + k)) + 0.2f * u(gen);
  const float cw = static_cast<float>(L) / 6, ch = static_cast<float>(L) / 5, spread = 0.3f * std::min(cw, ch);
  for (int p = 0; p < people; ++p) {
    const float ptag = -22.f + 1.5f * static_cast<float>(p);
    const float cx = (static_cast<float>(p % 6) + 0.5f) * cw, cy = (static_cast<float>(p / 6) + 0.5f) * ch;
    for (std::int64_t k = 0; k < J; ++k) {
      const float r = u(gen);
      const float jx = cx + (u(gen) - 0.5f) * 2 * spread, jy = cy + (u(gen) - 0.5f) * 2 * spread;
      if (r < 0.1f) continue;  // occluded: nothing at all
      const float peak = r < 0.2f ? 0.06f : 0.4f + 0.6f * u(gen);  // 10% weak, below the threshold
      const auto ix = static_cast<std::int64_t>(jx), iy = static_cast<std::int64_t>(jy);
      for (std::int64_t y = std::max<std::int64_t>(iy - 6, 0); y <= std::min<std::int64_t>(iy + 6, L - 1); ++y)
        for (std::int64_t x = std::max<std::int64_t>(ix - 6, 0); x <= std::min<std::int64_t>(ix + 6, L - 1); ++x) {
          // centred off the pixel grid, as real responses are (no exactly tied plateaus after upsampling)
          const float dx = static_cast<float>(x) - jx, dy = static_cast<float>(y) - jy, d2 = dx * dx + dy * dy;
          const std::int64_t i = (k * L + y) * L + x;
          const float g = peak * std::exp(-d2 / 8.f);
          if (g < det[static_cast<std::size_t>(i)] || d2 > 8) continue;  // the stronger response owns the pixel
          det[static_cast<std::size_t>(i)] = g;
          for (std::int64_t t = 0; t < T; ++t) tag[static_cast<std::size_t>(i * T + t)] = ptag + 0.2f * (u(gen) - 0.5f);
        }
    }
  }
  m.low_det = det;
  m.low_tag = tag;
  m.det = upsample4(det, J, L, L, 1);
  m.tag = upsample4(tag, J, L, L, T);
  return m;
}

// Adversarial worst case: independent random tags at every pixel (no spatial coherence for the
// block bounds to use) and people overlapping at random positions.
Maps iid(std::int64_t size, int people, unsigned seed) {
  Maps m;
  m.H = m.W = size;
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const std::int64_t n = m.J * m.H * m.W;
  m.det.resize(static_cast<std::size_t>(n));
  m.tag.resize(static_cast<std::size_t>(n * m.T));
  for (auto& v : m.det) v = 0.03f * u(gen);
  for (auto& v : m.tag) v = 60.f * (u(gen) - 0.5f);
  const double scale = static_cast<double>(size) / 256.0, sigma = 2.0 * scale;
  const int rad = static_cast<int>(std::ceil(3 * sigma));
  for (int p = 0; p < people; ++p) {
    const float ptag = -22.f + 1.5f * static_cast<float>(p);
    const double cx = 20 * scale + u(gen) * (size - 40 * scale), cy = 20 * scale + u(gen) * (size - 40 * scale);
    for (std::int64_t k = 0; k < m.J; ++k) {
      const double r = u(gen);
      if (r < 0.1) continue;
      const float peak = r < 0.2 ? 0.06f : 0.4f + 0.6f * u(gen);
      const auto jx = static_cast<std::int64_t>(std::clamp(cx + (u(gen) - 0.5) * 36 * scale, 0.0, size - 1.0));
      const auto jy = static_cast<std::int64_t>(std::clamp(cy + (u(gen) - 0.5) * 36 * scale, 0.0, size - 1.0));
      for (std::int64_t y = std::max<std::int64_t>(jy - rad, 0); y <= std::min(jy + rad, m.H - 1); ++y)
        for (std::int64_t x = std::max<std::int64_t>(jx - rad, 0); x <= std::min(jx + rad, m.W - 1); ++x) {
          const double d2 = static_cast<double>((x - jx) * (x - jx) + (y - jy) * (y - jy));
          const std::int64_t i = (k * m.H + y) * m.W + x;
          const float g = peak * static_cast<float>(std::exp(-d2 / (2 * sigma * sigma)));
          m.det[static_cast<std::size_t>(i)] = std::max(m.det[static_cast<std::size_t>(i)], g);
          for (std::int64_t t = 0; t < m.T; ++t) m.tag[static_cast<std::size_t>(i * m.T + t)] = ptag + 0.2f * (u(gen) - 0.5f);
        }
    }
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json, only, dump, what_only, save_maps;  // --what NAME: one measurement (profiling)  // --only NAME:SIZE runs one case (profiling); --dump FILE: raw results

  int reps = 50;
  try {
    hrnet::cli::Args args(argc, argv);
    while (args.next()) {
      const std::string& a = args.key();
      if (a == "--help" || a == "-h") {
      std::puts("usage: bench_group [--json FILE] [--reps N] [--only NAME:SIZE] [--what ROW] [--dump FILE]\n"
                "Times HeatmapParser::parse (NMS, top-k, match_by_tag, adjust, refine) for one image with\n"
                "30 synthetic people at 256x256 and 512x512 on one thread, in rows: parse (bare maps),\n"
                "summarize, parse_with_summary, aggregate (MapAggregator::finish, which makes the summary),\n"
                "parse_after_aggregate (as inference runs it), read_maps_once (one pass over the maps,\n"
                "caches flushed); and decode:512 (everything after the network). Prints medians and, with\n"
                "--json, writes the results. --only NAME:SIZE (e.g. realistic:512, decode:512) and --what ROW\n"
                "select; --dump FILE appends the raw parse results (to compare two builds bit for bit).\n"
                "--save_maps FILE: the first case's maps and parse results as safetensors (heatmaps\n"
                "(J, H, W), tags (J, H, W, T), persons (P, J, 3 + T), scores (P)), for\n"
                "bench_group_reference.py, which times the official algorithm on them. Options may also be\n"
                "spelt in kebab-case (--save-maps).");
        return 0;
      }
      if (a == "--json") json = args.value();
      else if (a == "--reps") reps = static_cast<int>(args.integer(1));
      else if (a == "--only") only = args.value();
      else if (a == "--dump") dump = args.value();
      else if (a == "--what") what_only = args.value();
      else if (a == "--save_maps") save_maps = args.value();
      else args.unknown();
    }
  } catch (const hrnet::ValueError& e) {
    std::fprintf(stderr, "bench_group: error: %s\n", e.what());
    return 2;
  }
  struct Row {
    std::string maps, what;
    std::int64_t size;
    int runs;
    double median_ms, min_ms, median_cpu_ms;
    std::int64_t persons, filled;
  };
  std::vector<Row> rows;
  // Median wall and thread-CPU time of fn() over n runs, after one warm-up run; before() (when
  // set) runs untimed before each.
  auto time_it = [](auto&& fn, int n, double& median, double& min, double& median_cpu,
                    const std::function<void()>& before) {
    if (before) before();
    fn();
    std::vector<double> t, cpu;
    for (int i = 0; i < n; ++i) {
      if (before) before();
      const auto a = std::chrono::steady_clock::now();
      const double c0 = thread_cpu_ms();
      fn();
      cpu.push_back(thread_cpu_ms() - c0);
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    std::sort(cpu.begin(), cpu.end());
    median = t[t.size() / 2];
    min = t.front();
    median_cpu = cpu[cpu.size() / 2];
  };
  struct Case { const char* name; std::int64_t size; Maps (*make)(std::int64_t, int, unsigned); };
  const Case cases[] = {{"realistic", 256, realistic}, {"realistic", 512, realistic}, {"iid_worst_case", 256, iid}};
  for (const auto& c : cases) {
    if (!only.empty() && only != std::string(c.name) + ":" + std::to_string(c.size)) continue;
    const Maps m = c.make(c.size, 30, 7);
    const int n = c.make == iid ? std::max(1, reps / 10) : reps;
    hrnet::pose::HeatmapParser parser;
    const hrnet::pose::PoseMaps view{m.det, m.tag, m.J, m.H, m.W, m.T};
    if (!save_maps.empty()) {
      const auto g = parser.parse(view);
      auto raw = [](const float* v, std::vector<std::int64_t> shape) {
        hrnet::io::RawTensor t;
        t.shape = std::move(shape);
        t.data.resize(static_cast<std::size_t>(t.numel()) * sizeof(float));
        if (!t.data.empty()) std::memcpy(t.data.data(), v, t.data.size());
        return t;
      };
      hrnet::io::SafetensorsFile f;
      f.tensors["heatmaps"] = raw(m.det.data(), {m.J, m.H, m.W});
      f.tensors["tags"] = raw(m.tag.data(), {m.J, m.H, m.W, m.T});
      f.tensors["persons"] = raw(g.persons.data(), {g.num_people(), m.J, 3 + m.T});
      f.tensors["scores"] = raw(g.scores.data(), {g.num_people()});
      f.metadata["case"] = std::string(c.name) + ":" + std::to_string(c.size);
      hrnet::io::write_safetensors(save_maps, f);
      std::printf("wrote %s (%s)\n", save_maps.c_str(), f.metadata["case"].c_str());
      save_maps.clear();
    }
    hrnet::pose::MapSummary summary;
    hrnet::pose::summarize(view, summary);
    hrnet::pose::PoseMaps summarized = view;
    summarized.summary = &summary;
    // The aggregation that makes those maps in inference (one scale, flip test: two heatmap and
    // two tag maps of (1, J, H, W), NHWC), which also makes the summary.
    hrnet::pose::StageMaps stage;
    for (int f = 0; f < 2; ++f) {
      auto heat = hrnet::Tensor<float, hrnet::CPU>::empty({1, m.J, m.H, m.W});
      auto tag = hrnet::Tensor<float, hrnet::CPU>::empty({1, m.J, m.H, m.W});
      for (std::int64_t k = 0; k < m.J; ++k)
        for (std::int64_t p = 0; p < m.H * m.W; ++p) {
          heat[p * m.J + k] = m.det[static_cast<std::size_t>(k * m.H * m.W + p)];
          tag[p * m.J + k] = m.tag[static_cast<std::size_t>((k * m.H * m.W + p) * m.T + f % m.T)];
        }
      stage.heatmaps.push_back(heat);
      stage.tags.push_back(tag);
    }
    hrnet::pose::InferenceOptions opts;
    hrnet::pose::AggregatedMaps aggregated;
    hrnet::pose::GroupedPoses r;
    auto aggregate = [&] {  // as in a validation loop: the output buffers are reused
      hrnet::pose::MapAggregator agg(opts);
      agg.add(1.0, stage);
      agg.finish(aggregated);
    };
    // One pass over the maps (the maximum of every value, 4 lanes at a time), with the caches
    // flushed before: what any exact parse of bare maps must at least do (NMS reads every
    // heatmap value; refine's arg-max, for a person whose best score is low, every tag).
    std::vector<float> flush(std::size_t{64} << 18, 1.0f);  // 64 MB
    volatile float sink = 0;
    auto read_once = [&] {
#if defined(__SSE2__)
      __m128 a0 = _mm_set1_ps(-1e30f), a1 = a0, a2 = a0, a3 = a0;  // 4 chains: bandwidth, not latency
      for (const auto* v : {&m.det, &m.tag}) {
        const float* x = v->data();
        const std::size_t n = v->size() / 16 * 16;
        for (std::size_t i = 0; i < n; i += 16) {
          a0 = _mm_max_ps(_mm_loadu_ps(x + i), a0);
          a1 = _mm_max_ps(_mm_loadu_ps(x + i + 4), a1);
          a2 = _mm_max_ps(_mm_loadu_ps(x + i + 8), a2);
          a3 = _mm_max_ps(_mm_loadu_ps(x + i + 12), a3);
        }
      }
      float l[4];
      _mm_storeu_ps(l, _mm_max_ps(_mm_max_ps(a0, a1), _mm_max_ps(a2, a3)));
      sink = sink + l[0];
#else
      float mx = -1e30f;
      for (const auto* v : {&m.det, &m.tag})
        for (const float x : *v) mx = x > mx ? x : mx;
      sink = sink + mx;
#endif
    };
    auto flush_caches = [&] {
      for (std::size_t i = 0; i < flush.size(); i += 16) flush[i] += 1.0f;
    };
    struct What { const char* name; std::function<void()> fn, before; };
    const What whats[] = {
        {"parse", [&] { r = parser.parse(view); }, {}},
        {"summarize", [&] { hrnet::pose::summarize(view, summary); }, {}},
        {"parse_with_summary", [&] { r = parser.parse(summarized); }, {}},
        {"aggregate", aggregate, {}},
        // as inference runs it: the maps and summary just written by the aggregation (the maps,
        // 53 MB at 512x512, mostly out of cache), where the rows above reuse warm maps
        {"parse_after_aggregate", [&] { r = parser.parse(aggregated.view()); }, aggregate},
        {"read_maps_once", read_once, flush_caches},
    };
    for (const auto& w : whats) {
      if (!what_only.empty() && what_only != w.name) continue;
      Row row{c.name, w.name, c.size, n, 0, 0, 0, 0, 0};
      time_it(w.fn, n, row.median_ms, row.min_ms, row.median_cpu_ms, w.before);
      const bool parsed = std::string(w.name).rfind("parse", 0) == 0;
      if (parsed) {
        row.persons = r.num_people();
        for (std::int64_t i = 0; i < r.persons.numel(); i += 3 + m.T) row.filled += r.persons[i + 2] > 0;
      }
      if (parsed && !dump.empty()) {  // the results, bit for bit (to compare two builds)
        std::ofstream d(dump, std::ios::binary | std::ios::app);
        d.write(reinterpret_cast<const char*>(r.persons.data()), static_cast<std::streamsize>(r.persons.numel() * sizeof(float)));
        d.write(reinterpret_cast<const char*>(r.scores.data()), static_cast<std::streamsize>(r.scores.size() * sizeof(float)));
      }
      rows.push_back(row);
      std::printf("%-21s %-15s %4lldx%-4lld: median %8.3f ms (min %8.3f, median thread CPU %8.3f) over %3d runs",
                  w.name, c.name, static_cast<long long>(c.size), static_cast<long long>(c.size), row.median_ms,
                  row.min_ms, row.median_cpu_ms, n);
      if (parsed) std::printf("; %lld persons, %lld joints", static_cast<long long>(row.persons), static_cast<long long>(row.filled));
      std::printf("\n");
    }
  }
  // Everything after the network for one 512x512 input with flip test, as valid_pose runs it on
  // the CPU: the network's outputs (1/4 resolution heatmaps + tags, 1/2 resolution heatmaps, from
  // the realistic maps) through get_multi_stage_outputs (upsampling, flip back, PROJECT2IMAGE),
  // the aggregation (with the summary) and the grouping.
  if (only.empty() || only == "decode:512") {
    const std::int64_t size = 512, L = size / 4, J = 17;
    const Maps m = realistic(size, 30, 7);
    auto quarter = hrnet::Tensor<float, hrnet::CPU>::empty({1, 2 * J, L, L});
    for (std::int64_t p = 0; p < L * L; ++p)
      for (std::int64_t k = 0; k < J; ++k) {
        quarter[p * 2 * J + k] = m.low_det[static_cast<std::size_t>(k * L * L + p)];
        quarter[p * 2 * J + J + k] = m.low_tag[static_cast<std::size_t>((k * L * L + p) * m.T)];
      }
    auto low_heat = hrnet::Tensor<float, hrnet::CPU>::empty({1, J, L, L});
    for (std::int64_t p = 0; p < L * L; ++p)
      for (std::int64_t k = 0; k < J; ++k) low_heat[p * J + k] = quarter[p * 2 * J + k];
    const auto half = hrnet::ops::resize_bilinear(low_heat, 2 * L, 2 * L);
    hrnet::pose::InferenceOptions opts;
    // A network's outputs for the flipped image are the mirror image, with left and right joints
    // swapped: what the flip test undoes.
    auto mirrored = [&](const hrnet::Tensor<float, hrnet::CPU>& x) {
      const std::int64_t C = x.shape().c(), h = x.shape().h(), w = x.shape().w();
      auto y = hrnet::Tensor<float, hrnet::CPU>::empty(x.shape());
      for (std::int64_t r = 0; r < h; ++r)
        for (std::int64_t c = 0; c < w; ++c)
          for (std::int64_t ch = 0; ch < C; ++ch) {
            const std::int64_t src = (ch / J) * J + opts.flip_index[static_cast<std::size_t>(ch % J)];
            y[(r * w + c) * C + ch] = x[(r * w + (w - 1 - c)) * C + src];
          }
      return y;
    };
    const auto quarter_f = mirrored(quarter), half_f = mirrored(half);
    int calls = 0;  // get_multi_stage_outputs runs the plain image, then the flipped one
    const hrnet::pose::PoseModel model = [&](const hrnet::Tensor<float, hrnet::CPU>&) {
      return calls++ % 2 == 0 ? std::vector<hrnet::Tensor<float, hrnet::CPU>>{quarter, half}
                              : std::vector<hrnet::Tensor<float, hrnet::CPU>>{quarter_f, half_f};
    };
    const auto image = hrnet::Tensor<float, hrnet::CPU>::zeros({1, 3, size, size});
    hrnet::pose::AggregatedMaps aggregated;
    hrnet::pose::HeatmapParser parser;
    hrnet::pose::GroupedPoses r;
    std::vector<double> t_stage, t_agg, t_parse;
    auto ms_since = [](std::chrono::steady_clock::time_point a) {
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
    };
    const int n = std::max(1, reps / 5);
    std::vector<double> total;
    for (int i = 0; i <= n; ++i) {  // (the first run warms up)
      const auto a = std::chrono::steady_clock::now();
      const auto stage = hrnet::pose::get_multi_stage_outputs(model, image, opts, size, size);
      const double s1 = ms_since(a);
      const auto b = std::chrono::steady_clock::now();
      hrnet::pose::MapAggregator agg(opts);
      agg.add(1.0, stage);
      agg.finish(aggregated);
      const double s2 = ms_since(b);
      const auto c = std::chrono::steady_clock::now();
      r = parser.parse(aggregated.view());
      const double s3 = ms_since(c);
      if (i == 0) continue;
      t_stage.push_back(s1);
      t_agg.push_back(s2);
      t_parse.push_back(s3);
      total.push_back(s1 + s2 + s3);
    }
    std::sort(total.begin(), total.end());
    auto median_of = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    Row row{"realistic_network_outputs", "decode", size, n, total[total.size() / 2], total.front(), 0, r.num_people(), 0};
    for (std::int64_t i = 0; i < r.persons.numel(); i += 5) row.filled += r.persons[i + 2] > 0;
    rows.push_back(row);
    std::printf("decode (after the network) 512x512 with flip: median %8.3f ms (min %8.3f) over %d runs; medians "
                "%.3f ms upsampling and flip, %.3f ms aggregation and summary, %.3f ms grouping; %lld persons\n",
                row.median_ms, row.min_ms, n, median_of(t_stage), median_of(t_agg), median_of(t_parse),
                static_cast<long long>(row.persons));
  }
  if (!json.empty()) {
    std::ofstream f(json);
    if (!f) {
      std::fprintf(stderr, "bench_group: cannot write %s\n", json.c_str());
      return 1;
    }
    f << "{\n  \"benchmark\": \"bench_group\",\n  \"threads\": 1,\n  \"people\": 30,\n  \"results\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i)
      f << "    {\"what\": \"" << rows[i].what << "\", \"maps\": \"" << rows[i].maps << "\", \"map_size\": " << rows[i].size << ", \"runs\": " << rows[i].runs
        << ", \"median_ms\": " << rows[i].median_ms << ", \"min_ms\": " << rows[i].min_ms
        << ", \"median_thread_cpu_ms\": " << rows[i].median_cpu_ms << ", \"persons\": "
        << rows[i].persons << ", \"filled_joints\": " << rows[i].filled << "}" << (i + 1 < rows.size() ? ",\n" : "\n");
    f << "  ]\n}\n";
  }
  return 0;
}

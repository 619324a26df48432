// The official HigherHRNet training sample (see hrnet/data/pose_sample.hpp).
#include "hrnet/data/pose_sample.hpp"

#include <cstring>

#include "hrnet/data/targets.hpp"

namespace hrnet::data {

PoseSample make_pose_sample(const std::vector<std::uint8_t>& rgb, std::int64_t height, std::int64_t width,
                            const Mask& mask, const std::vector<std::vector<std::array<double, 3>>>& people,
                            const PoseAugmentation& aug, Rng& rng) {
  HRNET_CHECK(static_cast<std::int64_t>(rgb.size()) == height * width * 3, ShapeError,
              "make_pose_sample: " << rgb.size() << " bytes is not a " << height << "x" << width << " RGB image");
  HRNET_CHECK(mask.height == height && mask.width == width, ShapeError,
              "make_pose_sample: the loss mask is " << mask.height << "x" << mask.width << " but the image is " << height
                                                    << "x" << width
                                                    << " (the annotation file's image size differs from the image's)");
  HRNET_CHECK(!aug.output_sizes.empty(), ValueError, "make_pose_sample: no output sizes");
  HRNET_CHECK(static_cast<std::int64_t>(aug.flip_index.size()) == aug.num_joints, ValueError,
              "make_pose_sample: flip index has " << aug.flip_index.size() << " entries for " << aug.num_joints << " joints");
  const std::int64_t K = aug.num_joints, P = static_cast<std::int64_t>(people.size());
  auto joints = Tensor<double, CPU>::zeros({P, K, 3});
  for (std::int64_t p = 0; p < P; ++p) {
    HRNET_CHECK(static_cast<std::int64_t>(people[static_cast<std::size_t>(p)].size()) == K, ShapeError,
                "make_pose_sample: person " << p << " has " << people[static_cast<std::size_t>(p)].size()
                                            << " keypoints, expected " << K);
    for (std::int64_t k = 0; k < K; ++k)
      for (int c = 0; c < 3; ++c) joints[(p * K + k) * 3 + c] = people[static_cast<std::size_t>(p)][static_cast<std::size_t>(k)][c];
  }
  auto mask_f = Tensor<float, CPU>::empty({height, width});
  for (std::int64_t i = 0; i < height * width; ++i) mask_f[i] = static_cast<float>(mask.data[static_cast<std::size_t>(i)]);

  // RandomAffineTransform: one draw of (scale, rotation, translation), one matrix per size.
  const AffineParams a = sample_affine(height, width, rng, aug.affine);
  PoseSample s;
  std::vector<Tensor<double, CPU>> joints_at;
  for (const std::int64_t r : aug.output_sizes) {
    const Affine m = affine_matrix(a.center_x, a.center_y, a.scale, r, r, a.rotation);
    s.masks.push_back(warp_mask(mask_f, m, r, r));
    auto j = joints.clone();
    affine_joints(j, m);
    joints_at.push_back(std::move(j));
  }
  const std::int64_t S = aug.input_size;
  const Affine mi = affine_matrix(a.center_x, a.center_y, a.scale, S, S, a.rotation);
  std::vector<std::uint8_t> img = warp_affine(rgb, height, width, 3, mi, S, S, Interp::Linear);

  // RandomHorizontalFlip
  if (rng.uniform() < aug.flip_prob) {
    flip_image(img, S, S, 3);
    for (std::size_t i = 0; i < aug.output_sizes.size(); ++i) {
      flip_mask(s.masks[i]);
      flip_joints(joints_at[i], aug.flip_index, aug.output_sizes[i]);
    }
  }
  s.image = to_normalized_tensor(img, S, S);

  for (std::size_t i = 0; i < aug.output_sizes.size(); ++i) {
    const std::int64_t r = aug.output_sizes[i];
    s.heatmaps.push_back(HeatmapGenerator(r, K, aug.sigma)(joints_at[i]));
    std::int64_t dropped = 0;
    s.joints.push_back(JointsGenerator(aug.max_people, K, r)(joints_at[i], &dropped));
    if (i == 0) s.dropped_people = dropped;
  }
  return s;
}

PoseBatch collate(const std::vector<PoseSample>& samples, const std::vector<std::int64_t>& image_ids) {
  HRNET_CHECK(!samples.empty() && samples.size() == image_ids.size(), ValueError,
              "collate: " << samples.size() << " samples and " << image_ids.size() << " image ids");
  const PoseSample& s0 = samples[0];
  const std::int64_t N = static_cast<std::int64_t>(samples.size());
  const Shape& is = s0.image.shape();
  PoseBatch b;
  b.image_ids = image_ids;
  b.images = Tensor<float, CPU>::empty({N, is.c(), is.h(), is.w()});
  // (1,3,S,S) and (N,3,S,S) are both NHWC in memory: image n is one contiguous block.
  for (std::int64_t n = 0; n < N; ++n) {
    HRNET_CHECK(samples[static_cast<std::size_t>(n)].image.shape() == is, ShapeError, "collate: image sizes differ");
    std::memcpy(b.images.data() + n * is.numel(), samples[static_cast<std::size_t>(n)].image.data(),
                static_cast<std::size_t>(is.numel()) * sizeof(float));
  }
  for (std::size_t i = 0; i < s0.heatmaps.size(); ++i) {
    const std::int64_t K = s0.heatmaps[i].shape()[0], r = s0.heatmaps[i].shape()[1];
    auto hm = Tensor<float, CPU>::empty({N, K, r, r});
    auto mk = Tensor<float, CPU>::empty({N, 1, r, r});
    for (std::int64_t n = 0; n < N; ++n) {
      const PoseSample& s = samples[static_cast<std::size_t>(n)];
      HRNET_CHECK(s.heatmaps[i].shape() == s0.heatmaps[i].shape(), ShapeError, "collate: heatmap sizes differ");
      const float* src = s.heatmaps[i].data();  // (K, r, r) row-major
      float* dst = hm.data() + n * K * r * r;   // (r, r, K) for image n
      for (std::int64_t k = 0; k < K; ++k)
        for (std::int64_t p = 0; p < r * r; ++p) dst[p * K + k] = src[k * r * r + p];
      std::memcpy(mk.data() + n * r * r, s.masks[i].data(), static_cast<std::size_t>(r * r) * sizeof(float));
    }
    b.heatmaps.push_back(std::move(hm));
    b.masks.push_back(std::move(mk));
  }
  for (std::size_t i = 0; i < s0.joints.size(); ++i) {
    std::vector<Tensor<std::int64_t, CPU>> js;
    for (const auto& s : samples) js.push_back(s.joints[i]);
    b.joints.push_back(batch_joints(js));
  }
  for (const auto& s : samples) b.dropped_people += s.dropped_people;
  return b;
}

}  // namespace hrnet::data

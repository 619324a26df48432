// COCO person-keypoint annotation JSON through the dataset index (every field, id and range check)
// and the training loss mask of every image (polygons and RLE segmentations rasterised).
#include "fuzz_util.hpp"
#include "hrnet/data/coco.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hrnet;
  const auto ann = fuzz::write_input("coco/annotations/person_keypoints_fuzz.json", data, size);
  fuzz::expect_clean([&] {
    data::CocoKeypoints::Options opt;
    opt.check_images = false;                       // no image files in the scratch folder
    opt.remove_images_without_annotations = false;  // index every image
    const data::CocoKeypoints coco(ann.parent_path().parent_path(), "fuzz", opt);
    for (std::size_t i = 0; i < coco.size(); ++i) {
      (void)coco.people(i);
      const data::CocoImage& img = coco.image(i);
      // The index bounds a mask to kMaxImagePixels (128 MB); bigger than 4 Mpixels is skipped here only
      // to keep the executions fast (memset time), not because it would fail.
      if (std::int64_t(img.height) * img.width > (std::int64_t(1) << 22)) continue;
      fuzz::expect_clean([&] {
        const data::Mask m = coco.loss_mask(i);
        HRNET_FUZZ_ASSERT(m.height == img.height && m.width == img.width);
        HRNET_FUZZ_ASSERT(m.data.size() == std::size_t(img.height) * std::size_t(img.width));
      });
    }
  });
  return 0;
}

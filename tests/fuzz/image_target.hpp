// The image decoding target, shared by fuzz_jpeg and fuzz_png (one target per format, so that each
// has its own corpus and coverage): probe_image, decode_image and decode_region of the bytes.
#pragma once
#include "fuzz_util.hpp"
#include "hrnet/data/image.hpp"
#include "hrnet/data/jpeg_region.hpp"

namespace hrnet::fuzz {

inline void fuzz_image(const std::uint8_t* data, std::size_t size) {
  expect_clean([&] {
    const data::ImageInfo info = data::probe_image({data, size}, "fuzz image");
    HRNET_FUZZ_ASSERT(info.height >= 1 && info.width >= 1 && info.height <= data::kMaxImageSide &&
                      info.width <= data::kMaxImageSide && info.height * info.width <= data::kMaxImagePixels);
  });
  expect_clean([&] {
    const data::Image img = data::decode_image({data, size}, "fuzz image");
    HRNET_FUZZ_ASSERT(img.pixels.size() == std::size_t(img.height * img.width * 3));
    // the centre half of the image at a scale taken from the last byte
    const data::CropBox box{img.height / 4, img.width / 4, std::max<std::int64_t>(1, img.height / 2),
                            std::max<std::int64_t>(1, img.width / 2)};
    data::RegionDecodeOptions o;
    o.scale_num = 1 + data[size - 1] % 8;
    o.context = data[size - 1] / 64;
    const data::DecodedRegion r = data::decode_region({data, size}, "fuzz image", box, o);
    HRNET_FUZZ_ASSERT(r.pixels.height >= 1 && r.pixels.width >= 1);
    HRNET_FUZZ_ASSERT(r.y0 >= 0 && r.x0 >= 0 && r.y0 + r.pixels.height <= r.scaled_height &&
                      r.x0 + r.pixels.width <= r.scaled_width);
  });
}

}  // namespace hrnet::fuzz

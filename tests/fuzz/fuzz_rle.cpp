// COCO's compressed RLE "counts" strings: rle_from_string for a size taken from the first four bytes,
// then decode, area and the string round trip (rle_to_string must give back the same runs).
#include "fuzz_util.hpp"
#include "hrnet/data/mask.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hrnet;
  if (size < 4) return 0;
  // h, w in 0..4095 (a mask of at most 16 Mpixels)
  const int h = (data[0] | (data[1] << 8)) & 0xfff;
  const int w = (data[2] | (data[3] << 8)) & 0xfff;
  const std::string_view s(reinterpret_cast<const char*>(data + 4), size - 4);
  fuzz::expect_clean([&] {
    const data::Rle r = data::rle_from_string(s, h, w);
    HRNET_FUZZ_ASSERT(r.height == h && r.width == w);
    std::uint64_t total = 0;
    for (auto c : r.counts) total += c;
    HRNET_FUZZ_ASSERT(total == std::uint64_t(h) * std::uint64_t(w));
    const std::string again = data::rle_to_string(r);
    HRNET_FUZZ_ASSERT(data::rle_from_string(again, h, w) == r);
    if (std::uint64_t(h) * std::uint64_t(w) <= (1u << 20)) {
      const data::Mask m = data::rle_decode(r);
      HRNET_FUZZ_ASSERT(std::uint64_t(m.area()) == data::rle_area(r));
      HRNET_FUZZ_ASSERT(data::rle_decode(data::rle_encode(m)) == m);  // r may hold empty runs: compare pixels
    }
  });
  return 0;
}

// JPEG decoding (the corpus holds JPEG files; the decoder picks the format from the magic bytes).
#include "image_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hrnet::fuzz::fuzz_image(data, size);
  return 0;
}

// tf.Example protobuf parsing (varints, lengths, wire types, packed and unpacked lists, map entries)
// and the ImageNet fields. What parses must re-encode stably: encode(parse(encode(e))) == encode(e).
#include "fuzz_util.hpp"
#include "hrnet/io/tfrecord.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hrnet;
  fuzz::expect_clean([&] {
    const io::Example ex = io::parse_example({reinterpret_cast<const char*>(data), size}, "fuzz record");
    fuzz::expect_clean([&] { (void)io::imagenet_record(ex); });
    const std::string once = io::encode_example(ex);
    const io::Example back = io::parse_example(once, "re-encoded");
    HRNET_FUZZ_ASSERT(back.features.size() == ex.features.size());
    HRNET_FUZZ_ASSERT(io::encode_example(back) == once);
  });
  return 0;
}

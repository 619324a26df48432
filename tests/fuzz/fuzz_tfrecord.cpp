// TFRecord shard framing (lengths, both masked CRC32Cs, truncation) through the index and the
// reader, then each record's data as a tf.Example and an ImageNet record. A record that reads back
// must frame to exactly the bytes it came from.
#include <cstring>

#include "fuzz_util.hpp"
#include "hrnet/io/tfrecord.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hrnet;
  const auto path = fuzz::write_input("train-00000-of-00001", data, size);
  fuzz::expect_clean([&] { (void)io::TfRecordIndex::build(path, io::TfRecordIndex::Verify::kHeaders); });
  fuzz::expect_clean([&] {
    const io::TfRecordIndex index = io::TfRecordIndex::build(path);
    const io::TfRecordFile shard(index.shard());
    HRNET_FUZZ_ASSERT(shard.size() == size);
    for (const io::TfRecordRef& ref : index.records()) {
      HRNET_FUZZ_ASSERT(ref.end() <= size);
      const std::string rec = shard.read(ref.offset);
      HRNET_FUZZ_ASSERT(rec.size() == ref.length);
      const std::string framed = io::frame_tfrecord(rec);
      HRNET_FUZZ_ASSERT(framed.size() == ref.end() - ref.offset &&
                        std::memcmp(framed.data(), data + ref.offset, framed.size()) == 0);
      fuzz::expect_clean([&] {
        const io::Example ex = io::parse_example(rec, shard.where(ref.offset));
        (void)io::imagenet_record(ex);
      });
    }
  });
  return 0;
}

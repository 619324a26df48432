// safetensors: the header (length, JSON, dtypes, shapes, offsets) and the data. Every parsed tensor
// goes through from_raw, the file through a non-strict load into a small module, and a file that
// parses must survive serialize -> parse unchanged.
#include "fuzz_util.hpp"
#include "small_module.hpp"
#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"
#include "hrnet/nn/state_dict.hpp"

namespace {
using namespace hrnet;

using Small = fuzz::SmallModule;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::expect_clean([&] {
    io::SafetensorsFile f = io::parse_safetensors({data, size}, "fuzz.safetensors");
    for (const auto& kv : f.tensors) {  // (clang 14 cannot capture structured bindings)
      fuzz::expect_clean([&] {
        if (kv.second.dtype == DType::I64) (void)io::from_raw<std::int64_t>(kv.second, kv.first);
        else (void)io::from_raw<float>(kv.second, kv.first);
      });
    }
    // what the writer produces from it must read back as the same tensors
    const std::vector<std::uint8_t> bytes = io::serialize_safetensors(f);
    const io::SafetensorsFile g = io::parse_safetensors(bytes, "round trip");
    HRNET_FUZZ_ASSERT(g.metadata == f.metadata);
    HRNET_FUZZ_ASSERT(g.tensors.size() == f.tensors.size());
    for (const auto& [name, raw] : f.tensors) {
      auto it = g.tensors.find(name);
      HRNET_FUZZ_ASSERT(it != g.tensors.end());
      HRNET_FUZZ_ASSERT(it->second.dtype == raw.dtype && it->second.shape == raw.shape && it->second.data == raw.data);
    }
    Small m;
    fuzz::expect_clean([&] { (void)nn::load_state_dict(m, f, false, "fuzz.safetensors"); });
  });
  return 0;
}

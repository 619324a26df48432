// Tensor, dtype, shape and RNG basics.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "hrnet/core/host_memory.hpp"
#include "hrnet/core/rng.hpp"
#include "hrnet/backend/cuda_runtime.hpp"
#include "hrnet/core/tensor.hpp"
#include "test_util.hpp"

using namespace hrnet;

TEST_CASE("half converts exactly and rounds to nearest even", "[core][dtype]") {
  CHECK(half(1.0f).bits == 0x3c00);
  CHECK(half(-2.0f).bits == 0xc000);
  CHECK(half(65504.0f).bits == 0x7bff);
  CHECK(half(65520.0f).bits == 0x7c00);           // halfway to the next binade rounds to inf
  CHECK(half(5.960464477539063e-08f).bits == 0x0001);  // smallest subnormal
  CHECK(half(1.0f + 1.0f / 2048).bits == 0x3c00);  // tie, rounds to even
  CHECK(half(1.0f + 3.0f / 2048).bits == 0x3c02);  // tie, rounds to even (up)
  CHECK(std::isnan(static_cast<float>(half(NAN))));
  for (std::uint32_t b = 0; b < 0x7c00; ++b) {  // every finite half survives a round trip
    half h;
    h.bits = static_cast<std::uint16_t>(b);
    REQUIRE(half(static_cast<float>(h)).bits == b);
  }
}

TEST_CASE("bfloat16 converts with round to nearest even", "[core][dtype]") {
  CHECK(bfloat16(1.0f).bits == 0x3f80);
  CHECK(static_cast<float>(bfloat16(3.140625f)) == 3.140625f);
  CHECK(bfloat16(1.0f + 1.0f / 256).bits == 0x3f80);  // tie -> even
  CHECK(bfloat16(1.0f + 3.0f / 256).bits == 0x3f82);
}

TEST_CASE("tensor layout is NHWC for 4-D shapes", "[core][tensor]") {
  auto t = Tensor<float, CPU>::zeros({2, 3, 4, 5});
  CHECK(t.numel() == 120);
  t.at(1, 2, 3, 4) = 7.0f;
  CHECK(t[((1 * 4 + 3) * 5 + 4) * 3 + 2] == 7.0f);
  std::vector<float> nchw(120), back(120);
  for (int i = 0; i < 120; ++i) nchw[i] = float(i);
  auto u = Tensor<float, CPU>::empty({2, 3, 4, 5});
  nchw_to_nhwc(nchw.data(), u.data(), u.shape());
  CHECK(u.at(1, 2, 3, 4) == nchw[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
  nhwc_to_nchw(u.data(), back.data(), u.shape());
  CHECK(back == nchw);
}

TEST_CASE("tensor storage is shared and reference counted and clone copies", "[core][tensor]") {
  auto a = Tensor<float, CPU>::full({4, 3}, 1.0f);
  auto b = a;
  CHECK(a.use_count() == 2);
  b[0] = 5.0f;
  CHECK(a[0] == 5.0f);
  auto c = a.clone();
  c[0] = 9.0f;
  CHECK(a[0] == 5.0f);
  auto s = a.slice0(1, 3);  // a view: rows 1 and 2
  CHECK(s.shape() == Shape({2, 3}));
  s[0] = 4.0f;
  CHECK(a[3] == 4.0f);
  CHECK(a.use_count() == 3);
  static_assert(!std::is_copy_constructible_v<Buffer<CUDA>>, "GPU buffers are move-only");
  static_assert(std::is_move_constructible_v<Buffer<CUDA>>);
}

TEST_CASE("wrap makes a non-owning view", "[core][tensor]") {
  std::vector<double> mem(6, 2.0);
  auto t = Tensor<double, CPU>::wrap(mem.data(), {2, 3});
  CHECK_FALSE(t.owns_storage());
  t[5] = 3.0;
  CHECK(mem[5] == 3.0);
}

TEST_CASE("shape errors are clear exceptions", "[core][tensor]") {
  auto t = Tensor<float, CPU>::zeros({2, 3, 4, 5});
  hrnet::test::check_throws<ShapeError>([&] { (void)(t.reshape({2, 60})); }, "reorder channels-last");
  hrnet::test::check_throws<ShapeError>([&] { (void)(t.reshape({7})); }, "120 elements");
  CHECK_NOTHROW(Tensor<float, CPU>::zeros({2, 3, 1, 1}).reshape({2, 3}));
  hrnet::test::check_throws<ShapeError>([&] { (void)(t.slice0(1, 5)); }, "out of range");
  CHECK_THROWS_AS((Shape({1, 2, 3, 4, 5})), ShapeError);
  hrnet::test::check_throws<ShapeError>([&] { (void)(Tensor<float, CPU>::from_vector({2, 2}, {1, 2, 3})); }, "holds 4 elements but 3");
}

TEST_CASE("Shape refuses element counts that overflow int64, even with a zero dimension (S2)", "[core][tensor]") {
  const std::int64_t big = std::int64_t(1) << 62;
  // numel() multiplies in order: [2^62, 2^62, 0] would overflow before reaching the 0
  test::check_throws<ShapeError>([&] { (void)Shape({big, big, 0}); }, "overflows int64 at dimension 1");
  test::check_throws<ShapeError>([&] { (void)Shape(std::vector<std::int64_t>{4, big, 2}); }, "overflows int64");
  CHECK(Shape({big, 0, 1}).numel() == 0);
  CHECK(Shape({big, 1, 0}).numel() == 0);
  CHECK(Shape({big, 1}).numel() == big);
  CHECK(Shape({3, 0, big / 2}).numel() == 0);
  test::check_throws<ShapeError>([&] { (void)Shape({3, 0, big}); }, "overflows int64 at dimension 2");
}

TEST_CASE("cast converts between storage dtypes", "[core][tensor]") {
  auto t = Tensor<float, CPU>::from_vector({3}, {1.5f, -2.25f, 65504.0f});
  auto h = cast<half>(t);
  auto back = cast<float>(h);
  CHECK(back.to_vector() == t.to_vector());
  auto b = cast<bfloat16>(t);
  CHECK(static_cast<float>(b[0]) == 1.5f);
}

TEST_CASE("rng is deterministic and well distributed", "[core][rng]") {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) REQUIRE(a.next_u64() == b.next_u64());
  Rng r(7);
  double s = 0, s2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double x = r.normal();
    s += x;
    s2 += x * x;
  }
  CHECK(std::abs(s / n) < 0.03);
  CHECK(std::abs(s2 / n - 1.0) < 0.05);
  auto st = r.state();
  const double next = r.normal();
  r.set_state(st);
  CHECK(r.normal() == next);
}

TEST_CASE("CUDA tensors without a usable GPU fail with a clear CudaError", "[core][cuda]") {
  if (cuda::device_count() > 0) {
    WARN("skipped: a GPU is present, so the no-GPU failure path is not exercised");
    return;
  }
  CHECK_THROWS_AS((Tensor<float, CUDA>::zeros({2, 2})), CudaError);
}

TEST_CASE("host_allocate: aligned blocks of any size, huge-page aligned from 2 MiB, large ones reused", "[core][memory]") {
  for (const std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{4096},
                                  (std::size_t{2} << 20) - 1, std::size_t{2} << 20, (std::size_t{5} << 20) + 3}) {
    void* p = host_allocate(bytes);
    REQUIRE(p != nullptr);
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    CHECK(a % 64 == 0);
    if (bytes >= (std::size_t{2} << 20)) CHECK(a % (std::size_t{2} << 20) == 0);
    std::memset(p, 0x5a, bytes);  // every byte is ours (ASan checks the bounds)
    host_free(p, bytes);
  }
  host_free(nullptr, 0);
  // A freed large block comes back for the next request of the same rounded size (when this build
  // caches: not under AddressSanitizer, nor with HRNET_HOST_CACHE_MB=0), and the release empties it.
  const std::size_t big = (std::size_t{6} << 20) + 100;
  void* a = host_allocate(big);
  const std::size_t before = host_cache_bytes();
  host_free(a, big);
  if (host_cache_enabled()) {
    CHECK(host_cache_bytes() == before + (std::size_t{8} << 20));
    void* b = host_allocate(big - 50);  // same 2 MiB-rounded size
    CHECK(b == a);
    CHECK(host_cache_bytes() == before);
    void* c = host_allocate(std::size_t{10} << 20);  // another size: a new block
    CHECK(c != a);
    host_free(b, big - 50);
    host_free(c, std::size_t{10} << 20);
    host_cache_release();
    CHECK(host_cache_bytes() == 0);
  } else {
    CHECK(host_cache_bytes() == 0);
    WARN("host memory cache disabled in this build or environment: reuse not checked");
  }
  // Past the limit (the default 1 GiB here) the block freed longest ago goes first. (Address space
  // only: the blocks are never touched.)
  if (host_cache_enabled() && std::getenv("HRNET_HOST_CACHE_MB") == nullptr) {
    host_cache_release();
    const std::size_t a_size = std::size_t{600} << 20, b_size = std::size_t{602} << 20;
    void* pa = host_allocate(a_size);
    void* pb = host_allocate(b_size);
    host_free(pa, a_size);
    CHECK(host_cache_bytes() == a_size);
    host_free(pb, b_size);  // 1202 MiB > 1024: the older block is released
    CHECK(host_cache_bytes() == b_size);
    CHECK(host_allocate(b_size) == pb);
    CHECK(host_cache_bytes() == 0);
    host_free(pb, b_size);
    host_cache_release();
  }
  // tensors go through it too: a large tensor's storage is reused after it dies
  if (host_cache_enabled()) {
    const float* first = nullptr;
    {
      auto t = Tensor<float, CPU>::empty({1, 17, 256, 256});
      first = t.data();
    }
    auto u = Tensor<float, CPU>::empty({1, 17, 256, 256});
    CHECK(u.data() == first);
  }
  // as a container's allocator: growth keeps the values
  std::vector<float, HostAllocator<float>> v;
  for (int i = 0; i < 1 << 20; ++i) v.push_back(static_cast<float>(i));  // 4 MiB
  CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % 64 == 0);
  bool same = true;
  for (int i = 0; i < 1 << 20; ++i) same = same && v[static_cast<std::size_t>(i)] == static_cast<float>(i);
  CHECK(same);
  CHECK_THROWS_AS(HostAllocator<double>().allocate(static_cast<std::size_t>(-1) / 4), std::bad_array_new_length);
  CHECK_THROWS_AS(host_allocate(static_cast<std::size_t>(-1) - 100), std::bad_alloc);  // no wrap to a small block
}

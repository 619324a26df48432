// Per-thread cuDNN/cuBLAS handles, cuDNN descriptors and the process-wide library settings.
#include <atomic>
#include <limits>
#include <mutex>
#include <vector>

#include "handles.cuh"

namespace hrnet::gpu {

// ---- settings ----------------------------------------------------------------------------------------
namespace {
std::atomic<bool> g_benchmark{true};
std::atomic<bool> g_deterministic{false};
std::atomic<bool> g_allow_tf32{false};
}  // namespace

void set_cudnn_benchmark(bool on) { g_benchmark.store(on, std::memory_order_relaxed); }
void set_deterministic(bool on) { g_deterministic.store(on, std::memory_order_relaxed); }
void set_allow_tf32(bool on) { g_allow_tf32.store(on, std::memory_order_relaxed); }
bool cudnn_benchmark() { return g_benchmark.load(std::memory_order_relaxed); }
bool deterministic() { return g_deterministic.load(std::memory_order_relaxed); }
bool allow_tf32() { return g_allow_tf32.load(std::memory_order_relaxed); }

namespace detail {

int current_device_index() {
  int d = 0;
  HRNET_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

int to_int(std::int64_t v, const char* what) {
  HRNET_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), ShapeError,
              what << ": size " << v << " does not fit the 32-bit sizes of cuDNN/cuBLAS");
  return static_cast<int>(v);
}

namespace {

// Handles of one kind: a never-destroyed pool of free (device, handle) pairs, and per thread the
// pairs it holds, returned to the pool when the thread exits.
template <class H>
struct Pool {
  std::mutex m;
  std::vector<std::pair<int, H>> free;
};

template <class H>
Pool<H>& pool() {
  static auto* p = new Pool<H>;  // intentionally leaked: outlives every thread_local user
  return *p;
}

template <class H, class Create>
class ThreadHandles {
 public:
  explicit ThreadHandles(Create create) : create_(create) {}
  ~ThreadHandles() {
    auto& p = pool<H>();
    std::lock_guard<std::mutex> lock(p.m);
    for (auto& e : held_) p.free.push_back(e);
  }
  ThreadHandles(const ThreadHandles&) = delete;
  ThreadHandles& operator=(const ThreadHandles&) = delete;

  H get(int dev) {
    for (auto& [d, h] : held_)
      if (d == dev) return h;
    H h{};
    {
      auto& p = pool<H>();
      std::lock_guard<std::mutex> lock(p.m);
      for (auto it = p.free.begin(); it != p.free.end(); ++it)
        if (it->first == dev) {
          h = it->second;
          p.free.erase(it);
          break;
        }
    }
    if (!h) h = create_();  // the current device is `dev`
    held_.emplace_back(dev, h);
    return h;
  }

 private:
  Create create_;
  std::vector<std::pair<int, H>> held_;
};

cudnnHandle_t make_cudnn() {
  cudnnHandle_t h = nullptr;
  HRNET_CUDNN_CHECK(cudnnCreate(&h));
  return h;
}
cublasHandle_t make_cublas() {
  cublasHandle_t h = nullptr;
  HRNET_CUBLAS_CHECK(cublasCreate(&h));
  // fp32 accumulation all the way: no reduced-precision split-K reductions for 16-bit outputs.
  HRNET_CUBLAS_CHECK(
      cublasSetMathMode(h, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
  return h;
}

// Recommended cuBLAS workspace for Hopper; enough for earlier architectures too.
constexpr std::size_t kCublasWorkspace = std::size_t{32} << 20;

}  // namespace

cudnnHandle_t cudnn_handle(Stream s) {
  thread_local ThreadHandles<cudnnHandle_t, cudnnHandle_t (*)()> handles(make_cudnn);
  cudnnHandle_t h = handles.get(current_device_index());
  HRNET_CUDNN_CHECK(cudnnSetStream(h, raw(s)));
  return h;
}

cublasHandle_t cublas_handle(Stream s) {
  thread_local ThreadHandles<cublasHandle_t, cublasHandle_t (*)()> handles(make_cublas);
  cublasHandle_t h = handles.get(current_device_index());
  HRNET_CUBLAS_CHECK(cublasSetStream(h, raw(s)));
  // After cublasSetStream, which resets the workspace: a per-stream block, so GEMMs queued on other
  // streams by this thread never share scratch memory.
  HRNET_CUBLAS_CHECK(cublasSetWorkspace(h, workspace(kCublasWorkspace, s), kCublasWorkspace));
  return h;
}

// ---- descriptors -----------------------------------------------------------------------------------------
TensorDesc::TensorDesc(cudnnDataType_t type, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  HRNET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(get(), CUDNN_TENSOR_NHWC, type, to_int(n, "cuDNN tensor"),
                                               to_int(c, "cuDNN tensor"), to_int(h, "cuDNN tensor"),
                                               to_int(w, "cuDNN tensor")));
}

FilterDesc::FilterDesc(cudnnDataType_t type, std::int64_t k, std::int64_t c, std::int64_t r, std::int64_t s) {
  HRNET_CUDNN_CHECK(cudnnSetFilter4dDescriptor(get(), type, CUDNN_TENSOR_NHWC, to_int(k, "cuDNN filter"),
                                               to_int(c, "cuDNN filter"), to_int(r, "cuDNN filter"),
                                               to_int(s, "cuDNN filter")));
}

ConvDesc::ConvDesc(int stride, int pad, cudnnMathType_t math) {
  HRNET_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(get(), pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                    CUDNN_DATA_FLOAT));
  HRNET_CUDNN_CHECK(cudnnSetConvolutionMathType(get(), math));
}

ActivationDesc::ActivationDesc() {
  HRNET_CUDNN_CHECK(cudnnSetActivationDescriptor(get(), CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
}

}  // namespace detail
}  // namespace hrnet::gpu

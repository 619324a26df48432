// Smallest possible hrnet consumer: used by run_downstream.cmake to check that an installed (or
// add_subdirectory'd) hrnet::hrnet is usable from another project.
#include <cstdint>
#include <cstdlib>
#include <iostream>

#include "hrnet/core/tensor.hpp"

int main() {
  auto t = hrnet::Tensor<float, hrnet::CPU>::zeros({2, 3, 4, 5});
  if (t.numel() != 120) {
    std::cerr << "downstream FAILED: numel() = " << t.numel() << ", expected 120\n";
    return EXIT_FAILURE;
  }
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (t.data()[i] != 0.0f) {
      std::cerr << "downstream FAILED: element " << i << " is not zero\n";
      return EXIT_FAILURE;
    }
  }
  std::cout << "downstream ok\n";
  return EXIT_SUCCESS;
}

# CUDA-vs-CPU parity tests (issue 3): one Catch2 program per area, tests/cuda/test_cuda_<area>.cpp.
# Each GPU test case prints "skipped: <why>" without a GPU, which ctest reports as Skipped; the
# host-side checks of the shared per-element math in these files run everywhere.
# A build without CUDA cannot link them (the gpu:: kernels do not exist there): one entry then
# reports the whole group as skipped.
file(GLOB _hrnet_cuda_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cuda/test_cuda_*.cpp)
if(HRNET_WITH_CUDA)
  foreach(_src IN LISTS _hrnet_cuda_tests)
    get_filename_component(_n ${_src} NAME_WE)
    hrnet_add_test(${_n} ${_src})
    target_include_directories(${_n} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/cuda)
    target_compile_definitions(${_n} PRIVATE HRNET_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  endforeach()
else()
  add_test(NAME cuda_parity_tests
    COMMAND ${CMAKE_COMMAND} -E echo "skipped: hrnet was built without CUDA (HRNET_WITH_CUDA=OFF)")
  set_tests_properties(cuda_parity_tests PROPERTIES SKIP_REGULAR_EXPRESSION "skipped: " LABELS cuda)
endif()

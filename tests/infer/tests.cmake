# Inference (issue 6): Hungarian solver, HigherHRNet grouping, multi-scale/flip aggregation and
# final predictions. Fixtures live in tests/infer/data (generators: tests/infer/make_*_fixtures.py).
foreach(_t IN ITEMS hungarian group inference)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/infer/test_${_t}.cpp)
    hrnet_add_test(test_infer_${_t} infer/test_${_t}.cpp)
    target_compile_definitions(test_infer_${_t} PRIVATE HRNET_INFER_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/infer/data")
  endif()
endforeach()

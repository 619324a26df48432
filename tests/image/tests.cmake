# Image files, drawing and the synthetic pose dataset (included from tests/CMakeLists.txt).
# Oracles: cv2_reference.py (OpenCV decoding) and check_pycocotools.py; each test that needs one
# reports itself as skipped when python3 lacks the module. $HRNET_PYTHON overrides python3.
hrnet_add_test(test_image
  ${CMAKE_CURRENT_LIST_DIR}/test_image_io.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_draw.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_synthetic.cpp)
target_include_directories(test_image PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(test_image PRIVATE
  HRNET_SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data"
  HRNET_IMAGE_TEST_DIR="${CMAKE_CURRENT_LIST_DIR}")
target_compile_options(test_image PRIVATE -Wall -Wextra)

# The make_synthetic tool's command line (test cases in test_synthetic.cpp).
if(TARGET make_synthetic)
  target_compile_definitions(test_image PRIVATE HRNET_MAKE_SYNTHETIC="$<TARGET_FILE:make_synthetic>")
  add_dependencies(test_image make_synthetic)
endif()

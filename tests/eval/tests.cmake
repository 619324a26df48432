# COCO keypoint evaluation (pycocotools-exact): the library and the coco_eval tool.
# Expected values come from tests/eval/make_eval_fixtures.py (pycocotools) in tests/eval/data/.
hrnet_add_test(test_coco_eval eval/test_coco_eval.cpp)
target_compile_definitions(test_coco_eval PRIVATE
  HRNET_SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data"
  HRNET_EVAL_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}/data")

if(TARGET coco_eval)
  # exit codes, printed lines and the --json file, run through the real binary
  hrnet_add_test(test_coco_eval_cli eval/test_coco_eval_cli.cpp)
  add_dependencies(test_coco_eval_cli coco_eval)
  target_compile_definitions(test_coco_eval_cli PRIVATE
    HRNET_COCO_EVAL_BIN="$<TARGET_FILE:coco_eval>"
    HRNET_EVAL_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}/data")
  add_test(NAME coco_eval_help COMMAND coco_eval --help)
  set_tests_properties(coco_eval_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: coco_eval --gt ANNOTATIONS.json --dt RESULTS.json")
  add_test(NAME coco_eval_missing_dt COMMAND coco_eval --gt ${CMAKE_CURRENT_LIST_DIR}/data/random_a_gt.json)
  set_tests_properties(coco_eval_missing_dt PROPERTIES WILL_FAIL TRUE)
  add_test(NAME coco_eval_bad_gt COMMAND coco_eval --gt ${CMAKE_CURRENT_LIST_DIR}/data/no_such_file.json
                                                  --dt ${CMAKE_CURRENT_LIST_DIR}/data/random_a_results.json)
  set_tests_properties(coco_eval_bad_gt PROPERTIES WILL_FAIL TRUE)
  add_test(NAME coco_eval_random_a COMMAND coco_eval --gt ${CMAKE_CURRENT_LIST_DIR}/data/random_a_gt.json
                                                     --dt ${CMAKE_CURRENT_LIST_DIR}/data/random_a_results.json)
  set_tests_properties(coco_eval_random_a PROPERTIES PASS_REGULAR_EXPRESSION
    "^ Average Precision  \\(AP\\) @\\[ IoU=0\\.50:0\\.95 \\| area=   all \\| maxDets= 20 \\] = 0\\.[0-9][0-9][0-9]\n.* Average Recall     \\(AR\\) @\\[ IoU=0\\.50:0\\.95 \\| area= large \\| maxDets= 20 \\] = [01]\\.[0-9][0-9][0-9]\n$")
endif()

# Pose trainer: logs (CSV, TensorBoard), checkpoints, resume, the train_pose tool.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/logs.cmake)
  include(${CMAKE_CURRENT_LIST_DIR}/logs.cmake)
endif()
hrnet_add_test(test_trainer train/test_trainer.cpp)
target_compile_definitions(test_trainer PRIVATE HRNET_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
if(TARGET train_pose AND TARGET make_synthetic)
  add_test(NAME train_pose_end_to_end
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/train/train_e2e.sh $<TARGET_FILE_DIR:train_pose> ${PROJECT_SOURCE_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/train_e2e)
  set_tests_properties(train_pose_end_to_end PROPERTIES TIMEOUT 1200 LABELS "train")
endif()
